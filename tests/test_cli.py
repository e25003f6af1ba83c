"""The command line: listing, papers, info, demo/reproduce contract, errors, start-up time."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geoneurips import registry
from geoneurips.cli.main import build_app, main, markdown_table
from geoneurips.demo import DemoResult, finish, new_figure

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def fake_demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """A cheap demo used to test the CLI contract without training anything."""
    fig, axes = new_figure(1, 1)
    axes[0, 0].plot([0, 1], [0, 1])
    return finish(
        "torchspatial",
        {"top1": 0.8, "mrr": 0.9},
        baselines={"no prior": {"top1": 0.5, "mrr": 0.7}, "weak": {"top1": 0.3, "mrr": 0.4}},
        ablations={"without encoder": {"top1": 0.6, "mrr": 0.75}},
        primary="top1",
        margin=0.1,
        directions={"top1": "max", "mrr": "max"},
        figure=fig,
        out_dir=out_dir,
        started=time.perf_counter(),
        details={"quick": quick, "seed": seed},
    )


@pytest.fixture
def fake_working(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registry.get("torchspatial")
    monkeypatch.setitem(
        registry._REGISTRY,
        "torchspatial",
        dataclasses.replace(spec, status="working", demo="tests.test_cli:fake_demo"),
    )
    monkeypatch.syspath_prepend(str(ROOT))
    for sid, s in list(registry._REGISTRY.items()):
        if sid != "torchspatial" and s.status == "working":
            monkeypatch.setitem(registry._REGISTRY, sid, dataclasses.replace(s, status="partial"))


def test_list_json_and_markdown() -> None:
    app = build_app()
    res = runner.invoke(app, ["list", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 26 and {r["status"] for r in rows} <= {"planned", "partial", "working"}
    res = runner.invoke(app, ["list", "--markdown"])
    assert res.output.strip() == markdown_table()


def test_readme_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- systems:start -->\n(.*?)\n<!-- systems:end -->", readme, re.S)
    assert m, "README lacks the systems table markers"
    assert m.group(1).strip() == markdown_table(), (
        "README table is stale: regenerate with `geoneurips list --markdown`"
    )


def test_papers_and_info() -> None:
    app = build_app()
    res = runner.invoke(app, ["papers", "--search", "pansharpening", "--json"])
    assert res.exit_code == 0, res.output
    assert "ssdiff" in {p["id"] for p in json.loads(res.output)}
    res = runner.invoke(app, ["info", "torchspatial", "--json"])
    info = json.loads(res.output)
    assert info["system"]["id"] == "torchspatial" and "TorchSpatial" in info["paper"]["title"]


def test_demo_json_contract(fake_working: None, tmp_path: Path) -> None:
    res = runner.invoke(build_app(), ["demo", "torchspatial", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"system", "metrics", "baseline", "beats_baseline", "seconds", "artifacts"} <= set(data)
    assert {"baselines", "strongest_baseline", "ablations", "regressions"} <= set(data)
    assert data["beats_baseline"] is True and data["strongest_baseline"] == "no prior"
    assert set(data["baselines"]) == {"no prior", "weak"}
    assert Path(data["artifacts"]["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(Path(data["artifacts"]["result"]).read_text())["metrics"]["top1"] == 0.8


def test_reproduce_writes_report(fake_working: None, tmp_path: Path) -> None:
    res = runner.invoke(build_app(), ["reproduce", "--quick", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "report.md").read_text()
    assert "| `torchspatial` | top1 | 0.8 | no prior: 0.5 | yes |" in report
    # every baseline and the ablation are shown, the strongest is marked
    assert "| metric | ours | no prior (strongest) | weak | without encoder (ablation) |" in report
    assert "| mrr ↑ | 0.9 | 0.7 | 0.4 | 0.75 |" in report
    assert "real dataset" in report


def test_unknown_system_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "not-a-system"])
    assert exc.value.code == 2
    assert "unknown system 'not-a-system'" in capsys.readouterr().err


def test_help_lists_task_commands_without_heavy_imports() -> None:
    code = (
        "import sys\n"
        "from geoneurips.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'rasterio', 'lightning', 'matplotlib', 'pandas')\n"
        "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout + "\n" and out.stdout.strip().endswith("HEAVY=")
    for spec in registry.systems():
        for name in spec.commands:
            assert name in out.stdout, f"task command {name} missing from --help"


def test_report_lists_highlights(tmp_path: Path) -> None:
    from geoneurips.cli.report import write_report

    row = {"system": "cosmic", "primary": "psnr", "metrics": {"psnr": 23.0},
           "baselines": {"jpeg": {"psnr": 21.5}}, "strongest_baseline": "jpeg",
           "baseline": {"psnr": 21.5}, "beats_baseline": True, "seconds": 1.0,
           "artifacts": {}, "details": {"highlights": {"encoder FLOPs ratio": 6.25}}}
    text = write_report([row], tmp_path).read_text()
    assert "Also measured:" in text and "- encoder FLOPs ratio: 6.25" in text
    row["details"] = {}
    assert "Also measured" not in write_report([row], tmp_path / "b").read_text()


def test_reproduce_quick_runs_the_full_demo_where_quick_cannot_decide(
    fake_working: None, tmp_path: Path
) -> None:
    """A system registered with ``quick_decides=False`` (its quick setting measured too short
    to judge the method) gets its full demo from ``reproduce --quick``; others stay quick."""
    spec = registry.get("torchspatial")
    registry._REGISTRY["torchspatial"] = dataclasses.replace(spec, quick_decides=False)
    res = runner.invoke(build_app(), ["reproduce", "--quick", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)["results"]
    assert row["details"]["quick"] is False
    registry._REGISTRY["torchspatial"] = spec  # quick_decides=True (the default)
    res = runner.invoke(build_app(), ["reproduce", "--quick", "--out", str(tmp_path), "--json"])
    (row,) = json.loads(res.output)["results"]
    assert row["details"]["quick"] is True


def test_task_command_summaries_are_whole_sentences() -> None:
    """``geoneurips --help`` shows each task command's first docstring paragraph: a summary
    taken from the first line alone cut five of them off mid-sentence (``tcd-segment``,
    ``lanes``, ``hsi-fusion``, ``vrsbench-run``, ``idee-generate``), and rich dropped
    ``[...]`` from ``district``'s as markup ("districts of size in .")."""
    app = build_app()
    for cmd in app.registered_commands:
        if cmd.short_help is None:
            continue
        summary = re.sub(r" \([a-z0-9]+\)$", "", cmd.short_help)
        assert summary.endswith((".", ")", '"', "`")), (cmd.name, summary)
        assert "[" not in summary, (cmd.name, summary)


