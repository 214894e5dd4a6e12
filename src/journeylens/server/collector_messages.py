"""Segment tracking-API messages: their strict models, and how each becomes canonical records.

The models check *shape* only (strict types, no lax coercion: ``false`` is not ``0``, ``1`` is not
``"1"``), and keep unknown members. Everything about *values* (a timestamp that does not parse, a
message with neither ``userId`` nor ``anonymousId``, an unknown channel) is left to the ingest
checks, so such messages reach ``quarantine`` with a typed reason, as a file's records would.

Mapping (see docs/collector.md):

- ``track`` -> an event whose touchpoint is the event name; ``page``/``screen`` -> an event whose
  touchpoint is the name, else the page path (``properties.path`` or ``context.page.path``);
- ``identify`` -> a customer row (traits) and identity links: ``anonymousId`` <-> ``userId``, and
  the e-mail and phone of the traits (hashed by the ingest checks, like a file's);
- ``alias`` -> an identity link ``previousId`` -> ``userId``; ``group`` -> a customer property.

Example:
    >>> rows = records([{"type": "track", "event": "Signed Up", "userId": "u1",
    ...     "timestamp": "2026-01-01T00:00:00Z"}], Envelope("web", "web", "2026-01-01T00:00:05+00:00"))
    >>> rows["events"][0]["touchpoint"], rows["events"][0]["channel"]
    ('Signed Up', 'web')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = ["KINDS", "Batch", "BatchMessage", "Envelope", "Message", "dedup_key", "records"]

Kind = Literal["track", "identify", "page", "screen", "group", "alias"]
KINDS: dict[str, str] = {
    "track": "track", "identify": "identify", "page": "page", "screen": "screen", "group": "group",
    "alias": "alias", "t": "track", "i": "identify", "p": "page", "s": "screen", "g": "group", "a": "alias",
}  # fmt: skip
"""Path of a route (long and analytics.js short forms) -> message type."""
MAX_MESSAGE_ID = 99
_STRICT = ConfigDict(strict=True, extra="allow")
_EVENT_FIELDS = ("userId", "anonymousId", "messageId", "timestamp", "originalTimestamp", "sentAt")
_SCREEN_CHANNEL = {"page": "web", "screen": "app"}


class Message(BaseModel):
    """One Segment message, any type; members the model does not name are kept."""

    model_config = _STRICT

    type: Kind | None = None
    messageId: str | None = Field(None, max_length=MAX_MESSAGE_ID)
    userId: str | None = None
    anonymousId: str | None = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    groupId: str | None = None
    previousId: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    timestamp: str | None = None
    originalTimestamp: str | None = None
    sentAt: str | None = None
    receivedAt: str | None = None
    writeKey: str | None = None


class BatchMessage(Message):
    """A message of a batch, which must name its type."""

    type: Kind


class Batch(BaseModel):
    """A ``/v1/batch`` body: messages of any type (each names its ``type``)."""

    model_config = _STRICT

    batch: list[BatchMessage]
    sentAt: str | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    writeKey: str | None = None


MESSAGE = TypeAdapter(Message)


@dataclass(frozen=True)
class Envelope:
    """What the server knew when it accepted a request: whose key, its channel, and when."""

    source: str
    channel: str | None
    received_at: str


def dedup_key(message: dict[str, Any]) -> str:
    """The message's id for de-duplication: its ``messageId``, else a hash of its content."""
    mid = message.get("messageId")
    if isinstance(mid, str) and mid:
        return mid
    return "sha256:" + hashlib.sha256(orjson.dumps(message, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def event_time(message: dict[str, Any], received_at: str) -> object:
    """``receivedAt - (sentAt - originalTimestamp)``: the device's clock error removed.

    Without ``sentAt`` the message's own time is kept as sent (a value that does not parse is
    passed on, to be quarantined as ``bad_timestamp``); without any time, the time received."""
    given = message.get("timestamp") or message.get("originalTimestamp")
    original, sent = _instant(message.get("originalTimestamp") or given), _instant(message.get("sentAt"))
    received = _instant(received_at)
    if original is not None and sent is not None and received is not None:
        return (received - (sent - original)).isoformat()
    return given if given is not None else received_at


def _channel(message: dict[str, Any], envelope: Envelope, kind: str) -> object:
    """``context.channel``, else the write key's channel, else web for pages and app for screens
    (analytics.js and the mobile SDKs); None is quarantined as a missing channel."""
    context = message.get("context")
    given = context.get("channel") if isinstance(context, dict) else None
    return given or envelope.channel or _SCREEN_CHANNEL.get(kind)


def _path(message: dict[str, Any]) -> object:
    props, context = message.get("properties") or {}, message.get("context") or {}
    page = context.get("page") if isinstance(context, dict) else None
    if isinstance(props, dict) and props.get("path"):
        return props["path"]
    return page.get("path") if isinstance(page, dict) else None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _event(message: dict[str, Any], envelope: Envelope, kind: str) -> dict[str, object]:
    props = message.get("properties")
    props = dict(props) if isinstance(props, dict) else {}
    # Everything but the model's own fields stays: context.*, unknown members, the call type.
    kept = {k: v for k, v in message.items() if k not in _EVENT_FIELDS and k not in ("properties", "event")}
    touchpoint = message.get("event") if kind == "track" else message.get("name") or _path(message)
    value = props.get("revenue", props.get("value"))
    return {
        "event_id": message.get("messageId"),
        "timestamp": event_time(message, envelope.received_at),
        "user_id": message.get("userId"),
        "anonymous_id": message.get("anonymousId"),
        "channel": _channel(message, envelope, kind),
        "touchpoint": touchpoint,
        "value": value if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
        "properties": _json(props | kept | {"type": kind}),
    }


def _link(kind: str, value: object, message: dict[str, Any], envelope: Envelope) -> dict[str, object]:
    return {
        "identifier_type": kind,
        "identifier_value": value,
        "user_id": message.get("userId"),
        "anonymous_id": message.get("anonymousId"),
        "timestamp": event_time(message, envelope.received_at),
        "properties": _json({"message_id": message.get("messageId"), "source": envelope.source}),
    }


def _identify(message: dict[str, Any], envelope: Envelope, out: dict[str, list[dict[str, object]]]) -> None:
    traits = message.get("traits")
    traits = dict(traits) if isinstance(traits, dict) else {}
    # E-mail and phone leave the traits JSON for columns of their own, which the ingest checks hash.
    email, phone = traits.pop("email", None), traits.pop("phone", None)
    if message.get("userId") is not None and message.get("anonymousId") is not None:
        out["identities"].append(_link("anonymous_id", message["anonymousId"], message, envelope))
    for kind, value in (("email", email), ("phone", phone)):
        if value is not None:
            out["identities"].append(_link(kind, value, message, envelope))
    out["customers"].append(
        {"user_id": message.get("userId"), "traits": _json(traits), "email": email, "phone": phone}
    )


def records(messages: list[dict[str, Any]], envelope: Envelope) -> dict[str, list[dict[str, object]]]:
    """The canonical records of accepted ``messages``, per raw table (source columns, unchecked)."""
    out: dict[str, list[dict[str, object]]] = {"events": [], "identities": [], "customers": []}
    for message in messages:
        kind = message.get("type")
        if kind in ("track", "page", "screen"):
            out["events"].append(_event(message, envelope, kind))
        elif kind == "identify":
            _identify(message, envelope, out)
        elif kind == "alias":
            out["identities"].append(_link("alias", message.get("previousId"), message, envelope))
        elif kind == "group":
            group = {"group_id": message.get("groupId"), "group_traits": message.get("traits") or {}}
            out["customers"].append({"user_id": message.get("userId"), "traits": _json(group)})
    return out
