"""JourneyLens: warehouse-native customer journey analytics.

Example:
    >>> import journeylens as jl
    >>> ws = jl.Workspace.init("/tmp/jl-example", force=True)
    >>> ws.store.count("events")
    0
"""

from __future__ import annotations

from journeylens.config import Config
from journeylens.demo import DemoResult, run_demo
from journeylens.errors import (
    BackendError,
    ConfigError,
    InputError,
    JourneyLensError,
    NotFoundError,
    QuarantineLimitError,
    WorkspaceError,
)
from journeylens.identity import IdentityRules, StitchResult, stitch
from journeylens.ingest import IngestReport, IngestSpec
from journeylens.quality import Status, status
from journeylens.report import write_report
from journeylens.store import Store
from journeylens.synth import WorldSummary, generate_world
from journeylens.workspace import Workspace

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
