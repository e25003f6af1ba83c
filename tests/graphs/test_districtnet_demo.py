"""The DistrictNet demo (quick mode): runs, writes JSON and PNG, reports every baseline.

Measured expected TSP cost on the held-out 30-BU synthetic cities at t = 3 (lower is
better; synthetic cities drawn like the published training cities - populations
truncnorm(8000, 2000, [5000, 20000]), about 32 customers per BU - the published scenario
generator, models trained on 30-BU cities), as DistrictNet / BHH / Figliozzi / PredGNN /
AvgTSP / ablations (CMST on centre distances, DistrictNet with the local search):

- quick, seed 0: 237.41 / 242.66 / 242.66 / 242.49 / 235.99 / 234.25, 237.94
- quick, seed 1: 218.35 / 224.59 / 223.43 / 221.46 / 218.91 / 214.66, 218.72
- quick, seed 2: 201.30 / 206.47 / 205.98 / 209.93 / 199.67 / 198.34, 201.48
- full, seed 0: 220.72 / 228.32 / 227.91 / 227.23 / 222.22 / 220.62, 221.43
- full, seed 1: 204.20 / 210.40 / 210.40 / 206.26 / 205.72 / 201.65, 204.14
- full, seed 2: 233.28 / 239.28 / 239.28 / 235.97 / 232.77 / 230.92, 232.19
- full, confirmation seeds 3 / 4: DistrictNet 245.37 / 246.19, AvgTSP 245.96 / 248.05,
  CMST on centre distances 242.36 / 245.83
- full, development seeds 10 / 11 / 12: DistrictNet 214.29 / 229.16 / 258.70, AvgTSP
  217.28 / 230.18 / 260.55, CMST on centre distances 214.02 / 225.28 / 256.97

Full mode also reports the paper's generalisation protocol (two held-out 60-BU cities at
t = 6, the local search for every method; not deciding), DistrictNet / AvgTSP / CMST on
distances: seed 0 270.80 / 272.03 / 271.13, seed 1 285.54 / 281.19 / 276.84, seed 2
305.87 / 307.27 / 299.29, seeds 3 / 4 373.39 / 311.72 vs AvgTSP 372.39 / 307.47 (dev
seeds 10-12: DistrictNet 1-2 % above AvgTSP).

DistrictNet beats AvgTSP (the strongest baseline) by 0.2-1.4 % in 7 of the 8 full runs
but loses on full seed 2 (+0.2 %) and on quick seeds 0 and 2 (+0.6, +0.8 %), and its
own ablation with untrained centre-distance weights is better on every run, so the system
is ``partial`` and this test asserts the honest outcome on quick seed 0: AvgTSP is the
strongest baseline and is not beaten, while DistrictNet beats the continuous
approximations (BHH, Figliozzi) by more than 1.5 % (measured 2.2 %; 2.2-2.8 % over the
quick seeds) and PredGNN by more than 0.5 % (measured 2.1 %; 1.4-4.1 %).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.graphs.districtnet.pipeline import demo


@pytest.mark.slow
def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"bhh", "figliozzi", "predgnn", "avg_tsp"}
    assert set(r.ablations) == {"cmst_distance_weights", "districtnet_ils"}
    ours = r.metrics["expected_tsp_cost"]
    for name in ("bhh", "figliozzi"):
        assert ours < 0.985 * r.baselines[name]["expected_tsp_cost"]
    assert ours < 0.995 * r.baselines["predgnn"]["expected_tsp_cost"]
    assert r.strongest_baseline == "avg_tsp" and not r.beats_baseline
    for row in (r.metrics, *r.baselines.values(), *r.ablations.values()):
        assert 0 < row["reock"] < 1 and 0 < row["polsby_popper"] < 1
    assert (tmp_path / "districtnet.json").is_file() and (tmp_path / "districtnet.png").is_file()
    saved = json.loads((tmp_path / "districtnet.json").read_text())
    assert saved["strongest_baseline"] == r.strongest_baseline


def test_real_city_evaluation(real_data: Path) -> None:
    """Every method on the real city1 instance (30 BUs, real polygons and populations),
    scored by SAA expected TSP cost under the published scenario generator; the cost of
    each districting is recomputed here from its districts on the same scenarios."""
    from geoneurips.graphs.districtnet.data import read_city, synthetic_city
    from geoneurips.graphs.districtnet.pipeline import (
        fit_baselines,
        make_train_city,
        real_city_evaluation,
        train_districtnet,
    )
    from geoneurips.graphs.districtnet.tsp import expected_tsp_cost, sample_scenarios

    train = [make_train_city(synthetic_city(12, 300 + i), 3, 3, i) for i in range(2)]
    model = train_districtnet(train, 1, samples=2, seed=0, hidden=16)
    base = fit_baselines(train, 2, 0)
    got = real_city_evaluation(real_data / "districtnet", model, base, quick=True, seed=0)
    assert set(got) == {"city1"}
    rows = got["city1"]
    assert set(rows) == {"districtnet", "districtnet_ils", "bhh", "figliozzi", "predgnn",
                         "avg_tsp", "cmst_distance"}
    city = read_city(real_data / "districtnet" / "city1.geojson")
    ev = sample_scenarios(city, 10, 20_000, 3)
    for row in rows.values():
        ds = row["districts"]
        assert len(ds) == 10 and sorted(b for d in ds for b in d) == list(range(30))
        assert all(2 <= len(d) <= 4 for d in ds)
        assert 0 < row["reock"] < 1 and 0 < row["polsby_popper"] < 1
    ds = rows["avg_tsp"]["districts"]
    assert rows["avg_tsp"]["expected_tsp_cost"] == pytest.approx(
        sum(expected_tsp_cost(city, d, ev) for d in ds))


def test_local_search_budget_is_common(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: on instances too large for exact partitioning, DistrictNet's districts
    came from a 100-iteration local search (seed 0) while every baseline got
    ``ils_iterations`` (20 in the demo). Every method must get the same budget and seed."""
    from geoneurips.graphs.districtnet import pipeline
    from geoneurips.graphs.districtnet.data import synthetic_city

    calls: list[tuple[int, int]] = []
    real = pipeline.iterated_local_search

    def spy(*args: object, iterations: int = 200, seed: int = 0, **kw: object) -> object:
        calls.append((iterations, seed))
        return real(*args, iterations=0, seed=seed, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "iterated_local_search", spy)
    train = [pipeline.make_train_city(synthetic_city(12, 300 + i), 3, 2, i) for i in range(2)]
    model = pipeline.train_districtnet(train, 1, samples=1, seed=0, hidden=8)
    base = pipeline.fit_baselines(train, 1, 0)
    city = synthetic_city(30, 7)  # t = 6: too many candidates, local search for all
    res = pipeline.evaluate_city(city, 6, model, base, scenarios=1, seed=5, ils_iterations=3)
    # one search for DistrictNet (its ILS arm is the same seeded search: run once), four
    # baselines, the distance-weight CMST: all with the same budget and seed
    assert len(calls) == 6 and set(calls) == {(3, 5)}
    assert res["districtnet"]["districts"] == res["districtnet_ils"]["districts"]
    for row in res.values():
        assert sorted(b for d in row["districts"] for b in d) == list(range(30))
    big = pipeline.larger_city_evaluation(model, base, seed=0, cities=1, size=30, target=6)
    assert set(big["expected_tsp_cost"]) == set(res)
    assert all(v > 0 for v in big["expected_tsp_cost"].values())
