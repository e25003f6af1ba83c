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
            "accuracy at 1/25/200/750/2500 km, geoneurips geolocate"
        ),
        demo="geoneurips.location.g3.pipeline:demo",
        dataset="geoneurips.location.g3.data:MP16Pro",
        model="geoneurips.location.g3.model:G3Model",
        commands={"geolocate": "geoneurips.location.g3.cli:geolocate"},
        notes=(
            "demo does not beat its strongest baseline: on a synthetic photo world over "
            "GeoCLIP's real 100k gallery (same JPEGs and frozen tiny image tower for every "
            "method), G3 reaches acc@25km 0.315/0.325/0.305 (quick, seeds 0-2) and "
            "0.448/0.445/0.470 (full, seeds 0-2) against retrieval-only top-1 on raw features "
            "0.440/0.415/0.410 and 0.535/0.560/0.558; it does beat GeoCLIP-style gallery "
            "matching (0.205/0.195/0.185; full 0.268/0.240/0.285) by 0.11-0.21. Geo-verification "
            "with the image-GPS alignment learned on a few thousand records (capsules frozen "
            "on a CPU; the paper fine-tunes them on 4.7M images) ranks retrieved places worse "
            "than image-image similarity (fine-tuning the capsules too, quick seed 0: G3 "
            "0.330 vs 0.440; 40 epochs: 0.300; lr 3e-4: 0.320). The LMM in the demo and by default in geolocate "
            "is a rule-based stand-in (NeighbourVoteLMM: no image, votes among the retrieved "
            "coordinates), not the paper's GPT-4V, so the LMM's knowledge is untested; "
            "G3 with it is within 0.035 of the top-15 kNN vote (0.320/0.290/0.305). No MP16-Pro or im2gps3k "
            "file is in the shared data (readers tested on our writer and the GeoCLIP "
            "gallery); the MP16-Pro image tar is read only when extracted; the transformers "
            "LMM is tested only through its missing-folder error; towers are tiny random "
            "(tests) or a local CLIP folder; the demo uses 256-d heads and lr 1e-3"
        ),
    )
)
