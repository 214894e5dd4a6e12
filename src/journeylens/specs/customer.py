"""Which customer a customer-360 view shows, and how much of the timeline: the spec only.

Example:
    >>> CustomerSpec(key="u1", limit=20).limit
    20
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from journeylens.analyses._options import Cli


class CustomerSpec(BaseModel):
    """One customer, by any of their identifiers, with the first ``limit`` timeline events (or all)."""

    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Cli(argument=True, help="Customer id, user id, anonymous id, or type:value.")] = (
        Field(min_length=1, description="Customer id, user id, anonymous id, or type:value.")
    )
    limit: Annotated[
        int | None,
        Cli(help="Timeline events to list (default: all in JSON and CSV; the table shows the first 50)."),
    ] = Field(None, ge=1, description="Timeline events to list (None: all).")
