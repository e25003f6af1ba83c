"""Parse a paper collection written in the "GeoAI in NeurIPS" markdown format.

The format, one entry per paper::

    #### Title of the paper
    | :pushpin: Spotlight |            (optional tag line)

    > First Author, Second Author, ...

    * Paper: https://arxiv.org/abs/...
    * Code: https://github.com/... | Null
    * <details>
        <summary>Abstract (Click to expand):</summary>
        The abstract text, possibly over several lines.
      </details>

Anything before the first ``####`` heading (title, update log) is ignored, and so is a
heading of another level, which also closes the current entry. Bullets may use ``*`` or
``-``. A link whose value is ``Null`` (any case) is recorded as absent. Trailing spaces and
whitespace-only lines are tolerated, and UTF-8 text that was once decoded as cp1252/latin-1
("mojibake", e.g. ``CÃ©sar``) is repaired (``César``).

Only the standard library is used, so that ``geoneurips list`` starts fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ParsedPaper", "fix_mojibake", "load_collection", "parse_collection"]

_HEADING = re.compile(r"^(#{1,6})(?:\s+(.*))?$")
_BULLET = re.compile(r"^[*-]\s+(.*)$")
_LINK = re.compile(r"^([^:<>]+?)\s*:\s*(.*)$")
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")
_NULL = {"null", "none", "n/a", "-", ""}


@dataclass(frozen=True)
class ParsedPaper:
    """One entry of a collection, as written in the file (mojibake repaired).

    Attributes:
        title: the heading text, stripped.
        authors: the ``>`` line split on commas, each name stripped.
        links: bullet label lower-cased (``"paper"``, ``"code"``, ``"dataset and code"``,
            ``"project"``, ...) -> URL. Bullets whose value is ``Null`` are left out.
        code_url: the ``Code`` link; without a ``Code`` bullet, the first link whose label
            names code (``Dataset and code``). ``None`` when the file says ``Null`` or has
            no such link.
        abstract: the text of the ``<details>`` block, lines joined by spaces; ``""`` when
            the entry has none.
        tags: the cells of the optional ``| ... |`` line, emoji short codes removed, e.g.
            ``("Spotlight",)``.
        line: 1-based line number of the heading (not part of equality).
    """

    title: str
    authors: tuple[str, ...]
    links: dict[str, str] = field(default_factory=dict)
    code_url: str | None = None
    abstract: str = ""
    tags: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)

    @property
    def paper_url(self) -> str | None:
        """The ``Paper`` link, or ``None``."""
        return self.links.get("paper")

    @property
    def data_url(self) -> str | None:
        """The first link whose label names a dataset, or ``None``."""
        for label, url in self.links.items():
            if "dataset" in label.split() or label.startswith("data"):
                return url
        return None


def _cp1252_byte(ch: str) -> int | None:
    """The byte that ``ch`` came from if text was decoded as cp1252 (or latin-1)."""
    code = ord(ch)
    if code < 0x100:
        return code
    try:
        encoded = ch.encode("cp1252")
    except UnicodeEncodeError:
        return None
    return encoded[0]


def _utf8_length(lead: int) -> int:
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 sequences that were decoded as cp1252/latin-1 ("CÃ©sar" -> "César").

    Each run of non-ASCII characters is scanned left to right; where a run of characters
    maps back to the bytes of one valid UTF-8 character it is replaced by that character,
    otherwise it is kept as it is. Text that is already correct is returned unchanged
    ("Müller" stays "Müller").
    """
    if text.isascii():
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        lead = _cp1252_byte(text[i])
        size = _utf8_length(lead) if lead is not None and lead >= 0x80 else 0
        if size and i + size <= len(text):
            raw = [_cp1252_byte(c) for c in text[i : i + size]]
            if all(b is not None for b in raw):
                try:
                    out.append(bytes(b for b in raw if b is not None).decode("utf-8"))
                except UnicodeDecodeError:
                    pass
                else:
                    i += size
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _link_value(value: str) -> str | None:
    value = value.strip()
    return None if value.lower() in _NULL else value


def _code_url(links: dict[str, str], code_bullet_seen: bool) -> str | None:
    if code_bullet_seen:  # an explicit "Code:" bullet decides, Null included
        return links.get("code")
    for label, url in links.items():
        if "code" in re.split(r"\W+", label):
            return url
    return None


