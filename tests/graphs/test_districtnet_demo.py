"""The DistrictNet demo (quick mode): runs, writes JSON and PNG, reports every baseline.

Measured expected TSP cost on the held-out 30-BU synthetic cities (lower is better; the
published scenario generator, models trained on 30-BU cities), as DistrictNet / BHH /
Figliozzi / PredGNN / AvgTSP / ablations (CMST on centre distances, DistrictNet with the
local search instead of exact partitioning):

- quick, seed 0: 118.80 / 127.09 / 127.64 / 121.76 / 117.52 / 119.09, 118.81
- quick, seed 1: 96.59 / 104.62 / 104.62 / 97.71 / 97.43 / 97.06, 97.60
- quick, seed 2: 96.49 / 102.08 / 102.32 / 99.85 / 95.23 / 96.08, 97.49
- full, seed 0: 121.80 / 129.51 / 128.86 / 123.67 / 119.33 / 121.37, 122.31
- full, seed 1: 101.07 / 107.60 / 107.60 / 100.66 / 101.01 / 101.03, 100.33
- full, seed 2: 103.80 / 110.46 / 110.23 / 104.49 / 103.25 / 104.00, 103.69

Full mode also reports the paper's generalisation protocol (two held-out 60-BU cities at
t = 6, the local search for every method; not deciding), DistrictNet / AvgTSP / CMST on
distances / PredGNN: seed 0 142.77 / 141.85 / 142.12 / 149.70, seed 1 197.10 / 190.98 /
194.17 / 196.98, seed 2 150.15 / 148.85 / 153.42 / 158.18 (development seeds 10-12 on
60-120 BUs at t = 6 and 12 agree: no robust lead over AvgTSP; see the package notes).

DistrictNet does not beat the strongest baseline on every seed (AvgTSP, or PredGNN on full
seed 1; it wins only quick seed 1, by 0.9%), so the system is ``partial`` and this test
asserts the honest outcome on seed 0: AvgTSP is the strongest baseline and is not beaten,
while DistrictNet beats the continuous approximations (BHH, Figliozzi) by more than 3%
(measured 6.5%; 5.5-7.7% over the quick seeds) and PredGNN by more than 1% (measured 2.4%;
1.1-3.4%).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.graphs.districtnet.pipeline import demo


def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"bhh", "figliozzi", "predgnn", "avg_tsp"}
    assert set(r.ablations) == {"cmst_distance_weights", "districtnet_ils"}
    ours = r.metrics["expected_tsp_cost"]
    for name in ("bhh", "figliozzi"):
        assert ours < 0.97 * r.baselines[name]["expected_tsp_cost"]
    assert ours < 0.99 * r.baselines["predgnn"]["expected_tsp_cost"]
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
