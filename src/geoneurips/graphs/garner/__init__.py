"""Garner (arXiv 2406.04038): road network representation learning with the Third Law."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="garner",
        family="graphs",
        status="partial",
        summary=(
            "road segments from OSM extracts (osmnx), GraphML or road GeoJSON; the published "
            "road features; road graph, PPR-diffusion and street-view kNN views; First- and "
            "Third-Law contrastive terms with shuffled-feature and random-regular-graph "
            "negatives; induced-subgraph training; road-function and speed probes"
        ),
        demo="geoneurips.graphs.garner.pipeline:demo",
        dataset="geoneurips.graphs.garner.data:GarnerCity",
        model="geoneurips.graphs.garner.model:Garner",
        commands={"road-embed": "geoneurips.graphs.garner.cli:road_embed"},
        notes=(
            "Garner does not beat the strongest baseline. Synthetic Third-Law city (road "
            "function follows a street-view configuration type that recurs across the city, "
            "in small patches; every method sees the same road and street-view features), "
            "road-function macro-F1 over random 80/20 splits, Garner / raw features + "
            "logistic / raw + 2-hop road-graph neighbourhood means + logistic / DGI / MVGRL "
            "/ ablation (raw + road-graph + street-view-kNN means, no learning): quick seeds "
            "0,1,2: 0.741/0.799/0.856/0.496/0.669/0.900, 0.717/0.750/0.867/0.513/0.600/0.886, "
            "0.653/0.790/0.839/0.539/0.639/0.855; full seeds 0,1,2: "
            "0.679/0.834/0.868/0.564/0.635/0.897, 0.688/0.801/0.842/0.514/0.660/0.879, 0.615/0.825/0.847/0.513/0.622/0.874. "
            "The Third-Law view carries information beyond the graph structure (the kNN view "
            "as plain averaged features is the best of all; Garner > DGI by 0.10-0.25 on every "
            "run) but Garner's gain over MVGRL, its ablation without the Third-Law view, is "
            "small and not robust (quick +0.072/+0.117/+0.014, full +0.044/+0.028/-0.007), "
            "and the contrastive embeddings (128-d here, 60-120 epochs; the "
            "paper: 512-d, 2500 epochs on 4000-segment subgraphs) lose information that "
            "linear probes on the raw features keep; the speed probes on every embedding are "
            "far worse than on raw features (R2 about 0 vs 0.8). With 256-d embeddings and "
            "100 epochs (too slow for the demo on 2 shared cores) the quick seed-0 city gave "
            "Garner 0.816 / MVGRL 0.775 / DGI not run / raw + neighbourhood 0.856. "
            "Street-view features: no images or vision weights are available offline, so the "
            "demo uses synthetic features and road-embed takes a user-given per-segment file "
            "(.pt as published, .npy, .npz); the drivable filter is OSMnx's highway list "
            "without its service/access exclusions; probes standardise their inputs and the "
            "speed probe starts its bias at the training mean (documented in evaluate.py); "
            "probe runs are 3 (quick) / 5 (full) instead of 30. Demo wall time on the shared, "
            "heavily loaded 2-core machine: quick 108-148 s, full 106-127 s."
        ),
    )
)
