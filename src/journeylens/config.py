"""``journeylens.toml``: the workspace settings, validated once, shared by every surface."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from journeylens._toml_lines import line_of_key, read_toml
from journeylens.errors import ConfigError
from journeylens.journeys.definitions import EXAMPLE_COSTS, JourneyRules
from journeylens.nba.catalogue import NbaSettings
from journeylens.specs.identity import IdentityRules
from journeylens.store.names import CHANNELS
from journeylens.store.settings import MEMORY_SIZE, BackendSettings
from journeylens.voc.settings import VocSettings

CONFIG_FILE = "journeylens.toml"

DEFAULT_CHANNEL_ALIASES: dict[str, str] = {
    "website": "web", "www": "web", "online": "web", "internet": "web", "desktop": "web",
    "mobile_web": "web", "mobile app": "app", "mobile_app": "app", "ios": "app", "android": "app",
    "in_app": "app", "push": "app", "e-mail": "email", "e_mail": "email", "mail_out": "email",
    "newsletter": "email", "text": "sms", "text message": "sms", "whats app": "whatsapp",
    "whats_app": "whatsapp", "wa": "whatsapp", "facebook": "social", "twitter": "social",
    "x": "social", "instagram": "social", "linkedin": "social", "tiktok": "social",
    "live chat": "chat", "livechat": "chat", "webchat": "chat", "chatbot": "chat",
    "messenger": "chat", "phone": "call_center", "call": "call_center", "calls": "call_center",
    "ivr": "call_center", "voice": "call_center", "telephone": "call_center",
    "call centre": "call_center", "call center": "call_center", "callcenter": "call_center",
    "contact_center": "call_center", "contact centre": "call_center", "branch": "store",
    "shop": "store", "retail": "store", "in_store": "store", "in-store": "store",
    "post": "mail", "letter": "mail", "direct_mail": "mail", "postal": "mail",
}  # fmt: skip


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkspaceSettings(_Section):
    timezone: str = Field("UTC", description="IANA zone for naive timestamps and calendar periods.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'Europe/Amsterdam')"
            ) from exc
        return value


class PrivacySettings(_Section):
    salt: str = Field(min_length=16, description="Secret salt for hashing e-mail and phone.")
    default_country_code: str = Field(
        "", pattern=r"^[0-9]{0,3}$", description="Country calling code for national phone numbers."
    )


class ChannelSettings(_Section):
    aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CHANNEL_ALIASES))

    @field_validator("aliases")
    @classmethod
    def _targets_are_channels(cls, value: dict[str, str]) -> dict[str, str]:
        bad = {k: v for k, v in value.items() if v not in CHANNELS}
        if bad:
            raise ValueError(f"aliases must map to one of {', '.join(CHANNELS)}; got {bad}")
        return {k.strip().lower(): v for k, v in value.items()}


class IngestSettings(_Section):
    batch_rows: int = Field(1_000_000, ge=1_000, le=10_000_000)
    max_field_bytes: int = Field(1 << 20, ge=1_024, description="Longest accepted field value.")
    max_record_bytes: int = Field(4 << 20, ge=1_024, description="Longest accepted record.")
    memory_limit: str = Field(
        "1GB",
        pattern=MEMORY_SIZE,
        description="DuckDB memory cap while ingesting; it spills to disk beyond it.",
    )


class Config(_Section):
    workspace: WorkspaceSettings = Field(default_factory=WorkspaceSettings)
    backend: BackendSettings = Field(default_factory=BackendSettings)
    privacy: PrivacySettings
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    identity: IdentityRules = Field(default_factory=IdentityRules)
    journeys: JourneyRules = Field(default_factory=JourneyRules)
    voc: VocSettings = Field(default_factory=VocSettings)
    nba: NbaSettings = Field(default_factory=NbaSettings)

    @classmethod
    def new(cls, **overrides: Any) -> Config:
        """A fresh configuration with a random salt."""
        data: dict[str, Any] = {"privacy": {"salt": secrets.token_hex(16)}}
        for section, values in overrides.items():
            data.setdefault(section, {}).update(values)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"Invalid setting {field}: {first['msg']}", hint="See docs/configuration.md."
            ) from exc

    @classmethod
    def load(cls, path: Path) -> Config:
        text, data = read_toml(
            path,
            ConfigError,
            "Fix the syntax; `journeylens init --force DIR` rewrites it (keeping the salt).",
        )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            problem = f"{first['msg']}" if first["type"] != "extra_forbidden" else "unknown setting"
            raise ConfigError.invalid(
                path,
                field,
                problem,
                hint="See docs/configuration.md for every setting and its default.",
                line=line_of_key(text, tuple(first["loc"])),
            ) from exc

    def dump(self, path: Path) -> None:
        data = self.model_dump(exclude_none=True)
        if not self.journeys.declared():
            # The default journey types stay in code (docs/configuration.md shows them) until a
            # workspace declares its own; then those are written back and checked strictly.
            data["journeys"].pop("types")
        footer = ""
        if not self.journeys.priced():
            # An empty table would read as "everything is free"; an example says how to set it.
            data["journeys"].pop("costs")
            footer = _COSTS_EXAMPLE
        path.write_text(_HEADER + tomli_w.dumps(data) + footer, encoding="utf-8")


_HEADER = """\
# JourneyLens workspace settings. Every field is documented in docs/configuration.md.
# [backend] url: any Ibis URL; 'duckdb://journeylens.duckdb' is an embedded file in this folder,
# 'pyspark://' runs on a local Spark session, 'spark://host:7077' on a Spark cluster,
# 'sc://host:15002' through Spark Connect (docs/scale.md). Keep [privacy] salt secret and stable:
# changing it changes every hashed e-mail and phone.

"""

_COSTS_EXAMPLE = (
    "\n# Cost to serve is not defined until you price contacts: uncomment and set your own costs\n"
    "# (one agent-handled contact on an assisted channel; one event on any other channel).\n"
    "# [journeys.costs]\n" + "".join(f"# {channel} = {cost:g}\n" for channel, cost in EXAMPLE_COSTS.items())
)