class _Entry:
    """Mutable state of the entry being read."""

    def __init__(self, title: str, line: int) -> None:
        self.title = title
        self.line = line
        self.authors: list[str] | None = None
        self.links: dict[str, str] = {}
        self.code_bullet = False
        self.abstract: list[str] = []
        self.tags: list[str] = []

    def finish(self) -> ParsedPaper:
        if self.authors is None:
            raise ValueError(f"line {self.line}: entry {self.title!r} has no '> authors' line")
        return ParsedPaper(
            title=self.title,
            authors=tuple(self.authors),
            links=dict(self.links),
            code_url=_code_url(self.links, self.code_bullet),
            abstract=" ".join(self.abstract),
            tags=tuple(self.tags),
            line=self.line,
        )


def parse_collection(text: str) -> list[ParsedPaper]:
    """Parse every ``####`` entry of a collection written in the format above.

    Raises:
        ValueError: on a malformed entry, naming the 1-based line: a heading without a
            title, a heading without an authors line before its first bullet or the next
            heading, a bullet that is not ``Label: value``, a ``<details>`` block that is
            never closed, or a tag line or authors line in the wrong place.
    """
    papers: list[ParsedPaper] = []
    entry: _Entry | None = None
    details_from: int | None = None  # line where the open <details> block started

    def close(at: int) -> None:
        nonlocal entry
        if details_from is not None:
            raise ValueError(f"line {details_from}: <details> block is not closed (by line {at})")
        if entry is not None:
            papers.append(entry.finish())
        entry = None

    lines = fix_mojibake(text.lstrip("\ufeff")).splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if details_from is not None:
            assert entry is not None
            if _HEADING.match(line):
                close(number)
            if "</details>" in line:
                before = line.split("</details>", 1)[0].strip()
                if before:
                    entry.abstract.append(before)
                details_from = None
            elif line and not re.fullmatch(r"<summary>.*</summary>", line):
                entry.abstract.append(line)
            continue
        if not line:
            continue
        heading = _HEADING.match(line)
        if heading:
            close(number)
            if len(heading.group(1)) == 4:
                title = (heading.group(2) or "").strip()
                if not title:
                    raise ValueError(f"line {number}: '####' heading without a title")
                entry = _Entry(title, number)
            continue
        if entry is None:  # preamble: title, update log, ...
            continue
        if line.startswith(">"):
            names = [n.strip() for n in line.lstrip(">").split(",")]
            if entry.links or entry.abstract:
                raise ValueError(f"line {number}: authors line after the links of {entry.title!r}")
            entry.authors = (entry.authors or []) + [n for n in names if n]
            continue
        if line.startswith("|"):
            if entry.authors is not None:
                raise ValueError(f"line {number}: tag line after the authors of {entry.title!r}")
            cells = (_SHORTCODE.sub("", c).strip() for c in line.strip("|").split("|"))
            entry.tags.extend(c for c in cells if c)
            continue
        bullet = _BULLET.match(line)
        if bullet:
            if entry.authors is None:
                raise ValueError(
                    f"line {entry.line}: entry {entry.title!r} has no '> authors' line "
                    f"before its first bullet (line {number})"
                )
            body = bullet.group(1).strip()
            if body.startswith("<details>"):
                details_from = number
                rest = body[len("<details>") :].strip()
                if "</details>" in rest:
                    rest = rest.split("</details>", 1)[0]
                    details_from = None
                rest = re.sub(r"<summary>.*?</summary>", "", rest).strip()
                if rest:
                    entry.abstract.append(rest)
                continue
            link = _LINK.match(body)
            if link is None or not link.group(1).strip():
                raise ValueError(f"line {number}: bullet {body!r} is not 'Label: value'")
            label = " ".join(link.group(1).split()).lower()
            if label == "code":
                entry.code_bullet = True
            value = _link_value(link.group(2))
            if value is not None:
                entry.links.setdefault(label, value)
            continue
        # Any other text inside an entry (stray words, HTML) is ignored.
    close(len(lines) + 1)
    return papers


def load_collection(path: str | Path) -> list[ParsedPaper]:
    """Read ``path`` (UTF-8) and :func:`parse_collection` it.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: on a malformed entry; the message names the file and the line.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return parse_collection(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
