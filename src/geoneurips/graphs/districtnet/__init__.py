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
            "(2-opt) under the published scenario generator; Reock and Polsby-Popper "
            "compactness; BHH, Figliozzi, PredGNN and AvgTSP baselines"
        ),
        demo="geoneurips.graphs.districtnet.pipeline:demo",
        dataset="geoneurips.graphs.districtnet.data:DistrictCities",
        model="geoneurips.graphs.districtnet.model:DistrictNet",
        commands={"district": "geoneurips.graphs.districtnet.cli:district"},
        notes=(
            "DistrictNet does not robustly beat the strongest baseline (AvgTSP). Synthetic "
            "cities now follow the published generate_cities.jl: BU populations i.i.d. "
            "truncnorm(8000, 2000, [5000, 20000]) (about 32 customers per BU at t = 3, 100 "
            "per district) and the BU area spread of the 200 published training cities "
            "(largest / smallest area 12 in the median city, 126 at the 95th percentile); "
            "ours had 300-3000 inhabitants per BU (3-12 customers, mostly the minimum 3) "
            "and near-uniform areas (ratio about 3). Re-measured on held-out 30-BU cities "
            "at t = 3, expected TSP cost, DistrictNet vs AvgTSP: full seeds 0/1/2 "
            "220.72/204.20/233.28 vs 222.22/205.72/232.77 (-0.7/-0.7/+0.2 %), "
            "confirmation seeds 3/4 245.37/246.19 vs 245.96/248.05, development seeds 10/11/12 "
            "214.29/229.16/258.70 vs 217.28/230.18/260.55; quick (2 training cities) "
            "seeds 0/1/2 237.41/218.35/201.30 vs 235.99/218.91/199.67. DistrictNet beats "
            "BHH, Figliozzi (1.8-3.4 %) and PredGNN (1-4 %) on every run, but its own "
            "ablation, the CMST surrogate with untrained centre-distance weights, is better "
            "on every run (full 220.62/201.65/230.92): the learning we can afford does not "
            "improve on plain distances. The headroom is small: the SAA optimum of the dev "
            "seed 10 test cities (all candidates priced on the evaluation scenarios) is "
            "211.84, 2.6 % below AvgTSP (DistrictNet 1.2 %), so the paper's ~10 % cannot "
            "show at t = 3 on 30 BUs. The paper's generalisation protocol (two held-out "
            "60-BU cities at t = 6, the same local search for every method), DistrictNet vs "
            "AvgTSP vs CMST on distances: seeds 0/1/2 270.80/285.54/305.87 vs "
            "272.03/281.19/307.27 vs 271.13/276.84/299.29, seeds 3/4 373.39/311.72 vs 372.39/307.47, "
            "dev 10/11/12 313.43/341.07/304.11 vs 308.24/338.07/301.09 (PredGNN, BHH and "
            "Figliozzi 0.7-7.5 % worse than DistrictNet). Real cities (our SAA under the "
            "published scenario generator, 20 scenarios, full mode, not deciding), "
            "DistrictNet seeds 0/1/2 vs the seed-independent AvgTSP / CMST on distances: "
            "city1 (30 BUs, a published training city) 565.3/595.3/587.4 vs 565.3 / 563.7 "
            "(BHH 589.4/570.9/589.4, Figliozzi 582.7/589.4/589.4, PredGNN "
            "596.4/594.4/609.6); Paris (120 BUs, t = 3, local search) 176.7/177.1/175.1 vs "
            "174.1 / 173.0 (BHH 180.7, Figliozzi 180.6/180.7/180.6, PredGNN "
            "184.0/187.2/182.1). The oracle is checked against the published LKH costs "
            "(files of the public repository, not in the sample data): our SAA (2-opt, 20 "
            "scenarios) on 18 and 15 candidate districts of the published city100 and city105 "
            "is 1.2 % and 2.8 % below their costs on average, correlation 0.976 and 0.981; "
            "our candidate enumeration equals the published cost files' district sets on 12 "
            "cities. Earlier defects fixed: the demand scenarios (now the published "
            "max(3, Binomial(pop, p_t)) customers uniform in the BU polygon), per-city "
            "feature standardisation (now the training set's mean/std), the depot (now the "
            "centre of the polygons' bounding box), PredGNN's inputs (absolute attributes), "
            "unequal local-search budgets (now one budget and seed for all), 12-BU training "
            "cities (now 30, the paper's size). Still far shorter training than the paper "
            "(6 cities, 10 epochs, 3 FY samples, lr 1e-2, 3 SAA scenarios per training "
            "candidate vs 100 cities, 100 epochs, 20 samples, lr 1e-3, 100 scenarios): with "
            "100 customers per district, pricing the ~950 candidates of a 30-BU city costs "
            "about 2.2 ms per candidate and scenario; 8 cities with 10 scenarios (175 s of "
            "CPU for the data) gave dev seeds 10/11 215.79/227.73 vs AvgTSP 217.28/230.18 "
            "and 60-BU 308.21/341.67 vs 308.24/338.07, no better; with 30 epochs and 5 FY "
            "samples on those (65 s of CPU to train) 214.57/226.89, still above CMST on "
            "distances (214.02/225.28). Tours are nearest "
            "neighbour + 2-opt, not LKH-3; the local search runs an iteration budget, not "
            "1200 s; BHH and Figliozzi are least-squares fits with the area-weighted "
            "centroid distance where the published code uses the mean scenario-customer "
            "distance (and BD fits one coefficient); synthetic polygons are Voronoi cells "
            "(Polsby-Popper about 0.7; the published real BUs about 0.3). The published "
            "city51 cost file is read and its exact optimum tested, but its geometry is not "
            "in the sample data. Compactness: Reock and Polsby-Popper are reported; "
            "AvgTSP's districts are the most compact (Reock 0.50-0.52 vs DistrictNet "
            "0.42-0.49). The task command runs on the real Paris instance with a model "
            "trained on the spot (two 30-BU cities) unless a checkpoint is given. Demo CPU "
            "time (one core, seed 0, with the real cities), measured side by side with the "
            "previous 2-opt: full 59 s vs 85 s (88-97 s in earlier runs), quick 17 s vs 23 s, "
            "every output identical (the new tour is 2.2x faster with the same tours, "
            "benchmarks/districtnet_tsp.py); of the full demo, tours now take about 24 s "
            "and HiGHS set partitioning about 23 s"
        ),
    )
)
