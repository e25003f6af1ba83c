"""GOMAA-Geo (arXiv 2406.01917): goal-modality-agnostic active geo-localisation."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="gomaageo",
        family="location",
        status="partial",
        summary=(
            "5x5 patch-embedding search grids as a gymnasium environment (published reward "
            "with its squared/Manhattan quirk, invalid-move masking, budget 10), restricted "
            "loader for the pickled embedding dicts, causal-transformer policy with GASP "
            "pretraining and PPO, CLIP-style modality aligner, success ratio at the budget"
        ),
        demo="geoneurips.location.gomaageo.pipeline:demo",
        dataset="geoneurips.location.gomaageo.data:GomaaGeoGrids",
        model="geoneurips.location.gomaageo.model:SequenceModel",
        commands={"gomaa-convert": "geoneurips.location.gomaageo.cli:gomaa_convert"},
        notes="work in progress",
    )
)
