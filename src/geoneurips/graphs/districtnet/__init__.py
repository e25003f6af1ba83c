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
            "DistrictNet does not beat the strongest baseline. Held-out 30-BU synthetic "
            "cities, expected TSP cost (lower is better), DistrictNet vs AvgTSP, full demo "
            "seeds 0/1/2: 121.80/101.07/103.80 vs 119.33/101.01/103.25 (PredGNN 123.67/"
            "100.66/104.49, CMST on centre distances 121.37/101.03/104.00); quick: 118.80/"
            "96.59/96.49 vs 117.52/97.43/95.23. It beats BHH and Figliozzi by 5-8% and "
            "PredGNN on 5 of 6 runs. The paper's generalisation protocol (train on "
            "30-BU cities at t = 3, district larger cities at larger targets; every method "
            "through the same iterated local search, same budget and seed) gives no robust "
            "lead either: DistrictNet vs AvgTSP, relative expected TSP cost on held-out "
            "synthetic cities, development seeds 10/11/12: 60 BUs t = 6 +2.1/+0.7/-0.1%, "
            "120 BUs t = 6 +2.6/-0.9/+2.0%, 60 BUs t = 12 +3.1/-1.7/+1.7%, 120 BUs t = 12 "
            "(seed 10 only, 72 s CPU per city) +3.8%; with heterogeneous BU areas (dense core "
            "of small BUs, about 30x area spread, like the published city1; trained on such "
            "30-BU cities) 30 BUs t = 3 +0.5/+0.9/+0.5% and 60 BUs t = 6 -1.1/+1.0/-0.6%. "
            "Final seeds 0/1/2, full demo details['larger_cities'] (two 60-BU cities, t = 6): "
            "DistrictNet 142.77/197.10/150.15 vs AvgTSP 141.85/190.98/148.85 (CMST on "
            "distances 142.12/194.17/153.42, PredGNN 149.70/196.98/158.18, Figliozzi "
            "156.67/212.17/164.02, BHH 157.42/212.95/170.09); confirmation seeds 3/4: "
            "161.22/138.84 vs AvgTSP 159.44/136.56 (and at t = 3 on 30 BUs 93.03/110.72 vs "
            "92.38/109.87): DistrictNet beats BHH, "
            "Figliozzi and PredGNN there but AvgTSP stays strongest, so the demo's decision "
            "stays on the t = 3 30-BU cities. Why: AvgTSP is the paper's baseline (published "
            "AvgTsp.jl: one customer at each BU centre, each district priced by a TSP "
            "solve; it uses only the BU centres and the depot, which DistrictNet also gets) "
            "and with districts of 2-4 BUs a TSP through the centres is nearly the true "
            "expected cost (regret 0.35% on 12-BU and 2.1% on 30-BU held-out cities against "
            "the SAA optimum); DistrictNet's targets use the same SAA oracle as the "
            "evaluation (10 scenarios for targets, 20 fresh ones for scoring). Defects fixed: "
            "the demand scenarios were ours (Poisson(1.5 pop/mean pop) customers in a disc, "
            "often none) and are now the published generator (max(3, Binomial(pop, p_t)), "
            "uniform in the BU polygon; synthetic cities got Voronoi polygons); features "
            "were standardised per city instead of with the training set's mean/std; the "
            "depot was the centre of the BU centres' bounding box, not the polygons'; "
            "PredGNN saw only population and area relative to the city mean; on instances "
            "too large for exact partitioning DistrictNet got 100 local-search iterations "
            "(seed 0) and the baselines 20 (now one budget and seed for all); training used "
            "12-BU cities, and a model trained on them generalises badly to 30-BU cities "
            "(regret 7.9% vs 1.9% when trained on 30-BU cities, the paper's size). Still "
            "far shorter training than the paper (8 cities, 10 epochs, 3 FY samples, lr "
            "1e-2, 10 SAA scenarios per target vs 100 cities, 100 epochs, 20 samples, lr "
            "1e-3, 100 scenarios); 20 cities, 30 epochs and 5 FY samples (215 s CPU) give "
            "122.06 on full seed 0 (AvgTSP 119.33), so the training we can afford does not "
            "close the gap; "
            "tours are nearest neighbour + 2-opt, not LKH-3; the local search runs an "
            "iteration budget, not 1200 s. BHH and Figliozzi are least-squares fits with "
            "the area-weighted centroid distance where the published code uses the mean "
            "scenario-customer distance (and BD fits one coefficient). Real cities "
            "(reported in the demo's details with GEONEURIPS_REAL_DATA, not deciding; our "
            "SAA, the published LKH costs of these cities are not in the sample data), "
            "full seed 0, DistrictNet / AvgTSP / PredGNN / BHH / CMST on distances: city1 (30 "
            "BUs) 578.7 / 565.3 / 605.1 / 570.9 / 563.7, Paris (120 BUs, t = 3) 193.6 / "
            "174.1 / 187.3 / 180.7 / 173.0: the model trained on synthetic cities transfers "
            "worse than the geometric proxies. The published "
            "city51 cost file is read and its exact optimum (the paper's training target) "
            "is tested, but its geometry is not in the sample data, so no method is scored "
            "on it. Compactness: Reock and Polsby-Popper (the published script computes the "
            "latter) are reported; AvgTSP's districts are the most compact (Reock 0.54 vs "
            "0.49). The task command runs on the real Paris instance with a model trained "
            "on the spot unless a checkpoint is given. Demo CPU time: quick 17-19 s, full "
            "48 s (61-64 s with the real cities; wall time several times that on the loaded "
            "shared machine)"
        ),
    )
)
