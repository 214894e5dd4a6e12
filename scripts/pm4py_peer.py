#!/usr/bin/env python3
"""The benchmark's peer: pm4py reads a process CSV and discovers what JourneyLens' map shows.

``journeylens bench`` (stage ``pm4py_e2e``) runs this file as a process of its own, so the product
never imports pm4py (AGPL, a test-only reference): read the CSV with pandas, ``format_dataframe``,
directly-follows graph, variants, performance DFG. Prints the number of events read.

Usage: python scripts/pm4py_peer.py process.csv
"""

from __future__ import annotations

import sys


def main(path: str) -> int:
    import pandas as pd
    import pm4py

    frame = pd.read_csv(path)
    frame = pm4py.format_dataframe(
        frame, case_id="case:concept:name", activity_key="concept:name", timestamp_key="time:timestamp"
    )
    pm4py.discover_dfg(frame)
    pm4py.get_variants(frame)
    pm4py.discover_performance_dfg(frame)
    return len(frame)


if __name__ == "__main__":
    print(main(sys.argv[1]))