def test_reproduce_jobs_hands_the_demos_to_worker_processes(
    fake_working: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reproduce --jobs 2`` gives every demo to :func:`geoneurips.parallel.run_jobs` (as
    many workers as asked, each demo's thread count left to the demo) and reports the rows
    ``--jobs 1`` reports. The jobs run here (the fake demo is importable only in this
    process); that worker processes return a job's result is tested in test_parallel.py."""
    import geoneurips.parallel as parallel

    spec = registry.get("geoplant")
    monkeypatch.setitem(registry._REGISTRY, "geoplant", dataclasses.replace(
        spec, status="working", demo="tests.test_cli:fake_demo"))
    seen: dict[str, object] = {}
    real = parallel.run_jobs

    def here(jobs: dict[str, parallel.Job], workers: int | None = None,
             threads: int | None = 1) -> dict[str, object]:
        seen.update(names=list(jobs), workers=workers, threads=threads)
        return real(jobs, workers=1, threads=threads)

    monkeypatch.setattr(parallel, "run_jobs", here)
    rows = {}
    for jobs in ("1", "2"):
        res = runner.invoke(build_app(), ["reproduce", "--quick", "--out", str(tmp_path / jobs),
                                          "--jobs", jobs, "--json"])
        assert res.exit_code == 0, res.output
        rows[jobs] = [{k: r[k] for k in ("metrics", "baselines", "beats_baseline", "details")}
                      for r in json.loads(res.output)["results"]]
    assert seen == {"names": ["torchspatial", "geoplant"], "workers": 2, "threads": None}
    assert rows["1"] == rows["2"] and len(rows["2"]) == 2
    assert (tmp_path / "2" / "geoplant" / "torchspatial.json").is_file()
