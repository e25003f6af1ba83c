"""``geoneurips``: list systems and papers, run demos, reproduce, and run task commands.

Only the registry and catalog (stdlib) are imported to build the app; each system's
task commands live in its own ``cli.py``, whose module imports nothing heavy, and torch is
imported only when a command runs.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import registry
from ..errors import GeoNeuripsError

app = typer.Typer(
    name="geoneurips",
    help="The GeoAI papers of NeurIPS 2024, runnable: datasets, methods, metrics and demos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _print_json(obj: Any) -> None:
    from ..io import _jsonable

    typer.echo(json.dumps(_jsonable(obj), indent=2))


def _console() -> Any:
    from rich.console import Console

    return Console()


def markdown_table() -> str:
    """The README's table of systems, generated from the registry and the catalog."""
    from ..catalog import paper

    lines = [
        "| id | family | paper | code released | status |",
        "|---|---|---|---|---|",
    ]
    for spec in registry.systems():
        p = paper(spec.id)
        code = "yes" if p.code_available else "no"
        lines.append(f"| `{spec.id}` | {spec.family} | {p.title} | {code} | {spec.status} |")
    return "\n".join(lines)


@app.command("list")
def list_systems(
    markdown: Annotated[bool, typer.Option("--markdown", help="print the README table")] = False,
    json_output: JsonOpt = False,
) -> None:
    """List the 26 systems with their honest status (planned, partial, working)."""
    specs = registry.systems()
    if json_output:
        _print_json(
            [
                {
                    "id": s.id,
                    "family": s.family,
                    "status": s.status,
                    "summary": s.summary,
                    "commands": sorted(s.commands),
                    "notes": s.notes,
                }
                for s in specs
            ]
        )
        return
    if markdown:
        typer.echo(markdown_table())
        return
    from rich.table import Table

    table = Table(title="geoneurips systems")
    for col in ("id", "family", "status", "commands", "summary"):
        table.add_column(col)
    colours = {"working": "green", "partial": "yellow", "planned": "dim"}
    for s in specs:
        table.add_row(
            s.id,
            s.family,
            f"[{colours[s.status]}]{s.status}[/]",
            ", ".join(sorted(s.commands)),
            s.summary,
        )
    _console().print(table)


@app.command("papers")
def papers(
    search: Annotated[str | None, typer.Option("--search", help="filter by text")] = None,
    json_output: JsonOpt = False,
) -> None:
    """The papers of the collection (title, code availability, tasks)."""
    from dataclasses import asdict

    from ..catalog import PAPERS
    from ..catalog import search as search_papers

    found = list(PAPERS) if not search else search_papers(search)
    if json_output:
        _print_json([asdict(p) for p in found])
        return
    from rich.table import Table

    table = Table(title=f"{len(found)} papers")
    for col in ("id", "title", "code", "tasks"):
        table.add_column(col)
    for p in found:
        table.add_row(p.id, p.title, "yes" if p.code_available else "no", ", ".join(p.tasks))
    _console().print(table)


@app.command("info")
def info(
    system_id: Annotated[str, typer.Argument(help="system id")], json_output: JsonOpt = False
) -> None:
    """Everything known about one system: paper, status, entry points, headline numbers."""
    from dataclasses import asdict

    from ..catalog import paper

    spec = registry.get(system_id)
    p = paper(system_id)
    data = {"system": asdict(spec), "paper": asdict(p)}
    if json_output:
        _print_json(data)
        return
    con = _console()
    con.print(f"[bold]{p.title}[/]  ({spec.id}, {spec.family})")
    con.print(", ".join(p.authors))
    con.print(f"paper: {p.paper_url}   code: {p.code_url or 'not released'}")
    con.print(f"status: [bold]{spec.status}[/]" + (f"  ({spec.notes})" if spec.notes else ""))
    con.print(p.summary)
    if spec.commands:
        con.print("commands: " + ", ".join(f"geoneurips {c}" for c in sorted(spec.commands)))
    for h in p.headlines:
        con.print(f"  paper: {h.metric} = {h.value:g} on {h.dataset} ({h.source})")


def _run_demo(system_id: str, out: Path, quick: bool, seed: int) -> Any:
    spec = registry.get(system_id)
    if spec.demo is None:
        raise GeoNeuripsError(
            f"system {system_id!r} has no demo yet (status: {spec.status}). {spec.notes}"
        )
    fn = registry.load_entry(spec.demo)
    return fn(out_dir=out, quick=quick, seed=seed)


def demo_row(system_id: str, out: str, quick: bool, seed: int) -> dict[str, Any]:
    """One demo's row for ``reproduce`` (a job of ``--jobs``: plain Python values, which
    travel between processes as :mod:`geoneurips.parallel` reads them); an exception
    becomes an error row (its traceback on stderr), so one failure does not hide the
    others."""
    from ..io import _jsonable

    t0 = time.perf_counter()
    try:
        row: dict[str, Any] = _jsonable(_run_demo(system_id, Path(out), quick, seed).to_json(),
                                        finite=False)
        return row
    except Exception as exc:  # keep going: one failure must not hide the others
        traceback.print_exc(file=sys.stderr)
        return {"system": system_id, "error": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t0}


