"""G3 (arXiv 2405.14702): retrieval-augmented worldwide geolocalisation with a multimodal LLM."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="g3",
        family="location",
        status="partial",
        summary=(
            "MP16-Pro / im2gps3k / YFCC readers (im2gps3k LAT/LON swap detected), "
            "geo-alignment with GeoCLIP's pretrained GPS capsules on Web-Mercator input, "
            "faiss retrieval with reverse neighbours, zero-shot and RAG prompts to an "
            "OpenAI-compatible or local transformers LMM, geo-verification, im2gps "
            "accuracy at 1/25/200/750/2500 km"
        ),
        demo="geoneurips.location.g3.pipeline:demo",
        dataset="geoneurips.location.g3.data:MP16Pro",
        model="geoneurips.location.g3.model:G3Model",
        commands={"geolocate": "geoneurips.location.g3.cli:geolocate"},
        notes="work in progress",
    )
)
