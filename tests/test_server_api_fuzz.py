"""Schemathesis over the REST API's whole OpenAPI schema, in process, on a tiny built world: no
5xx, every response as the schema says, negative data refused, auth never ignored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS
from schemathesis.generation import GenerationMode

from conftest import built_world
from journeylens.server.api import OPENAPI_PATH
from journeylens.server.api_requests import served
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.keys import KEYS_FILE, KeyStore


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("fuzz")
    built_world(root, ["events", "identities", "feedback"], customers=30, seed=3)[1].close()
    token = KeyStore(root / "ws" / KEYS_FILE).create("read").secret
    app = create_app(root / "ws", settings=ServerSettings(auth_failures_per_minute=1_000_000))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as test_client:
        yield test_client


# Every check schemathesis has but positive_data_acceptance: a schema-valid value the data does not
# have (a journey type 'x', a map that does not exist) is refused with 400 naming it, by design.
FUZZ_EXAMPLES = 2  # per operation and mode: about 30 s on an idle 2-core machine


def test_schemathesis_over_the_whole_api(client: TestClient) -> None:
    auth = {"Authorization": client.headers["authorization"]}
    schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, client.app, headers=auth)
    checks = [c for c in CHECKS.get_all() if c.__name__ != "positive_data_acceptance"]
    exercised = set()
    for found in schema.get_all_operations():
        operation = found.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not operation.path.startswith("/api/"):
                continue  # /health takes nothing, so nothing can be wrong with its input

            @given(operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,  # fixed examples: a fuzz failure is reproducible, not flaky
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                case.call_and_validate(headers=auth, checks=checks)

            call()
        exercised.add(operation.label)
    # GET and POST per analysis, GET /api/v1/annotations, and /health (the collector's and admin
    # routes are fuzzed too)
    assert len({label for label in exercised if " /api/" in label}) == 2 * len(served()) + 1
    assert "GET /health" in exercised
