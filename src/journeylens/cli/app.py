"""The ``journeylens`` command line. Errors are translated to messages in exactly one place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from journeylens.cli._commands import FormatOpt, NoBuildOpt, WideOpt, WorkspaceOpt, ensure_fresh, register
from journeylens.cli._feedback_app import feedback_app
from journeylens.cli._ingest_cmd import INGEST_FIRST, ingest
from journeylens.cli._output import OutputFormat, build_progress, err_console, first, notice, render
from journeylens.cli._output import bar as _bar
from journeylens.cli._privacy import forget
from journeylens.cli._server_cmd import keys_app, serve
from journeylens.errors import InputError, JourneyLensError
from journeylens.export import ExportFormat

if TYPE_CHECKING:
    pass

# The engine (Ibis, DuckDB) and the workspace are imported inside the commands that use them, so
# that `--help` and commands that do not touch data start fast.

app = typer.Typer(
    name="journeylens",
    help="Customer journey analytics on your own touchpoint data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    # Imported here: only `--version` pays for reading the installed metadata at start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("journeylens")
    except PackageNotFoundError:  # running from a source tree that was never installed
        from journeylens import __version__ as number
    typer.echo(f"journeylens {number}")
    raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Options of `journeylens` itself (each command has its own)."""


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")] = Path("."),
    timezone: Annotated[str | None, typer.Option(help="IANA time zone for naive timestamps.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing journeylens.toml.")] = False,
) -> None:
    """Create a workspace: journeylens.toml, a maps/ folder, a starter themes.yaml and an embedded
    DuckDB store."""
    from journeylens.workspace import Workspace

    ws = Workspace.init(directory, force=force, timezone=timezone)
    ws.store  # noqa: B018 - creates the tables now, so a broken backend fails here
    ws.close()
    root = escape(str(ws.root))
    err_console.print(f"Workspace created at [bold]{root}[/]. Next: journeylens ingest FILE -w {root}")


app.command()(ingest)
app.command()(serve)
app.add_typer(keys_app, name="keys")
app.command()(forget)


@app.command()
def status(
    workspace: WorkspaceOpt = Path("."), fmt: FormatOpt = OutputFormat.table, wide: WideOpt = False
) -> None:
    """Row counts of every table (and unlinked feedback), quarantined records by reason, and the
    last ingests."""
    from journeylens.quality import workspace_status
    from journeylens.workspace import Workspace

    result = workspace_status(Workspace.open(workspace))
    if fmt is OutputFormat.json:
        render(result.to_dict(), fmt)
        return
    if fmt is OutputFormat.csv:
        render([{"table": k, "rows": v} for k, v in result.tables.items()], fmt)
        return
    render(_table_rows(result.tables, result.unlinked_feedback), fmt, title="Tables")
    render(result.quarantine or [{"quarantined": 0}], fmt, title="Quarantine by reason", wide=wide)
    ingests = first(result.ingests, INGEST_FIRST) or [{"ingests": 0}]
    render(ingests, fmt, title="Last ingests", extra=("ingest_id", "started_at"), wide=wide)


def _table_rows(tables: dict[str, int], unlinked_feedback: int) -> list[dict[str, Any]]:
    """Rows per table; with anonymous feedback, a note column says how much of it is unlinked."""
    rows: list[dict[str, Any]] = [{"table": k, "rows": v} for k, v in tables.items()]
    if unlinked_feedback:
        note = f"{unlinked_feedback:,} unlinked: no user_id, anonymous_id or case_id"
        rows = [r | {"note": note if r["table"] == "feedback" else ""} for r in rows]
    return rows


@app.command()
def build(
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every customer, not only those the new data touches.")
    ] = False,
) -> None:
    """Stitch identities into customers (customer_map), then split events into journeys.

    Incremental when the last build can be extended exactly; the first line says which path ran.
    """
    from dataclasses import asdict

    from journeylens.model import build_model
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)
    with _bar() as bar:
        summary = build_model(ws.store, ws.config, progress=build_progress(bar), full=full)
    notice(summary.line)
    render(asdict(summary), fmt, title="Customers and journeys")


journeys_app = typer.Typer(help="Journeys: intent episodes and their outcomes.", no_args_is_help=True)
app.add_typer(journeys_app, name="journeys")


export_app = typer.Typer(help="Export derived tables.", no_args_is_help=True)
app.add_typer(export_app, name="export")

