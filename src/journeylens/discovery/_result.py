"""The result object every discovery view returns: a table plus the spec that made it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


@dataclass(frozen=True)
class TableResult:
    """Rows of an analysis (``table``) with notebook-friendly views.

    Subclasses add the figure (``plot``) and any extra parts (totals, start/end activities).
    """

    table: pa.Table

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def records(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.records()}

    def plot(self) -> go.Figure:
        raise NotImplementedError(f"{type(self).__name__} has no chart")

    def _repr_html_(self) -> str:
        html: str = self.to_pandas().head(50).to_html(index=False)
        return html