@app.command("demo")
def demo(
    system_id: Annotated[str, typer.Argument(help="system id")],
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("out/demo"),
    quick: Annotated[bool, typer.Option("--quick", help="smaller, faster run")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    json_output: JsonOpt = False,
) -> None:
    """Run a system on its embedded synthetic data; print metrics, write PNG and JSON."""
    result = _run_demo(system_id, out, quick, seed)
    if json_output:
        _print_json(
            {
                k: v
                for k, v in result.to_json().items()
                if k
                in (
                    "system",
                    "metrics",
                    "baseline",
                    "beats_baseline",
                    "seconds",
                    "artifacts",
                    "primary",
                    "margin",
                    "baselines",
                    "strongest_baseline",
                    "ablations",
                    "directions",
                    "regressions",
                )
            }
        )
        return
    _print_result_table([result.to_json()])


def _print_result_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="demo results")
    for col in ("system", "primary", "method", "strongest baseline", "beats", "seconds"):
        table.add_column(col)
    for r in rows:
        if "error" in r:
            table.add_row(r["system"], "-", "-", "-", "[red]error[/]", "-")
            continue
        p = r["primary"]
        table.add_row(
            r["system"],
            p,
            f"{r['metrics'][p]:.4g}",
            f"{r.get('strongest_baseline', 'baseline')}: {r['baseline'][p]:.4g}",
            "[green]yes[/]" if r["beats_baseline"] else "[red]no[/]",
            f"{r['seconds']:.1f}",
        )
    _console().print(table)
    for r in rows:
        if "metrics" not in r:
            continue
        _console().print(
            f"[bold]{r['system']}[/]: "
            + ", ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items())
        )
        for kind, group in (("baseline", r.get("baselines", {})), ("ablation", r.get("ablations", {}))):
            for name, vals in group.items():
                _console().print(
                    f"  {kind} {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in vals.items())
                )
        for g in r.get("regressions", []):
            why = g.get("explanation") or "[red]not explained[/]"
            _console().print(
                f"  [yellow]regression[/] {g['metric']}: ours {g['ours']:.4g} vs "
                f"{g['best_baseline']} {g['best']:.4g}: {why}"
            )


@app.command("reproduce")
def reproduce(
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("out/reproduce"),
    quick: Annotated[bool, typer.Option("--quick", help="quick demos")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="system ids")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    jobs: Annotated[int, typer.Option(
        "--jobs", min=1,
        help="demos run side by side in this many processes (each demo keeps its own "
             "thread count, so the numbers are those of --jobs 1)")] = 1,
    json_output: JsonOpt = False,
) -> None:
    """Run every working system's demo; write a Markdown report beside the paper's numbers."""
    from .report import write_report

    specs = [s for s in registry.systems() if s.status == "working" and s.demo]
    if only:
        wanted = set(only)
        specs = [s for s in specs if s.id in wanted]
    # a system whose quick setting was measured too short to judge runs its full demo
    runs = [(spec.id, quick and spec.quick_decides) for spec in specs]
    if quick and not json_output:
        for sid, run_quick in runs:
            if not run_quick:
                typer.echo(f"   (quick setting too short to decide for {sid}: full demo)",
                           err=True)
    if jobs > 1 and len(runs) > 1:
        from ..parallel import run_jobs

        if not json_output:
            typer.echo(f"== {', '.join(sid for sid, _ in runs)} on {jobs} processes", err=True)
        done = run_jobs({sid: (demo_row, (sid, str(out / sid), run_quick, seed))
                         for sid, run_quick in runs}, workers=jobs, threads=None)
        rows = [done[sid] for sid, _ in runs]
    else:
        rows = []
        for sid, run_quick in runs:
            if not json_output:
                typer.echo(f"== {sid}", err=True)
            rows.append(demo_row(sid, str(out / sid), run_quick, seed))
    report = write_report(rows, out)
    if json_output:
        _print_json({"results": rows, "report": str(report)})
    else:
        _print_result_table(rows)
        typer.echo(f"report: {report}")
    if any("error" in r or not r.get("beats_baseline") for r in rows):
        raise typer.Exit(1)


def _mount_task_commands() -> None:
    """Add every system's task commands (``geoneurips change``, ``geobias``...)."""
    taken = {c.name for c in app.registered_commands}
    for spec in registry.systems():
        for name, ref in sorted(spec.commands.items()):
            if name in taken:
                raise RuntimeError(f"command {name!r} of {spec.id!r} is already taken")
            taken.add(name)
            try:
                fn = registry.load_entry(ref)
            except (ImportError, AttributeError) as exc:  # pragma: no cover - dev error
                raise RuntimeError(f"cannot load command {name!r} ({ref}): {exc}") from exc
            # the whole first paragraph: a first line alone cuts sentences off mid-way
            summary = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
            app.command(name, short_help=f"{summary} ({spec.id})")(fn)


def build_app() -> typer.Typer:
    """The full app: built-in commands plus every registered system's task commands."""
    if not getattr(app, "_geoneurips_mounted", False):
        _mount_task_commands()
        app._geoneurips_mounted = True  # type: ignore[attr-defined]
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Errors of ours are shown as one clear line with exit code 2."""
    cli = build_app()
    try:
        cli(args=argv, prog_name="geoneurips")
    except GeoNeuripsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
