"""``journeylens forget USER``: delete a person everywhere and keep them out of later ingests
(registered on the app in ``cli/app.py``; the HTTP twin is ``DELETE /v1/users/{id}``)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from journeylens.cli._commands import FormatOpt, WorkspaceOpt
from journeylens.cli._output import OutputFormat, err_console, render


def forget(
    user: Annotated[str, typer.Argument(help="The person's user id (as in events.user_id).")],
    workspace: WorkspaceOpt = Path("."),
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking for confirmation.")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Delete a person from every table (raw, derived, quarantine) and suppress their identifiers,
    so later files and events naming them are dropped and counted; the request is audited without
    personal data (docs/privacy.md)."""
    from journeylens.privacy import forget as forget_person
    from journeylens.workspace import Workspace

    if not yes:
        typer.confirm(
            f"Delete every row of user {user!r} and everyone stitched to them, for good?", abort=True
        )
    ws = Workspace.open(workspace)
    try:
        report = forget_person(ws, user, requested_by=f"cli:{_login()}")
    finally:
        ws.close()
    if fmt is OutputFormat.json:
        render(report.to_dict(), fmt)
    else:
        rows = [{"table": name, "rows_removed": n} for name, n in sorted(report.removed.items())]
        render(rows, fmt, title="Rows removed")
    what = f"{report.rows_removed} row(s) removed" if report.found else "no stored row named them"
    err_console.print(
        f"Forgot {escape(user)}: {what}; {report.suppressed} identifier(s) newly suppressed. "
        f"Request {report.request_id} is in privacy_audit."
    )
    for note in report.notes:
        err_console.print(f"Note: {escape(note)}")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"
