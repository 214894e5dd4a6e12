"""The progress bar every long command shows on stderr (hidden when stderr is not a terminal)."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from journeylens.cli._output import err_console


def bar() -> Progress:
    """A bar with description, progress, count and elapsed time.

    Example:
        >>> with bar() as b:  # doctest: +SKIP
        ...     task = b.add_task("Building journeys", total=2)
    """
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=not err_console.is_terminal,
    )  # fmt: skip
