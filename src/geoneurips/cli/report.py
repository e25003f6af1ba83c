"""The Markdown report of ``geoneurips reproduce``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..io import write_json, write_text

__all__ = ["write_report"]


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)


def write_report(rows: list[dict[str, Any]], out: str | Path) -> Path:
    """Write ``report.md`` and ``results.json`` into ``out``; return the report's path.

    A demo's ``details["highlights"]`` (name -> value) are listed under its table. Our
    numbers come from the embedded synthetic tasks; the paper's headline numbers, shown
    beside them, were measured by the authors on the real datasets: they are context, not
    something the synthetic demo reproduces.
    """
    from ..catalog import paper

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# geoneurips reproduce",
        "",
        "Each working system's demo on its embedded synthetic data (ours), beside the",
        "headline numbers the paper reports **on the real dataset** (theirs, for context;",
        "the synthetic tasks are not the papers' benchmarks).",
        "",
        "| system | primary metric | ours | trivial baseline | beats baseline | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| `{r['system']}` | - | error | - | no | {_fmt(r['seconds'])} |")
            continue
        p = r["primary"]
        lines.append(
            f"| `{r['system']}` | {p} | {_fmt(r['metrics'][p])} | {_fmt(r['baseline'][p])} | "
            f"{'yes' if r['beats_baseline'] else 'no'} | {_fmt(r['seconds'])} |"
        )
    for r in rows:
        pap = paper(r["system"])
        lines += ["", f"## {r['system']}: {pap.title}", ""]
        if "error" in r:
            lines += [f"Demo failed: `{r['error']}`"]
            continue
        lines += ["| metric | ours (synthetic) | baseline (synthetic) |", "|---|---|---|"]
        for k, v in r["metrics"].items():
            lines.append(f"| {k} | {_fmt(v)} | {_fmt(r['baseline'].get(k, '-'))} |")
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
