"""The Segment-compatible collector: ``POST /v1/track|identify|page|screen|group|alias|batch`` and
the analytics.js short paths ``/v1/t|i|p|s|g|a|b``, answered 200 only once the message is durable.

A request is read (gzip when ``Content-Encoding: gzip``; any content type, analytics.js sends
``text/plain``), checked against Segment's limits and the strict message models, appended to the
write-ahead log and acknowledged when the log's group commit has synced it. The loader moves the
log into the store in the background; :meth:`Collector.drain` waits for it.

Answers, as the SDKs expect: 200 ``{"success": true}`` once durable; 400 (a problem naming the
reason, never retried) for a bad payload; 429 with ``Retry-After`` when the log's queue is full;
503 with ``Retry-After`` when the disk refuses the write. The write key comes as the HTTP Basic
username, or (older SDKs) as ``writeKey`` in the body; it is never stored.

Example:
    >>> body = {"event": "Signed Up", "userId": "u1"}
    >>> client.post("/v1/track", auth=(key, ""), json=body).json()  # doctest: +SKIP
    {'success': True}
"""

from __future__ import annotations

import datetime as _dt
import zlib
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, ValidationError

from journeylens.ingest.jsonlines import MAX_JSON_DEPTH, json_depth
from journeylens.server.auth import token_from_header
from journeylens.server.collector_messages import KINDS, MESSAGE, Batch, Message
from journeylens.server.keys import Credential
from journeylens.server.loader import Loader
from journeylens.server.problems import Problem
from journeylens.server.wal import Overloaded, WriteAheadLog

if TYPE_CHECKING:
    from journeylens.server.app import ServerContext

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_MESSAGES", "MAX_MESSAGE_BYTES", "Collector", "install"]

MAX_MESSAGE_BYTES = 32 << 10
MAX_BATCH_BYTES = 500 << 10
MAX_BATCH_MESSAGES = 2500
WAL_FOLDER = ("collector", "wal")
RETRY_AFTER = {"Retry-After": "1"}
_PARSED = "collector_body"


class Collector:
    """The log and the loader of one server; ``app.state.collector``."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.wal = WriteAheadLog(ctx.root.joinpath(*WAL_FOLDER))
        self.loader = Loader(ctx, self.wal)
        if self.wal.seal():  # a previous process left messages: store them without waiting for traffic
            self.loader.start()

    async def accept(self, messages: list[dict[str, Any]], credential: Credential) -> None:
        """Append ``messages`` to the log; returns once they are durable."""
        received = _dt.datetime.now(_dt.UTC).isoformat()
        source = credential.source or credential.key_id
        record = orjson.dumps({"s": source, "c": credential.channel, "r": received, "m": messages})
        self.loader.start()
        try:
            await self.wal.append(record)
        except Overloaded as exc:
            raise Problem(429, None, f"The collector is busy ({exc}); retry.", headers=RETRY_AFTER) from exc
        except OSError as exc:
            raise Problem(
                503, None, f"The collector could not make the message durable ({exc.strerror}); retry.",
                headers={"Retry-After": "2"},
            ) from exc  # fmt: skip

    def drain(self) -> None:
        """Block until everything acknowledged so far is in the store."""
        self.loader.drain()

    def close(self) -> None:
        """Stop accepting, store what the log holds, stop the threads."""
        self.loader.close()


def _bad(detail: str, reason: str, **extra: Any) -> Problem:
    return Problem(400, "Invalid message", detail, reason=reason, **extra)


async def _read_body(request: Request) -> bytes:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BATCH_BYTES:
            raise _bad(f"The body is larger than {MAX_BATCH_BYTES} bytes.", "batch_too_large")
    if request.headers.get("content-encoding", "").strip().lower() not in ("gzip", "x-gzip"):
        return bytes(raw)
    inflate = zlib.decompressobj(wbits=31)
    try:
        body = inflate.decompress(bytes(raw), MAX_BATCH_BYTES + 1)
    except zlib.error as exc:
        raise _bad(f"The gzip body is corrupt: {exc}.", "bad_gzip") from exc
    if len(body) > MAX_BATCH_BYTES:
        raise _bad(f"The body inflates to more than {MAX_BATCH_BYTES} bytes.", "batch_too_large")
    if not inflate.eof:
        raise _bad("The gzip body is truncated.", "bad_gzip")
    return body


async def _parsed(request: Request) -> tuple[bytes, dict[str, Any]]:
    """The body as bytes and as a JSON object (read once per request)."""
    cached: tuple[bytes, dict[str, Any]] | Problem | None = getattr(request.state, _PARSED, None)
    if cached is None:
        try:
            body = await _read_body(request)
            limit = MAX_JSON_DEPTH + 2  # a batch's messages sit two levels down
            if body.count(b"{") + body.count(b"[") > limit and json_depth(body, limit) > limit:
                raise _bad(f"The body nests deeper than {limit} levels.", "too_deep")
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise _bad(f"The body is not valid JSON: {exc}.", "bad_json") from exc
            if not isinstance(value, dict):
                raise _bad("The body must be a JSON object.", "bad_json")
            cached = (body, value)
        except Problem as problem:
            cached = problem
        setattr(request.state, _PARSED, cached)
    if isinstance(cached, Problem):
        raise cached
    return cached


async def require_write(request: Request) -> Credential:
    """The write key: the HTTP Basic username, else the body's ``writeKey`` (older SDKs)."""
    ctx: ServerContext = request.app.state.ctx
    client = request.client.host if request.client else "unknown"
    token = token_from_header(request.headers.get("authorization"))
    if token is None:
        try:
            key = (await _parsed(request))[1].get("writeKey")
        except Problem:
            key = None  # an unreadable body carries no key: the caller is anonymous
        token = key if isinstance(key, str) and key else None
    return ctx.guard.check(token, "write", client)


