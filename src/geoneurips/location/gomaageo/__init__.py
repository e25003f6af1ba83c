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
            "pretraining and PPO (640-step buffers, body frozen), aerial encoder and MiniLM "
            "text head CLIP-trained into one frozen goal space, success ratio at the budget"
        ),
        demo="geoneurips.location.gomaageo.pipeline:demo",
        dataset="geoneurips.location.gomaageo.data:GomaaGeoGrids",
        model="geoneurips.location.gomaageo.model:SequenceModel",
        commands={"gomaa-convert": "geoneurips.location.gomaageo.cli:gomaa_convert"},
        notes=(
            "demo (SR budget 10, C=4..8, unseen grids, seeds 0/1/2): aerial goals GOMAA-Geo "
            "0.777/0.697/0.738 quick, 0.856/0.798/0.777 full, beat the strongest baseline "
            "(memoryless MLP on the same GASP data, or greedy similarity with neighbour "
            "look-ahead: 0.662/0.619/0.631 quick, 0.704/0.655/0.709 full) by 0.07-0.15; "
            "missing for 'working': the zero-shot modalities do not beat greedy similarity "
            "given the same aligned goals: ground 0.571/0.495/0.592 vs 0.593/0.639/0.580 "
            "quick, 0.550/0.519/0.569 vs 0.592/0.614/0.592 full; text (real MiniLM, unseen "
            "phrasing) 0.424/0.416/0.401 vs 0.731/0.549/0.636 quick, 0.369/0.316/0.375 vs "
            "0.645/0.517/0.649 full. Measured causes: the contrastive heads leave a "
            "0.28-0.30 relative error (loss < 0.01: pairs already told apart), and the "
            "aerial-trained policy reads the goal relative to the test image's own "
            "appearance, which a text goal lacks (appearance removed from aerial goals: "
            "0.70 -> 0.37 on quick seed 1; greedy unaffected). PPO vs the GASP head alone: "
            "0.777/0.697/0.738 vs 0.778/0.661/0.710 quick, 0.856/0.798/0.777 vs "
            "0.874/0.795/0.774 full (seed 1 quick: 300 instead of 60 updates 0.709 vs "
            "0.697; published lr 1e-4 for 300 updates 0.663 vs GASP 0.661); "
            "the demo uses PPO lr 3e-3, decay 0.99, 60/100 updates of >= 640 steps (paper "
            "1e-4, 0.9999, up to 1e8 steps); no published embedding file was available to "
            "test the reader (numpy's own np.save of a dict is the independent writer); "
            "Falcon blocks are replaced by a pre-LN torch transformer, Sat2Cap/CLIP towers "
            "by given embeddings + linear CLIP-trained heads; the demo trains a tiny model "
            "with larger learning rates"
        ),
    )
)
