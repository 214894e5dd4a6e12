# The few commands a newcomer needs. Everything also works without make (see README.md).
PY ?= .venv/bin/python

.PHONY: dev demo test fast lint clean-install format bench

dev:            ## editable install with test and spark extras into .venv
	python3 -m venv .venv && $(PY) -m pip install -q -e ".[test,spark]"

demo:           ## the main job on the embedded default
	$(PY) -m journeylens demo

test:           ## the whole suite exactly as CI runs it
	python3 scripts/run_tests.py

fast:           ## tests without the PySpark parity step
	$(PY) -m pytest -m "not spark and not browser" -q

lint:           ## ruff, mypy --strict, and deptry (every import in src/ is a declared dependency)
	$(PY) -m ruff check src tests scripts && $(PY) -m ruff format --check src tests scripts && $(PY) -m mypy \
		&& $(PY) -m deptry src

clean-install:  ## the wheel with no extras in a brand-new venv, then at the lowest declared versions
	$(PY) scripts/check_clean_install.py && $(PY) scripts/check_clean_install.py --lowest

format:
	$(PY) -m ruff format src tests scripts && $(PY) -m ruff check --fix src tests scripts

bench:          ## every stage next to its floor, pm4py and PySpark (not part of CI)
	$(PY) -m journeylens bench --events 1M
