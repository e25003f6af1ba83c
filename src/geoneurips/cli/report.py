"""The Markdown report of ``geoneurips reproduce``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..io import write_json, write_text

__all__ = ["write_report"]


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)


def _strongest(r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = r.get("strongest_baseline") or "baseline"
    return name, r.get("baselines", {}).get(name, r.get("baseline", {}))


def _system_tables(r: dict[str, Any]) -> list[str]:
    """The metrics table of one demo: ours, every baseline (strongest first), ablations."""
    strongest, _ = _strongest(r)
    baselines: dict[str, dict[str, Any]] = r.get("baselines") or {strongest: r["baseline"]}
    order = [strongest] + [n for n in baselines if n != strongest]
    ablations: dict[str, dict[str, Any]] = r.get("ablations") or {}
    head = ["metric", "ours"]
    head += [f"{n} (strongest)" if n == strongest else n for n in order]
    head += [f"{n} (ablation)" for n in ablations]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    directions = r.get("directions", {})
    for k, v in r["metrics"].items():
        arrow = {"max": " ↑", "min": " ↓"}.get(directions.get(k, ""), "")
        cells = [f"{k}{arrow}", _fmt(v)]
        cells += [_fmt(baselines[n].get(k, "-")) for n in order]
        cells += [_fmt(a.get(k, "-")) for a in ablations.values()]
        lines.append("| " + " | ".join(cells) + " |")
    p = r["primary"]
    lines += [
        "",
        f"Decided on **{p}** against the strongest baseline (**{strongest}**), margin "
        f"{_fmt(r.get('margin', '-'))}: {'beats it' if r['beats_baseline'] else 'does not beat it'}.",
    ]
    regressions = r.get("regressions") or []
    if regressions:
        lines += ["", "Regressions (the method is worse than a baseline on these):", ""]
        for g in regressions:
            why = g.get("explanation") or "**not explained: the demo does not count as a win**"
            lines.append(
                f"- {g['metric']}: ours {_fmt(g['ours'])}, {g['best_baseline']} "
                f"{_fmt(g['best'])}. {why}"
            )
    return lines


def write_report(rows: list[dict[str, Any]], out: str | Path) -> Path:
    """Write ``report.md`` and ``results.json`` into ``out``; return the report's path.

    Every baseline a demo computed is shown (the strongest, which decides, is marked), the
    ablations beside them, and any metric on which the method is worse than a baseline is
    listed as a regression with the demo's explanation. A demo's ``details["highlights"]``
    (name -> value) are listed under its table. Our numbers come from the embedded synthetic
    tasks; the paper's headline numbers, shown beside them, were measured by the authors on
    the real datasets: they are context, not something the synthetic demo reproduces.
    """
    from ..catalog import paper

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# geoneurips reproduce",
        "",
        "Each working system's demo on its embedded synthetic data (ours), against every",
        "baseline it computed (the **strongest** decides), beside the headline numbers the",
        "paper reports **on the real dataset** (theirs, for context; the synthetic tasks are",
        "not the papers' benchmarks).",
        "",
        "| system | primary metric | ours | strongest baseline | beats it | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| `{r['system']}` | - | error | - | no | {_fmt(r['seconds'])} |")
            continue
        p = r["primary"]
        name, base = _strongest(r)
        lines.append(
            f"| `{r['system']}` | {p} | {_fmt(r['metrics'][p])} | {name}: {_fmt(base[p])} | "
            f"{'yes' if r['beats_baseline'] else 'no'} | {_fmt(r['seconds'])} |"
        )
    for r in rows:
        pap = paper(r["system"])
        lines += ["", f"## {r['system']}: {pap.title}", ""]
        if "error" in r:
            lines += [f"Demo failed: `{r['error']}`"]
            continue
        lines += _system_tables(r)
        highlights = r.get("details", {}).get("highlights") or {}
        if highlights:
            lines += ["", "Also measured:", ""]
            lines += [f"- {k}: {_fmt(v)}" for k, v in highlights.items()]
        fig = r.get("artifacts", {}).get("figure")
        if fig:
            rel = os.path.relpath(fig, out_dir)
            lines += ["", f"![{r['system']}]({rel})"]
        if pap.headlines:
            lines += ["", "Paper, on the real dataset (as reported):", ""]
            for h in pap.headlines:
                note = f" — {h.note}" if h.note else ""
                lines.append(f"- {h.metric} = {h.value:g} on {h.dataset} ({h.source}){note}")
    report = write_text(out_dir / "report.md", "\n".join(lines) + "\n")
    write_json(out_dir / "results.json", rows)
    return report
