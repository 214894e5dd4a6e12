"""Subprocess entry of one benchmark stage: ``python -m journeylens.benchmark._run NAME DATA WORK``.

Importing the stage modules here (not running ``stages`` as ``__main__``) keeps one registry that
every stage module registers into.
"""

from __future__ import annotations

import sys

from journeylens.benchmark import (  # noqa: F401 - register their stages
    accuracy_stages,
    api_stages,
    attribution_stages,
    caselog_stages,
    collector_stages,
    contact_stages,
    discovery_stages,
    experiment_stages,
    map_stages,
    nba_stages,
    pipeline_stages,
    small_file_stages,
)
from journeylens.benchmark.stages import main

if __name__ == "__main__":
    main(sys.argv[1:])
