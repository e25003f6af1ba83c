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
        notes=(
            "demo: on unseen synthetic grids GOMAA-Geo (GASP + PPO) beats the strongest "
            "baseline (greedy similarity with neighbour look-ahead, or a memoryless MLP on "
            "the same GASP data) by 0.10-0.16 SR on seeds 0-2 (quick and full); missing for "
            "'working': zero-shot ground goals through the CLIP-aligned linear head stay "
            "below greedy similarity on seeds 1-2 (SR 0.46-0.57 vs 0.61-0.63; above it on "
            "seed 0: 0.62-0.64 vs 0.59-0.61), explained in the demo; the PPO stage adds "
            "nothing over the GASP head alone at this size (gasp_only ablation 0.79-0.88 vs "
            "0.75-0.88); "
            "no published embedding file was available to test the reader (numpy's own "
            "np.save of a dict is the independent writer); Falcon blocks are replaced by "
            "a pre-LN torch transformer, Sat2Cap/CLIP towers by given embeddings + a linear "
            "aligner; demo trains a tiny model with larger learning rates"
        ),
    )
)
