"""What ``journeylens map show`` returns: a designed map with its data lanes (:class:`MapView`).

Computed by :func:`journeylens.maps.show.show_map`; drawn by :mod:`journeylens.maps._drawing`
(HTML) and :mod:`journeylens.maps._exports` (Mermaid, DOT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go
    import pyarrow as pa

    from journeylens.maps.model import JourneyMap


class StageDeviations(TypedDict, total=False):
    """What ``journeylens map check`` found for one stage: the share of the map's journeys with a
    deviation there (0..1) and how many; for those journeys against conforming ones, the difference
    in success rate and in cost to serve with 95% intervals, and the money the map's costs imply
    (per journey, and in total: ``cost``). An association, not what fixing the stage would save."""

    share: float
    journeys: int
    cost: float | None
    cost_per_journey: float | None
    success_diff: float | None
    success_diff_lo: float | None
    success_diff_hi: float | None
    cost_to_serve_diff: float | None
    cost_to_serve_diff_lo: float | None
    cost_to_serve_diff_hi: float | None


DEVIATION_FIELDS = tuple(StageDeviations.__annotations__)
"""The deviations lane's fields; each stage record has them prefixed ``deviation_``."""


@dataclass(frozen=True)
class MapView:
    """A designed map with its data lanes, one record per stage (``stages``, in map order).

    ``touchpoints``: stage x touchpoint x channel volumes; ``flows``: journeys from a stage to the
    next stage they enter (``to`` None: the journey ends); ``outside``: the most frequent
    touchpoints of the map's journeys that no stage plans; ``deviations``: the optional input
    from ``map check`` (None: not run); ``emotions_linked``: the stages carry the actual emotion of
    the answers about them (-2..2, 95% t interval, ``emotion_answers``). ``out`` is the file
    written by ``map show``, if any.
    """

    #: The JSON contract (``--format json``; docs/cli.md reads it).
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "map",
        "journey_type",
        "segment",
        "goal",
        "totals (object: journeys, journeys_in_stages, events, events_outside_stages)",
        "stages (records: rank, stage, required, journeys, reach, events, channels, median_s, p80_s, "
        "target_s, target_percentile, at_target_percentile_s, within_target_n, within_target_d, "
        "target_met, success_n, success_d, success_rate, success_lo, success_hi, expected_emotion, "
        "actual_emotion, actual_emotion_lo, actual_emotion_hi, emotion_answers, deviation_share, "
        "deviation_journeys, deviation_cost, deviation_cost_per_journey, "
        "deviation_success_diff, deviation_success_diff_lo, deviation_success_diff_hi, "
        "deviation_cost_to_serve_diff, deviation_cost_to_serve_diff_lo, deviation_cost_to_serve_diff_hi; "
        "channels is an object: channel -> events)",
        "touchpoints (records: stage, touchpoint, channel, events, journeys)",
        "flows (records: from, to, journeys, entries; to is null where the journey ends)",
        "outside_stages (records: touchpoint, events, journeys)",
    )

    journey_map: JourneyMap
    stages: list[dict[str, Any]]
    touchpoints: list[dict[str, Any]]
    flows: list[dict[str, Any]]
    outside: list[dict[str, Any]]
    totals: dict[str, int]
    deviations: dict[str, StageDeviations] | None = None
    emotions_linked: bool = False
    """The actual emotion lane was computed (``voc.emotion_curve.stage_emotions``)."""
    file: Path | None = None
    out: Path | None = None
    text: str = field(default="", repr=False)
    """What ``map show`` wrote or prints (HTML, Mermaid, DOT or JSON)."""

    @property
    def name(self) -> str:
        return self.journey_map.name or self.journey_map.journey_type

    def records(self) -> list[dict[str, Any]]:
        return self.stages

    def to_dict(self) -> dict[str, Any]:
        m = self.journey_map
        return {
            "map": self.name,
            "journey_type": m.journey_type,
            "segment": m.segment,
            "goal": m.goal,
            "totals": self.totals,
            "stages": self.stages,
            "touchpoints": self.touchpoints,
            "flows": self.flows,
            "outside_stages": self.outside,
        }

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.stages)

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        return pa.Table.from_pandas(self.to_pandas().drop(columns=["channels"]), preserve_index=False)

    def plot(self) -> go.Figure:
        """The emotion line: expected per stage (from the map) and actual (empty until feedback)."""
        from journeylens.maps._drawing import emotion_figure

        return emotion_figure(self)

    def html(self) -> str:
        """The whole self-contained page (plotly.js inlined, print stylesheet)."""
        from journeylens.maps._drawing import map_page

        return map_page(self)

    def mermaid(self) -> str:
        """The map as a Mermaid ``journey`` diagram."""
        from journeylens.maps._exports import to_mermaid

        return to_mermaid(self)

    def dot(self) -> str:
        """The stages and the journeys flowing between them as a Graphviz DOT digraph."""
        from journeylens.maps._exports import to_dot

        return to_dot(self)

    def _repr_html_(self) -> str:
        from journeylens.maps._drawing import map_fragment

        return map_fragment(self, figure=False)