def _errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [
        {"field": ".".join([prefix, *map(str, e["loc"])]).strip("."), "message": e["msg"]}
        for e in exc.errors()
    ]


def _invalid(errors: list[dict[str, str]]) -> Problem:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _bad(f"{first['field']}: {first['message']}{more}", "invalid_message", errors=errors[:50])


def _message(value: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """A single call's body checked against the strict model; its type set from the route."""
    try:
        MESSAGE.validate_python(value)
    except ValidationError as exc:
        raise _invalid(_errors(exc, "")) from exc
    value["type"] = kind
    value.pop("writeKey", None)  # a secret: never logged or stored
    return value


def messages(body: bytes, value: dict[str, Any], kind: str | None) -> list[dict[str, Any]]:
    """The messages of one request, checked; raises a 400 problem naming what is wrong."""
    if kind is not None:
        if len(body) > MAX_MESSAGE_BYTES:
            raise _bad(f"The message is larger than {MAX_MESSAGE_BYTES} bytes.", "message_too_large")
        return [_message(value, kind)]
    items = value.get("batch")
    if isinstance(items, list) and len(items) > MAX_BATCH_MESSAGES:
        raise _bad(f"A batch holds at most {MAX_BATCH_MESSAGES} messages.", "batch_too_many")
    try:
        batch = Batch.model_validate(value)
    except ValidationError as exc:
        raise _invalid(_errors(exc, "")) from exc
    assert isinstance(items, list)
    context = batch.context or {}
    for i, message in enumerate(items):
        if len(orjson.dumps(message)) > MAX_MESSAGE_BYTES:
            raise _bad(f"batch.{i} is larger than {MAX_MESSAGE_BYTES} bytes.", "message_too_large")
        message.pop("writeKey", None)
        if context:  # the batch's context applies to every message, which may add to it
            message["context"] = context | (message.get("context") or {})
        if batch.sentAt and not message.get("sentAt"):
            message["sentAt"] = batch.sentAt
    return items


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with its ``$ref``s to ``$defs`` replaced by their definitions (not recursive)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The documented body and answers of a collector route (for clients and the fuzz test)."""
    schema = model.model_json_schema()
    problem = {"application/problem+json": {"schema": {"type": "object", "required": ["status", "detail"]}}}
    refusals = {
        "400": "The payload is invalid or over Segment's limits; `reason` says which (not retried).",
        "401": "No write key, or an unknown or revoked one.",
        "403": "The key is not a write key.",
        "429": "Busy, or too many failed authentications: retry after `Retry-After` seconds.",
        "503": "The message could not be made durable (disk full or failing): retry after `Retry-After`.",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, schema.get("$defs", {}))}},
        },
        "responses": {status: {"description": text, "content": problem} for status, text in refusals.items()},
    }


def install(app: FastAPI, ctx: ServerContext) -> None:
    """Add the collector's routes; the collector is ``app.state.collector``."""
    collector = Collector(ctx)
    app.state.collector = collector
    ctx.on_close.append(collector.close)

    def route(kind: str | None) -> Any:
        async def collect(
            request: Request, credential: Annotated[Credential, Depends(require_write)]
        ) -> dict[str, bool]:
            body, value = await _parsed(request)
            await collector.accept(messages(body, value, kind), credential)
            return {"success": True}

        return collect

    for path, kind in [*KINDS.items(), ("batch", None), ("b", None)]:
        app.add_api_route(
            f"/v1/{path}",
            route(kind),
            methods=["POST"],
            tags=["collector"],
            summary=f"Segment {kind or 'batch'} call: 200 once the message is durable.",
            include_in_schema=len(path) > 1,
            openapi_extra=_openapi(Message if kind else Batch),
        )
