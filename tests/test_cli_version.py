"""`journeylens --version`: what a bug report starts with, and what the clean-install check runs first."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

import journeylens
from journeylens.cli import app


def test_version_prints_the_installed_version_and_exits() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"journeylens {version('journeylens')}\n"
    assert version("journeylens") == journeylens.__version__


def test_version_is_eager_and_no_arguments_still_shows_help() -> None:
    # Eager: printed before the command is looked up, so even an unknown command does not fail.
    result = CliRunner().invoke(app, ["--version", "no-such-command"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("journeylens ")
    bare = CliRunner().invoke(app, [])
    assert "Usage:" in bare.output and "demo" in bare.output
