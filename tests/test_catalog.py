"""The paper catalog and the collection parser.

The catalog is checked against the real collection file (``../shared``), and the parser on
small hand-written snippets.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from geoneurips.catalog import (
    PAPERS,
    Headline,
    Paper,
    load_collection,
    paper,
    parse_collection,
    search,
)
from geoneurips.catalog.parser import ParsedPaper, fix_mojibake
from geoneurips.errors import UnknownSystemError
from geoneurips.registry import SYSTEM_FAMILIES

COLLECTION_NAME = "000_2b31b5324917284b.txt"

EXPECTED_IDS = (
    "fusu synrs3d anychange ssdiff feinfn torchspatial opensatmap allclear kurosiwo vrsbench "
    "garner solarcube g3 gomaageo stvd geoplant terra deblora mmmrs cosmic pecl districtnet "
    "sgnet idee seco oamtcd"
).split()


# --------------------------------------------------------------------------- real collection


@pytest.fixture(scope="module")
def collection(real_data: Path) -> list[ParsedPaper]:
    path = real_data.parent / COLLECTION_NAME
    assert path.is_file(), f"collection file {path} is missing"
    return load_collection(path)


def test_collection_has_26_papers(collection: list[ParsedPaper]) -> None:
    assert len(collection) == 26
    assert len(PAPERS) == 26
    assert all(p.authors and p.abstract for p in collection)


def test_catalog_matches_collection(collection: list[ParsedPaper]) -> None:
    for cat, parsed in zip(PAPERS, collection, strict=True):
        where = f"{cat.id} (collection line {parsed.line})"
        assert cat.title == parsed.title, where
        assert cat.authors == parsed.authors, where
        assert cat.paper_url == parsed.links.get("paper"), where
        assert cat.code_url == parsed.code_url, where
        assert cat.code_available is (parsed.code_url is not None), where
        assert cat.tags == parsed.tags, where
        # The data link is one the collection gives, never an invented one.
        assert cat.data_url is None or cat.data_url in parsed.links.values(), where


def test_collection_details(collection: list[ParsedPaper]) -> None:
    by_title = {p.title.split(":")[0]: p for p in collection}
    assert by_title["SynRS3D"].tags == ("Spotlight",)
    assert sum(bool(p.tags) for p in collection) == 1
    assert by_title["SSDiff"].code_url is None
    assert by_title["SSDiff"].paper_url == "https://arxiv.org/abs/2404.11537"
    assert (
        by_title["FUSU"].code_url == "https://github.com/yuanshuai0914/FUSU"
    )  # "Dataset and code"
    assert by_title["SolarCube"].code_url == "https://github.com/Ruohan-Li/SolarCube"
    assert by_title["SolarCube"].paper_url is None  # "Paper: Null"
    assert by_title["VRSBench"].links["project"] == "https://vrsbench.github.io/"
    # Mojibake in the file ("CÃ©sar", "JÃ¼rgen") is repaired.
    authors = [a for p in collection for a in p.authors]
    assert "César Leblanc" in authors and "Jürgen Gall" in authors
    assert not any("Ã" in a for a in authors)
    assert "earth’s surface" in by_title["SolarCube"].abstract


def test_ids_and_families() -> None:
    ids = [p.id for p in PAPERS]
    assert ids == EXPECTED_IDS
    assert len(set(ids)) == len(ids)
    assert set(ids) == set(SYSTEM_FAMILIES)
    for p in PAPERS:
        assert p.family == SYSTEM_FAMILIES[p.id], p.id


def test_paper_fields_are_well_formed() -> None:
    for p in PAPERS:
        assert isinstance(p, Paper)
        assert p.title == p.title.strip() and p.title
        assert p.tasks and p.datasets, p.id
        for url in (p.paper_url, p.code_url, p.data_url):
            assert url is None or re.match(r"https?://\S+$", url), (p.id, url)
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", p.summary.strip()) if s]
        assert 2 <= len(sentences) <= 3, (p.id, len(sentences))
        assert len(p.headlines) <= 4, p.id
        for h in p.headlines:
            assert isinstance(h, Headline)
            assert h.metric and h.dataset and h.source, (p.id, h)
            assert isinstance(h.value, float) and math.isfinite(h.value), (p.id, h)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_summaries_are_not_copied_from_abstracts(collection: list[ParsedPaper]) -> None:
    """No run of 8 consecutive words of a summary appears in the paper's abstract."""
    n = 8
    for cat, parsed in zip(PAPERS, collection, strict=True):
        abstract = " " + " ".join(_words(parsed.abstract)) + " "
        words = _words(cat.summary)
        for i in range(len(words) - n + 1):
            run = " " + " ".join(words[i : i + n]) + " "
            assert run not in abstract, f"{cat.id}: summary copies {run.strip()!r}"


