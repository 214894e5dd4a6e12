"""Themes against the synthetic world's truth: the measurement behind docs/voc.md ("Themes").

Each synthetic answer's theme is in ``ground_truth/feedback.parquet``. This builds a world into a
fresh workspace, runs ``feedback themes`` with the starter taxonomy, then with a thin taxonomy
(one keyword per theme, so the classifier learned from contact reasons does most of the work),
and measures NMF discovery purity on the negative comments. Run it as::

    python -m journeylens.benchmark.theme_accuracy --customers 20000 --seed 13 --out /tmp/themes

Example:
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"feedback_id": ["a", "b"], "theme": ["billing", "delivery"]})
    >>> precision_recall({("a", "billing"), ("b", "billing")}, truth)["billing"]
    (0.5, 1.0)
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from journeylens.workspace import Workspace

TRUTH_THEMES = ("billing", "delivery", "usability", "product_quality", "confusing_marketing")
THIN = """themes:
  - {name: billing, owner: billing, keywords: {en: [invoice]}, reasons: [billing]}
  - {name: delivery, owner: logistics, keywords: {en: [parcel]}, reasons: [delivery]}
  - {name: usability, owner: web, keywords: {en: [app]}, reasons: [payment]}
  - {name: product_quality, owner: product, keywords: {en: [product]}, reasons: [technical]}
  - {name: confusing_marketing, owner: marketing, keywords: {en: [promo]}, reasons: [promo]}
"""


def truth_of(world: Path) -> pd.DataFrame:
    """``feedback_id``, ``theme``, ``tone``, ``comment`` of every answer with a non-empty comment."""
    import pyarrow.parquet as pq

    truth = pq.read_table(world / "ground_truth" / "feedback.parquet").to_pandas()
    feedback = pq.read_table(world / "feedback").to_pandas()
    said = feedback[feedback.comment.fillna("").str.strip() != ""]
    return truth.merge(said[["feedback_id", "comment"]], on="feedback_id")


def precision_recall(found: set[tuple[str, str]], truth: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per true theme: precision over the comments given the theme, recall over those that have it."""
    actual = set(zip(truth.feedback_id, truth.theme, strict=True))
    known = set(truth.feedback_id)
    out = {}
    for theme in TRUTH_THEMES:
        given = {f for f, t in found if t == theme and f in known}
        true = {f for f, t in actual if t == theme}
        hit = len(given & true)
        out[theme] = (hit / max(len(given), 1), hit / max(len(true), 1))
    return out


def written_themes(ws: Workspace) -> set[tuple[str, str]]:
    """(feedback_id, theme) of every row of ``feedback_themes``."""
    from journeylens.voc.themes import THEMES_TABLE

    rows = ws.store.execute(ws.store.backend.table(THEMES_TABLE)).to_pylist()
    return {(r["feedback_id"], r["theme"]) for r in rows}


def discovery_purity(truth: pd.DataFrame, k: int) -> dict[str, Any]:
    """NMF over the truly negative comments: purity (majority true theme per candidate) and the
    true themes that are some candidate's majority."""
    from journeylens.voc.theme_discovery import nmf_candidates

    negative = truth[truth.tone == "negative"].reset_index(drop=True)
    candidates = nmf_candidates(negative.comment.tolist(), k)
    majority = [Counter(negative.theme[c.members]).most_common(1)[0] for c in candidates]
    explained = sum(c.comments for c in candidates)
    return {
        "k": k,
        "comments": len(negative),
        "purity": sum(n for _, n in majority) / max(explained, 1),
        "recovered": sorted({t for t, _ in majority}),
    }


def measure(world: Path, root: Path) -> dict[str, Any]:
    """Every figure of docs/voc.md's measurement, for the world at ``world``."""
    import journeylens as jl
    from journeylens.voc.settings import ThemeSettings
    from journeylens.voc.taxonomy import parse_taxonomy
    from journeylens.voc.themes import write_themes

    ws = jl.Workspace.init(root)
    for table in ("events", "identities", "customers", "feedback"):
        ws.ingest(paths=[str(world / table)], table=table)
    starter = ws.feedback_themes()
    truth = truth_of(world)
    out: dict[str, Any] = {
        "comments": len(truth),
        "starter": precision_recall(written_themes(ws), truth),
        "reason_classifier_cv": starter.build.get("classifier", {}),
    }
    thin = write_themes(ws.store, parse_taxonomy(THIN, Path("thin.yaml")), ThemeSettings())
    out["thin"] = {"matched": thin.matched, "classified": thin.classified,
                   "pr": precision_recall(written_themes(ws), truth)}  # fmt: skip
    out["discovery"] = [discovery_purity(truth, k) for k in (5, 8, 10)]
    ws.close()
    return out


def main() -> None:
    from journeylens.synth import generate_world

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--out", type=Path, required=True, help="An empty folder for the world and workspace."
    )
    args = parser.parse_args()
    generate_world(args.out / "world", customers=args.customers, seed=args.seed)
    print(json.dumps(measure(args.out / "world", args.out / "ws"), indent=2, default=str))


if __name__ == "__main__":
    main()
