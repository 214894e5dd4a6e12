#!/usr/bin/env python3
"""The benchmark's peer for attribution: ChannelAttribution's ``markov_model`` on a path file.

``journeylens bench`` (stages ``ca_markov_o1`` and ``ca_markov_o3``) runs this file as a process
of its own, so the product never imports ChannelAttribution (GPL-3.0, a test-only reference):
read the ';'-separated path file with pandas and run ``markov_model`` with its defaults (1e5
simulated paths to start, seed 0, one core) at the given order. Writes, to OUT, the paths read,
the seconds ``markov_model`` alone took and its credited conversions per channel; prints the
number of paths.

Usage: python scripts/channelattribution_peer.py paths.csv ORDER out.json
"""

from __future__ import annotations

import json
import sys
import time


def main(path: str, order: int, out: str) -> int:
    import pandas as pd
    from ChannelAttribution import markov_model

    frame = pd.read_csv(path, sep=";")
    started = time.perf_counter()
    result = markov_model(
        frame, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
        order=order, verbose=False, flg_pro=False,
    )  # fmt: skip
    took = time.perf_counter() - started
    credits = dict(zip(result["channel_name"], result["total_conversions"].astype(float), strict=True))
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"paths": len(frame), "markov_seconds": took, "conversions": credits}, f)
    return len(frame)


if __name__ == "__main__":
    print(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