def test_headline_numbers_spot_checks() -> None:
    seco = {h.dataset: h.value for h in paper("seco").headlines}
    assert seco["GTA5 to Cityscapes"] == pytest.approx(64.6)
    tcd = {h.metric: h for h in paper("oamtcd").headlines}
    assert tcd["IoU"].value == pytest.approx(0.876) and tcd["IoU"].source == "docs table"
    assert paper("fusu").headlines == ()  # the notes give none: left empty
    assert sum(len(p.headlines) for p in PAPERS) > 30


# --------------------------------------------------------------------------- lookup, search


def test_paper_lookup() -> None:
    assert paper("g3").id == "g3"
    assert paper(" TorchSpatial ").id == "torchspatial"
    with pytest.raises(UnknownSystemError, match="torchspatial"):
        paper("torchspatal")
    with pytest.raises(KeyError):
        paper("nope")


def test_search() -> None:
    assert [p.id for p in search("PANSHARPENING")] == ["ssdiff"]
    assert {p.id for p in search("stefano ermon")} == {"anychange", "torchspatial"}
    assert "geoplant" in [p.id for p in search("César")]  # author, accented
    assert "vrsbench" in [p.id for p in search("visual question answering")]  # task
    assert "g3" in [p.id for p in search("im2gps3k")]  # dataset
    assert [p.id for p in search("flood sentinel-1")] == ["kurosiwo"]  # every word must match
    assert search("no such words anywhere xyzzy") == []
    assert len(search("")) == 26


def test_catalog_import_is_stdlib_only() -> None:
    code = (
        "import sys, geoneurips.catalog\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'numpy', 'pandas', 'rasterio', 'matplotlib'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------- parser snippets

SNIPPET = """\
# A collection
- **2024.9.28**: Update 2 papers.

#### First Paper: With a Subtitle~~~
| :pushpin: Spotlight |

> Ann Author, Bo Builder~~

* Paper: https://arxiv.org/abs/0000.00001~~~
* Code: Null
* <details>
    <summary>Abstract (Click to expand):</summary>
    First line of the abstract.
    Second line.
  </details>


#### Second Paper

> Cid Coder

* Paper: Null
* Dataset and code: https://example.org/data
* Project: https://example.org/
""".replace("~", " ")  # "~" marks trailing spaces, which the parser must tolerate


def test_parse_snippet() -> None:
    first, second = parse_collection(SNIPPET)
    assert first.title == "First Paper: With a Subtitle"
    assert first.tags == ("Spotlight",)
    assert first.authors == ("Ann Author", "Bo Builder")
    assert first.links == {"paper": "https://arxiv.org/abs/0000.00001"}
    assert first.code_url is None
    assert first.abstract == "First line of the abstract. Second line."
    assert first.line == 4
    assert second.tags == ()
    assert second.abstract == ""  # no <details> block
    assert second.paper_url is None
    assert second.links == {
        "dataset and code": "https://example.org/data",
        "project": "https://example.org/",
    }
    assert second.code_url == "https://example.org/data"
    assert second.data_url == "https://example.org/data"


def test_explicit_null_code_wins_over_dataset_and_code() -> None:
    (entry,) = parse_collection(
        "#### T\n> A\n* Dataset and code: https://example.org/d\n* Code: Null\n"
    )
    assert entry.code_url is None
    (entry,) = parse_collection("#### T\n> A\n* Code: https://example.org/c\n")
    assert entry.code_url == "https://example.org/c"


def test_heading_without_authors_names_the_line() -> None:
    text = "#### Good\n> A\n* Paper: Null\n\n#### Bad one\n\n* Paper: https://x.org\n"
    with pytest.raises(ValueError, match=r"line 5\b.*Bad one"):
        parse_collection(text)
    with pytest.raises(ValueError, match=r"line 3\b"):
        parse_collection("intro\n\n#### Last entry\n")  # at the end of the text


def test_other_malformed_entries() -> None:
    with pytest.raises(ValueError, match=r"line 3\b.*not 'Label: value'"):
        parse_collection("#### T\n> A\n* just some words\n")
    with pytest.raises(ValueError, match=r"line 3\b.*<details>"):
        parse_collection("#### T\n> A\n* <details>\n  text\n\n#### U\n> B\n")
    with pytest.raises(ValueError, match=r"line 1\b.*without a title"):
        parse_collection("####   \n> A\n")


def test_mojibake_is_repaired() -> None:
    assert fix_mojibake("CÃ©sar and JÃ¼rgen") == "César and Jürgen"
    assert fix_mojibake("earthâ€™s, 30Ã— more") == "earth’s, 30× more"
    assert fix_mojibake("Müller, naïve, ×") == "Müller, naïve, ×"  # already correct
    (entry,) = parse_collection("#### T\n> RÃ©mi Palard, Ann\n")
    assert entry.authors == ("Rémi Palard", "Ann")


def test_load_collection_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("#### No authors\n* Paper: Null\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.md.*line 1"):
        load_collection(bad)
    with pytest.raises(FileNotFoundError):
        load_collection(tmp_path / "missing.md")
