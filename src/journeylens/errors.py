"""One exception tree for the whole product.

Every error a user can cause derives from :class:`JourneyLensError`. Subclasses also inherit the
matching builtin so that ``except ValueError`` keeps working for library users. Messages are built
by named constructors: they say what was wrong, where (file, line, field), what was available, and
end with ``Hint: ...``. The CLI translates these errors in exactly one place (``cli/app.py``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class JourneyLensError(Exception):
    """Base class of every error JourneyLens raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\nHint: {hint}" if hint else message)


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` entries of ``choices`` that look like ``word`` (for hints)."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)


def _listing(items: Iterable[str], limit: int = 25) -> str:
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


class WorkspaceError(JourneyLensError, FileNotFoundError):
    """A workspace is missing, or cannot be created where asked."""

    @classmethod
    def not_found(cls, start: Path) -> WorkspaceError:
        return cls(
            f"No JourneyLens workspace found at {start} or any of its parents (looked for journeylens.toml).",
            hint=f"Create one with `journeylens init {start}` or pass --workspace DIR.",
        )

    @classmethod
    def cannot_create(cls, path: Path, exc: OSError) -> WorkspaceError:
        return cls(
            f"Cannot create the workspace folder {path}: {exc.strerror or exc}.", hint="Check permissions."
        )

    @classmethod
    def already_exists(cls, path: Path) -> WorkspaceError:
        return cls(
            f"A workspace already exists at {path}.",
            hint="Use it as it is, or pass --force to overwrite its journeylens.toml.",
        )


class ConfigError(JourneyLensError, ValueError):
    """journeylens.toml (or another settings file) is invalid."""

    @classmethod
    def invalid(cls, path: Path, field: str, problem: str, hint: str, line: int = 0) -> ConfigError:
        """``line``: 1-based line of the field in the file (0 when unknown)."""
        where = f"{path}, line {line}" if line else str(path)
        return cls(f"{where}: field '{field}': {problem}", hint=hint)


class BackendError(JourneyLensError, RuntimeError):
    """The configured engine cannot be reached or lacks what is needed."""

    @classmethod
    def missing_extra(
        cls, engine: str, extra: str, exc: Exception, *, package: str = "journeylens"
    ) -> BackendError:
        """``package``: whose extra installs the engine (JourneyLens' own, or ibis-framework's)."""
        return cls(
            f"The {engine} backend needs packages that are not installed ({exc}).",
            hint=f"Install them with `pip install '{package}[{extra}]'`.",
        )

    @classmethod
    def locked(cls, path: str, holder: str) -> BackendError:
        return cls(
            f"The workspace store {path} is in use by another process ({holder}): another ingest, "
            "or a notebook or command that has the workspace open. DuckDB lets one process write "
            "at a time.",
            hint="Wait for that process to finish, or close the workspace there (ws.close()), "
            "then run again.",
        )

    @classmethod
    def read_only(cls, path: str, problem: str) -> BackendError:
        return cls(
            f"The workspace store {path} cannot be written: {problem}.",
            hint="Make the workspace folder and its journeylens.duckdb* files writable for this user "
            "(or copy the workspace to a writable folder), then run again.",
        )

    @classmethod
    def unreachable(cls, url: str, endpoint: str, seconds: float, exc: Exception) -> BackendError:
        return cls(
            f"The Spark server of backend URL {url!r} does not answer at {endpoint} within "
            f"{seconds:g} s ({exc}).",
            hint="Check that the master / Connect server is running and reachable from here "
            "([backend] url in journeylens.toml; [backend] connect_timeout to wait longer).",
        )

    @classmethod
    def spark_session(cls, url: str, problem: str, hint: str) -> BackendError:
        return cls(f"Spark at {url!r}: {problem}", hint=hint)

    @classmethod
    def bad_url(cls, url: str, exc: Exception) -> BackendError:
        return cls(
            f"Cannot connect to backend URL {url!r}: {exc}",
            hint="Check [backend] url in journeylens.toml, e.g. 'duckdb://journeylens.duckdb'.",
        )


class InputError(JourneyLensError, ValueError):
    """A source file, flag or record cannot be used as given."""

    @classmethod
    def file_not_found(cls, path: str) -> InputError:
        return cls(
            f"No such file or directory: {path}",
            hint="Check the path; globs like 'data/*.csv' and directories are accepted.",
        )

    @classmethod
    def empty_file(cls, path: str) -> InputError:
        return cls(
            f"{path}: the file is empty (no header, no records).",
            hint="Check that the export finished; nothing was loaded from this file.",
        )

    @classmethod
    def missing_columns(
        cls, path: str, missing: Iterable[str], available: Iterable[str], hint: str
    ) -> InputError:
        missing = list(missing)
        available = list(available)
        guesses = {m: close_matches(m, available) for m in missing}
        guess_txt = "; ".join(f"'{m}' looks like {g}" for m, g in guesses.items() if g)
        return cls(
            f"{path}: required column(s) {_listing(missing)} not found. "
            f"Available columns: {_listing(available)}." + (f" ({guess_txt})" if guess_txt else ""),
            hint=hint,
        )

    @classmethod
    def unreadable(cls, path: str, problem: str, hint: str) -> InputError:
        return cls(f"{path}: {problem}", hint=hint)

    @classmethod
    def bad_flag(cls, flag: str, value: str, problem: str, hint: str) -> InputError:
        return cls(f"Option {flag} {value!r}: {problem}", hint=hint)

    @classmethod
    def unknown_choice(cls, what: str, value: str, choices: Iterable[str]) -> InputError:
        choices = list(choices)
        near = close_matches(value, choices)
        return cls(
            f"Unknown {what} {value!r}. Available: {_listing(choices)}.",
            hint=f"Did you mean {_listing(near)}?" if near else f"Use one of {_listing(choices)}.",
        )

    @classmethod
    def unknown_map(cls, name: str, folder: Path, available: Iterable[str]) -> InputError:
        """A map name with no file in the workspace's maps folder (``ws.map``, ``map check``, ...)."""
        available = list(available)
        near = close_matches(name, available)
        listed = _listing(available) if available else "none"
        if near:
            hint = f"Did you mean {_listing(near)}?"
        elif available:
            hint = f"Use one of {listed} (`journeylens map list`), or give the path of a YAML file."
        else:
            hint = "Draft one: `journeylens map draft --type TYPE --out maps/NAME.yaml`."
        return cls(f"Unknown map {name!r}: no {name}.yaml in {folder}. Available: {listed}.", hint=hint)


class IngestFailedError(InputError):
    """Some files of an ingest could not be loaded; the others were (``reports`` has every file's
    outcome, failed ones with ``error`` set)."""

    def __init__(self, message: str, hint: str | None, reports: list[Any]) -> None:
        super().__init__(message, hint)
        self.reports = reports


class QuarantineLimitError(JourneyLensError):
    """More records were quarantined than ``--max-bad`` allows (the valid ones were loaded)."""

    exit_code = 1


class NotFoundError(JourneyLensError, KeyError):
    """A requested object (customer, table, ingest) does not exist."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return Exception.__str__(self)


class StaleModelError(JourneyLensError, RuntimeError):
    """Derived tables are missing or older than the data, and building them was refused (--no-build)."""

    @classmethod
    def needs_build(cls, why: str) -> StaleModelError:
        """``why``: the reason the model is stale, e.g. "2 ingests (events) since the last build"."""
        return cls(
            f"Customers and journeys need to be built first: {why}.",
            hint="Run `journeylens build` (Python: `ws.build()` or build=True), or run without --no-build.",
        )
