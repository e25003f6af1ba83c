"""DistrictNet (arXiv 2412.08287): decision-aware learning for geographical districting."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="districtnet",
        family="graphs",
        status="partial",
        summary=(
            "readers for the published city GeoJSON and expected-TSP-cost files; GNN on the "
            "line graph giving edge costs, CMST surrogate (exact set partitioning with HiGHS, "
            "iterated local search), perturbed Fenchel-Young loss; SAA expected TSP cost "
            "(2-opt); BHH, Figliozzi, PredGNN and AvgTSP baselines"
        ),
        demo="geoneurips.graphs.districtnet.pipeline:demo",
        dataset="geoneurips.graphs.districtnet.data:DistrictCities",
        model="geoneurips.graphs.districtnet.model:DistrictNet",
        commands={"district": "geoneurips.graphs.districtnet.cli:district"},
        notes="work in progress",
    )
)
