"""Subprocess entry of one benchmark stage or preparation:
``python -m journeylens.benchmark._run MODULE NAME DATA WORK [MEMORY_LIMIT]``.

``MODULE`` is the module that registers ``NAME`` (the runner passes it): importing that one alone
keeps each stage's process from paying for every other stage's imports (scipy, scikit-learn,
FastAPI, ...: 2.4 s of CPU per process when all were imported), and ``stages.main`` then finds
``NAME`` in the one registry it registered into.
"""

from __future__ import annotations

import importlib
import sys

from journeylens.benchmark.stages import main

if __name__ == "__main__":
    importlib.import_module(sys.argv[1])
    main(sys.argv[2:])
