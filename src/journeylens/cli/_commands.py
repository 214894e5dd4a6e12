"""The analysis commands, generated from the registry: options, one runner, one renderer.

Typer reads a command's parameters from its callback's signature; each generated callback gets an
``inspect.Signature`` of ``Annotated`` parameters built from the spec fields' ``Cli`` metadata, so
every option is defined once, on the spec, and the shared journey-filter options are the
:class:`~journeylens.specs.discovery.JourneyFilter` fields everywhere.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from journeylens.analyses import ANALYSES, Analysis, load
from journeylens.analyses._options import Option, options
from journeylens.cli._output import OutputFormat, render
from journeylens.errors import InputError

# The options every command shares (the hand-written commands in app.py use them too).
WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (default: current folder or a parent).")
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Table: every column, at its natural width (the default fits 80 columns, most important "
        "first). JSON and CSV always have every field.",
    ),
]
NoBuildOpt = Annotated[
    bool,
    typer.Option(
        "--no-build", help="Refuse instead of building customers and journeys when they are missing or stale."
    ),
]


def command_options(analysis: Analysis) -> list[Option]:
    """The options of ``analysis``: its spec's, then those of the further models it takes (once each)."""
    seen: dict[str, Option] = {}
    for model in analysis.spec_models():
        for opt in options(model):
            seen.setdefault(opt.name, opt)
    return list(seen.values())


def _parameter(opt: Option) -> inspect.Parameter:
    helptext = opt.help
    if opt.argument:
        info: Any = typer.Argument(help=helptext, show_default=False)
    else:
        names = [opt.flag, *([opt.short] if opt.short else [])]
        info = typer.Option(*names, help=helptext)
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    annotation = opt.input if opt.required else opt.input | None
    default = inspect.Parameter.empty if opt.required else opt.default
    return inspect.Parameter(opt.name, kind, default=default, annotation=Annotated[annotation, info])


def _common(analysis: Analysis) -> list[inspect.Parameter]:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [
        inspect.Parameter("workspace", kind, default=Path("."), annotation=WorkspaceOpt),
        inspect.Parameter("fmt", kind, default=OutputFormat.table, annotation=FormatOpt),
        inspect.Parameter("wide", kind, default=False, annotation=WideOpt),
    ]  # fmt: skip
    if any(opt.name == "format" for opt in command_options(analysis)):
        # The spec has formats of its own (map show: html, mermaid, dot, json); its view prints them.
        params = [p for p in params if p.name != "fmt"]
    if analysis.needs_model:
        params.append(inspect.Parameter("no_build", kind, default=False, annotation=NoBuildOpt))
    return params


def make_command(analysis: Analysis) -> Any:
    """A Typer callback for ``analysis`` whose signature lists its options."""

    def command(**values: Any) -> None:
        run_command(analysis, values)

    params = [_parameter(opt) for opt in command_options(analysis)]
    # Positional arguments first, as a command line reads them.
    params.sort(key=lambda p: not _is_argument(p))
    command.__signature__ = inspect.Signature([*params, *_common(analysis)])  # type: ignore[attr-defined]
    command.__doc__ = analysis.doc
    command.__name__ = analysis.method
    return command


def _is_argument(param: inspect.Parameter) -> bool:
    return any(
        isinstance(m, typer.models.ArgumentInfo) for m in getattr(param.annotation, "__metadata__", ())
    )


def run_command(analysis: Analysis, values: dict[str, Any]) -> None:
    """Open the workspace, keep the model fresh, build the spec, run, render."""
    from journeylens.analyses._build import build_spec
    from journeylens.workspace import Workspace

    workspace, wide = values.pop("workspace"), values.pop("wide", False)
    fmt = values.pop("fmt", OutputFormat.table)
    no_build = values.pop("no_build", False)
    spec = build_spec(analysis, values)
    if fmt is not OutputFormat.table and getattr(spec, "out", False) is None:
        raise InputError(
            f"`journeylens {analysis.name}` writes its output to standard output here, so "
            f"--format {fmt.value} would mix its summary into it.",
            hint="Name a file to write, or leave out --format (the summary then goes to stderr).",
        )
    if analysis.standalone_when and getattr(spec, analysis.standalone_when) is not None:
        result = load(analysis.run)(None, spec)  # reads only its own input: no workspace needed
    else:
        ws = Workspace.open(workspace)
        try:
            if analysis.needs_model:
                ensure_fresh(ws, build=not no_build)
            result = ws.run_analysis(analysis, spec)
        finally:
            ws.close()
    if fmt is OutputFormat.table:
        load(analysis.view)(result, spec, wide=wide)
        return
    part = getattr(result, analysis.json if fmt is OutputFormat.json else analysis.csv)
    render(part() if callable(part) else part, fmt)


def ensure_fresh(ws: Any, *, build: bool) -> None:
    """Build customers and journeys first when they are stale, with the progress bar and one line
    saying why (or refuse with ``--no-build``): what every command that reads them does."""
    from journeylens.cli._output import bar, build_progress, notice

    with bar() as progress_bar:
        ws.ensure_model(build=build, progress=build_progress(progress_bar), notice=notice)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add every registered analysis to ``app`` (``"journeys summary"`` goes to the ``journeys`` group)."""
    for analysis in ANALYSES.values():
        group, _, name = analysis.name.rpartition(" ")
        target = groups[group] if group else app
        target.command(name, help=analysis.doc)(make_command(analysis))
