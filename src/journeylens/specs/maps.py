"""What the ``journeylens map`` analyses compute: the specs only.

Example:
    >>> MapMonitorSpec(map="purchase", since="2026-03-01", period="week").since.isoformat()
    '2026-03-01'
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from journeylens.analyses._options import Cli
from journeylens.maps.model import MonitorPeriod

__all__ = ["MapMonitorSpec"]


class MapMonitorSpec(BaseModel):
    """What ``journeylens map monitor MAP`` watches: a map, from when, per day or week."""

    model_config = ConfigDict(extra="forbid")

    map: Annotated[str, Cli(argument=True, help="Map name (maps/NAME.yaml) or path to a map file.")] = Field(
        min_length=1, description="Map name (maps/NAME.yaml) or path to a map file."
    )
    since: Annotated[
        date | None,
        Cli(
            input=str,
            help="Monitor from this date (YYYY-MM-DD); every period before it is the baseline. "
            "Default: the first 56 days (8 weeks) are the baseline.",
        ),
    ] = Field(None, description="First monitored date; the periods before it form the baseline.")
    period: Annotated[
        MonitorPeriod | None, Cli(input=str, help="day or week (default: the map's monitor.period).")
    ] = Field(None, description="Series granularity; None: the map's monitor.period.")
