"""The paper catalog: the 26 papers of the collection and a parser for the collection file.

Standard library only (it backs ``geoneurips list/papers/info``, which must start fast).
"""

from __future__ import annotations

from .papers import PAPERS, Headline, Paper, paper, search
from .parser import ParsedPaper, load_collection, parse_collection

__all__ = [
    "PAPERS",
    "Headline",
    "Paper",
    "ParsedPaper",
    "load_collection",
    "paper",
    "parse_collection",
    "search",
]
