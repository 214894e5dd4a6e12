"""JourneyLens: warehouse-native customer journey analytics.

Example:
    >>> import journeylens as jl
    >>> ws = jl.Workspace.init("/tmp/jl-example", force=True)
    >>> ws.store.count("events")
    0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens._lazy import lazy_names
from journeylens.errors import (
    BackendError,
    ConfigError,
    InputError,
    JourneyLensError,
    NotFoundError,
    QuarantineLimitError,
    StaleModelError,
    WorkspaceError,
)

if TYPE_CHECKING:
    from journeylens.config import Config
    from journeylens.demo import DemoResult, run_demo
    from journeylens.identity import IdentityRules, StitchResult, stitch
    from journeylens.ingest import IngestReport, IngestSpec
    from journeylens.quality import Status, status
    from journeylens.report import write_report
    from journeylens.store import Store
    from journeylens.synth import WorldSummary, generate_world
    from journeylens.workspace import Workspace

# Public names and the module each lives in: imported on first use, so that `import journeylens`
# (and the CLI's start-up) does not pay for the engine, pandas and plotly until they are needed.
_LAZY = {
    "Config": "journeylens.config",
    "DemoResult": "journeylens.demo",
    "run_demo": "journeylens.demo",
    "IdentityRules": "journeylens.identity",
    "StitchResult": "journeylens.identity",
    "stitch": "journeylens.identity",
    "IngestReport": "journeylens.ingest",
    "IngestSpec": "journeylens.ingest",
    "Status": "journeylens.quality",
    "status": "journeylens.quality",
    "write_report": "journeylens.report",
    "Store": "journeylens.store",
    "WorldSummary": "journeylens.synth",
    "generate_world": "journeylens.synth",
    "Workspace": "journeylens.workspace",
}


__getattr__ = lazy_names(__name__, _LAZY)


__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Config",
    "ConfigError",
    "DemoResult",
    "IdentityRules",
    "IngestReport",
    "IngestSpec",
    "InputError",
    "JourneyLensError",
    "NotFoundError",
    "QuarantineLimitError",
    "StaleModelError",
    "Status",
    "StitchResult",
    "Store",
    "Workspace",
    "WorkspaceError",
    "WorldSummary",
    "__version__",
    "generate_world",
    "run_demo",
    "status",
    "stitch",
    "write_report",
]