app.add_typer(feedback_app, name="feedback")

map_app = typer.Typer(
    help="Journey maps as code: designed maps in the workspace's maps/ folder (docs/maps.md).",
    no_args_is_help=True,
)
app.add_typer(map_app, name="map")


@export_app.command("customer-map")
def export_customer_map(
    out: Annotated[
        str | None, typer.Option(help="File to write; standard output when absent or '-'.")
    ] = None,
    file_format: Annotated[ExportFormat, typer.Option("--format", "-f", help="File format.")] = (
        ExportFormat.csv
    ),
    workspace: WorkspaceOpt = Path("."),
    no_build: NoBuildOpt = False,
) -> None:
    """Write customer_map (identifier_type, identifier_value, customer_id, shared) to a file or a pipe;
    builds customers and journeys first if they are stale."""
    from journeylens.export import export_table
    from journeylens.identity.profile import require_customer_map
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)
    ensure_fresh(ws, build=not no_build)
    store = ws.store
    rows = require_customer_map(store).order_by(["customer_id", "identifier_type", "identifier_value"])
    result = export_table(store, rows, out, file_format)
    err_console.print(f"{result.rows:,} rows written to {escape(result.where)}")


@map_app.command("validate")
def map_validate(
    map: Annotated[str, typer.Argument(help="A map name in maps/ or a YAML file.")],
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Check a map: its YAML, every field, its rules; against the workspace, its journey type and
    (when events are loaded) its touchpoint names. Errors name the file, line and field."""
    from journeylens.cli._maps import validate_map

    render(validate_map(map, workspace), fmt, title="Map")


@map_app.command("schema")
def map_schema_command() -> None:
    """Print the JSON Schema of map files (editors validate maps with it)."""
    from journeylens.cli._output import to_json
    from journeylens.maps.model import map_schema

    typer.echo(to_json(map_schema()))


@map_app.command("list")
def map_list(
    workspace: WorkspaceOpt = Path("."), fmt: FormatOpt = OutputFormat.table, wide: WideOpt = False
) -> None:
    """List the maps in the workspace's maps/ folder: name, journey type, segment, stages, file."""
    from journeylens.cli._maps import map_rows

    rows = map_rows(workspace)
    if fmt is OutputFormat.table and not rows:
        err_console.print("No maps yet. Draft one: journeylens map draft --type TYPE --out maps/TYPE.yaml")
        return
    render(rows, fmt, title="Maps", extra=("file", "error"), wide=wide)


@app.command()
def report(
    out: Annotated[
        Path | None, typer.Option(help="Where to write the HTML (default: WORKSPACE/report.html).")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    no_build: NoBuildOpt = False,
) -> None:
    """Write the self-contained HTML report (works offline); builds customers and journeys if stale."""
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)
    with _bar() as bar:
        path = ws.report(out, build=not no_build, progress=build_progress(bar), notice=notice)
    err_console.print(f"Report written to [bold]{escape(str(path))}[/]")


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write the world to.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers (~25 events each).")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 7,
    file_format: Annotated[str, typer.Option("--file-format", help="parquet or csv")] = "parquet",
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Write a realistic synthetic omnichannel world (canonical layout) plus ground_truth.json."""
    from journeylens.synth import generate_world

    if file_format not in ("parquet", "csv"):
        raise InputError.unknown_choice("--file-format", file_format, ["parquet", "csv"])
    with _bar() as bar:
        task = bar.add_task("customers", total=customers)
        summary = generate_world(
            out, customers=customers, seed=seed, fmt=file_format,  # type: ignore[arg-type]
            progress=lambda done, _total: bar.update(task, completed=done),
        )  # fmt: skip
    render({"out": str(summary.out), "ground_truth": str(summary.ground_truth), **summary.counts}, fmt)


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "journeylens-demo"
    ),
    customers: Annotated[int, typer.Option(min=1, help="Synthetic customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """The main job: generate a synthetic world, ingest it, and write the HTML report."""
    from journeylens.demo import DemoProgress, run_demo

    with _bar() as bar:

        class _Progress(DemoProgress):
            task: Any = None

            def stage(self, name: str, total: int | None) -> None:
                if self.task is not None:
                    bar.update(self.task, total=bar.tasks[self.task].completed or 1,
                               completed=bar.tasks[self.task].completed or 1)  # fmt: skip
                self.task = bar.add_task(name, total=total)

            def advance(self, done: int) -> None:
                bar.update(self.task, completed=done)

        result = run_demo(directory, customers=customers, seed=seed, progress=_Progress())
    loaded = {r.table: 0 for r in result.ingests}
    for r in result.ingests:
        loaded[r.table] += r.loaded
    render([{"table": t, "loaded": n} for t, n in loaded.items()], OutputFormat.table, title="Loaded")
    report, root = escape(str(result.report)), escape(str(result.workspace))
    err_console.print(
        f"\nReport: [bold]{report}[/] (open it in a browser; it works offline)\n"
        f"Workspace: {root}\n"
        f"Explore:  journeylens status -w {root}\n"
        f"          journeylens journeys summary --by segment -w {root}  ({result.journeys:,} journeys)\n"
        f"          journeylens dfg --type purchase --max-nodes 15 -w {root}\n"
        f"          journeylens funnel product_page add_to_cart checkout order_confirmation -w {root}\n"
        f"          journeylens map show purchase -w {root}  (the designed map, drawn with the data)\n"
        f"          journeylens customer USER_ID -w {root}\n"
        f"          journeylens ingest YOUR_FILE.csv -w {root}\n"
        f"Dashboard: journeylens serve -w {root}\n"
        "           then open the address it prints and sign in with this read token (also the REST "
        "API's Bearer token, docs/api.md):",
        soft_wrap=True,  # paths and commands cut by line breaks cannot be copied
    )
    err_console.print(f"           {escape(result.read_token)}", soft_wrap=True)  # one line, to copy


@app.command()
def bench(
    events: Annotated[
        str,
        typer.Option(
            help="Synthetic events: 100k, 1M, 10M, 50M (outcome_accuracy: worlds of 4,000 customers per 1M)."
        ),
    ] = "1M",
    stage: Annotated[list[str] | None, typer.Option(help="Run only these stages (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for data, work files and results.")] = Path("bench/out"),
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="Cap DuckDB in the world workspace, e.g. 8GB (it spills beyond it); default 80% of RAM."
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Time each stage next to its hand-written floor, in one run; print ratios and peak memory.

    The outcome_accuracy stage measures instead how right journeys and outcomes are against the
    ground truth of three synthetic worlds (seeds 101-103), with its targets met or missed.
    """
    import re

    from journeylens.benchmark import parse_size, run_bench
    from journeylens.cli._bench import show_bench
    from journeylens.store.settings import MEMORY_SIZE

    size = parse_size(events)
    if memory_limit is not None and not re.match(MEMORY_SIZE, memory_limit):
        raise InputError.bad_flag(
            "--memory-limit",
            memory_limit,
            "is not a memory size.",
            hint="Use a number and a unit, e.g. 8GB or 512MB.",
        )
    results = run_bench(
        size,
        out,
        stage,
        progress=lambda msg: err_console.print(f"[dim]{escape(msg)}[/]"),
        memory_limit=memory_limit,
    )
    show_bench(results, fmt)


def main() -> None:
    """Console entry point: the one place that turns JourneyLensError into a message and exit code."""
    try:
        app(standalone_mode=False)
    except JourneyLensError as exc:
        # Messages quote user data (column lists, values): never interpret them as markup.
        err_console.print(Text.assemble(("Error: ", "bold red"), exc.message), soft_wrap=True)
        if exc.hint:
            err_console.print(Text.assemble(("Hint: ", "bold"), exc.hint), soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, ...
        show = getattr(exc, "show", None)
        if show:
            show()
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except Exception as exc:
        if not _engine_error(exc):
            raise
        # Not expected: everything users can cause should be a JourneyLensError. Say so plainly.
        err_console.print(Text.assemble(("Error: ", "bold red"), f"the engine failed: {exc}"), soft_wrap=True)
        hint = "this is likely a JourneyLens bug; please report the command and the data."
        err_console.print(Text.assemble(("Hint: ", "bold"), hint))
        sys.exit(3)


def _engine_error(exc: Exception) -> bool:
    """An Ibis or DuckDB error; checked by module so that neither is imported just to catch it."""
    return any(
        cls.__module__.split(".")[0] in ("ibis", "duckdb", "_duckdb") for cls in type(exc).__mro__[:-1]
    )


# The analysis commands are generated from the registry (journeylens.analyses).
register(app, {"journeys": journeys_app, "export": export_app, "map": map_app, "feedback": feedback_app})
