"""The collector under hostile input: schemathesis over its OpenAPI description (in process) and
hypothesis-made malformed bodies (truncated gzip, deep nesting, huge strings, invalid UTF-8,
wrong types, duplicate keys). Bad input gets a 4xx problem, never a 5xx."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector_world import World, app, basic, world

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, FastAPI]]:
    w = world(tmp_path_factory.mktemp("fuzz"))
    yield w, app(w)
    w.close()


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_5xx_and_every_answer_is_documented(
    served: tuple[World, FastAPI], mode: schemathesis.GenerationMode
) -> None:
    w, application = served
    schema = schemathesis.openapi.from_dict(application.openapi())
    schema.app = application
    operations = [result.ok() for result in schema.include(tag="collector").get_all_operations()]
    assert len(operations) == 7
    for operation in operations:

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            case.call_and_validate(headers=basic(w.web))

        call()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = [
    "event",
    "userId",
    "anonymousId",
    "messageId",
    "properties",
    "context",
    "timestamp",
    "batch",
    "type",
]


def _valid() -> bytes:
    return orjson.dumps({"event": "e", "userId": "u", "properties": {"a": [1, {"b": "ü"}]}})


def _gzip(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    packed = gzip.compress(_valid())
    return packed[: draw(st.integers(0, len(packed) - 1))], {"Content-Encoding": "gzip"}


def _nesting(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    depth = draw(st.integers(10, 5000))
    inner = "[" * depth + "]" * depth
    return f'{{"event": "e", "userId": "u", "properties": {{"deep": {inner}}}}}'.encode(), {}


def _huge(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    size = draw(st.sampled_from([33 << 10, 200 << 10, 600 << 10]))
    return orjson.dumps({"event": "e", "userId": "u", "name": "x" * size}), {}


def _utf8(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    body = _valid()
    at = draw(st.integers(0, len(body)))
    return body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + body[at:], {}


def _types(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    obj = {draw(st.sampled_from(FIELDS)): draw(json_values) for _ in range(draw(st.integers(1, 4)))}
    return json.dumps(obj).encode(), {}  # the standard library writes any integer, and Infinity


def _duplicates(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    return b'{"event": "a", "userId": "u", "event": ' + json.dumps(draw(json_values)).encode() + b"}", {}


def _bytes(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    return draw(st.binary(max_size=200)), {}


@st.composite
def malformed(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    make = draw(st.sampled_from([_gzip, _nesting, _huge, _utf8, _types, _duplicates, _bytes]))
    return make(draw)


@FUZZ
@given(body=malformed(), path=st.sampled_from(["/v1/track", "/v1/t", "/v1/batch", "/v1/identify"]))
def test_malformed_bodies_get_4xx_never_5xx(
    served: tuple[World, FastAPI], body: tuple[bytes, dict[str, str]], path: str
) -> None:
    w, application = served
    content, headers = body
    answer = TestClient(application).post(path, content=content, headers={**basic(w.bare), **headers})
    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["reason"] and answer.json()["detail"]


def test_shutdown_stores_what_the_fuzzers_had_acknowledged(served: tuple[World, FastAPI]) -> None:
    application = served[1]
    application.state.collector.drain()
    assert not list(Path(served[0].root, "collector", "wal").glob("*.wal"))
