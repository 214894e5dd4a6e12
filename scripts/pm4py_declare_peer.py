#!/usr/bin/env python3
"""The benchmark's peer for map check: pm4py decides the map's Declare rules on a process CSV.

``journeylens bench`` (stage ``pm4py_declare``) runs this file as a process of its own, so the
product never imports pm4py (AGPL, a test-only reference): read the CSV of the purchase journeys
with pandas, ``format_dataframe``, ``pm4py.conformance_declare`` with the rules given as JSON
(a list of ``[template, activity]`` or ``[template, [first, then]]``, pm4py's template names).
Writes, to OUT, the traces and the traces breaking each rule (in the order given), and the
seconds ``conformance_declare`` alone took; prints the number of events read.

Usage: python scripts/pm4py_declare_peer.py process.csv rules.json out.json
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main(path: str, rules_path: str, out: str) -> int:
    import pandas as pd
    import pm4py

    with open(rules_path, encoding="utf-8") as f:
        rules = json.load(f)
    keys = [(template, tuple(a) if isinstance(a, list) else a) for template, a in rules]
    model: dict[str, dict[Any, dict[str, float]]] = {}
    for template, key in keys:
        model.setdefault(template, {})[key] = {"support": 1.0, "confidence": 1.0}
    frame = pd.read_csv(path)
    frame = pm4py.format_dataframe(
        frame, case_id="case:concept:name", activity_key="concept:name", timestamp_key="time:timestamp"
    )
    started = time.perf_counter()
    verdicts = pm4py.conformance_declare(frame, model, return_diagnostics_dataframe=False)
    took = time.perf_counter() - started
    broken = [0] * len(keys)
    index = {k: i for i, k in enumerate(keys)}
    for verdict in verdicts:
        for template, key in verdict["deviations"]:
            broken[index[(template, tuple(key) if isinstance(key, list | tuple) else key)]] += 1
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"traces": len(verdicts), "broken": broken, "declare_seconds": took}, f)
    return len(frame)


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2], sys.argv[3]))
