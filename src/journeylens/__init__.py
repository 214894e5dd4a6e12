"""JourneyLens: warehouse-native customer journey analytics.

Example:
    >>> import journeylens as jl
    >>> ws = jl.Workspace.init("/tmp/jl-example", force=True)
    >>> ws.store.count("events")
    0
"""

from __future__ import annotations

from journeylens.config import Config
from journeylens.errors import (
    BackendError,
    ConfigError,
    InputError,
    JourneyLensError,
    NotFoundError,
    QuarantineLimitError,
    WorkspaceError,
)
from journeylens.ingest import IngestReport, IngestSpec
from journeylens.quality import Status, status
from journeylens.store import Store
from journeylens.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Config",
    "ConfigError",
    "IngestReport",
    "IngestSpec",
    "InputError",
    "JourneyLensError",
    "NotFoundError",
    "QuarantineLimitError",
    "Status",
    "Store",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "status",
]
