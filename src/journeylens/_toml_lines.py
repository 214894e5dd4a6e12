"""Line numbers for fields of a TOML file (``journeylens.toml``), so that settings errors name the
line as the YAML "as code" files do (``_yaml_lines.py``).

``tomllib`` keeps no positions, so the text is scanned: table headers (``[nba]``) and arrays of
tables (``[[nba.actions]]``, counted per name, so the third header is index 2) set the current
table, and a ``key = ...`` line (dotted keys too) names ``table + key``. The field's line is the
line of its key; a field inside an inline table or array (``actions = [{...}]``) gets the line of
the key that opens it, and a table with no such key its header. Multi-line strings are skipped.

Example:
    >>> text = "[nba]\\nbaseline = 'none'\\n[[nba.actions]]\\nname = 'a'\\n[[nba.actions]]\\ncost = -1\\n"
    >>> line_of_key(text, ("nba", "actions", 1, "cost"))
    6
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from journeylens.errors import JourneyLensError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", dotted)]


def line_of_key(text: str, loc: Sequence[str | int]) -> int:
    """1-based line of the field ``loc`` (a pydantic error location) in TOML ``text``; 0 when the
    text has no line for it (module doc)."""
    wanted = tuple(loc)
    table: tuple[str | int, ...] = ()
    seen: dict[tuple[str, ...], int] = {}
    best, best_len = 0, 0
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            names = tuple(_parts(header.group(2)))
            if header.group(1) == "[[":
                seen[names] = seen.get(names, -1) + 1
                table = (*names, seen[names])
            else:
                table = names
            best, best_len = _closer(wanted, table, number, best, best_len)
            continue
        key = _KEY.match(line)
        if key:
            path = (*table, *_parts(key.group(1)))
            if path == wanted:
                return number
            best, best_len = _closer(wanted, path, number, best, best_len)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2:
                    in_string = quote
    return best


def _closer(
    wanted: tuple[str | int, ...], path: tuple[str | int, ...], number: int, best: int, best_len: int
) -> tuple[int, int]:
    """The line of the longest prefix of ``wanted`` seen so far."""
    if len(path) > best_len and wanted[: len(path)] == path:
        return number, len(path)
    return best, best_len


def read_toml(path: Path, error: type[JourneyLensError], hint: str) -> tuple[str, dict[str, Any]]:
    """The text of the TOML file ``path`` (to find lines in) and its data; a file that cannot be
    read or parsed raises ``error`` naming it (``hint`` says how to fix its syntax)."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}", hint="Check the file's permissions and encoding.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}", hint=hint) from exc
