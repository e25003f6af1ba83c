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
        notes="work in progress",
    )
)
