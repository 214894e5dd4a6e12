"""``[backend]`` of journeylens.toml: which engine holds the store, and how to reach it.

Kept apart from the connection code (``store._backend``, ``store._spark``) so that reading a
workspace's settings does not import the engine.

A Spark engine is named by its URL, as Spark itself names it:

- ``pyspark://`` — a local session (``local[2]``), or the session the process already has
  (a Databricks notebook, a ``spark-submit`` driver);
- ``local``, ``local[4]``, ``local[*]`` — a local session with that many cores;
- ``spark://host:7077`` — a Spark standalone master (``spark://h1:7077,h2:7077`` for HA masters);
- ``sc://host:15002`` — a Spark Connect server, which is how Databricks Connect and serverless
  compute are reached (parameters after ``/;`` such as ``token=...`` are passed on unchanged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MEMORY_SIZE = r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
"""A DuckDB memory size: a number and a unit, e.g. ``8GB`` or ``512MiB``."""

_LOCAL_MASTER = re.compile(r"^local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+:[0-9]{1,5}$")
SPARK_SCHEMES = ("pyspark", "spark", "sc")
_IBIS_ALIASES = ("postgresql",)


@dataclass(frozen=True)
class SparkTarget:
    """Where a Spark URL points: a local session, a standalone master or a Connect server."""

    kind: Literal["local", "master", "connect"]
    address: str
    """The master (``local[2]``, ``spark://h:7077``) or the Connect URL (``sc://h:15002``)."""
    endpoints: tuple[tuple[str, int], ...] = ()
    """Host and port of each master / Connect server, checked before a session is built."""


def spark_target(url: str) -> SparkTarget | None:
    """The Spark engine ``url`` names, or None when it names another engine.

    Raises ValueError (with what is expected) for a Spark URL without a usable host and port.
    """
    if _LOCAL_MASTER.match(url):
        return SparkTarget("local", url)
    scheme = urlparse(url).scheme
    if scheme == "pyspark":
        return SparkTarget("local", "local[2]")
    if scheme not in ("spark", "sc"):
        return None
    hosts = url.split("://", 1)[1].split("/", 1)[0]
    bad = [h for h in hosts.split(",") if not _HOST_PORT.match(h) or not 0 < int(h.rsplit(":")[1]) < 65536]
    if not hosts or bad:
        example = "spark://host:7077" if scheme == "spark" else "sc://host:15002"
        raise ValueError(f"{url!r} needs a host and a port, e.g. '{example}'")
    if scheme == "sc" and "," in hosts:
        raise ValueError(f"{url!r}: a Spark Connect URL names one server")
    endpoints = tuple((h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts.split(","))
    return SparkTarget("master" if scheme == "spark" else "connect", url, endpoints)


def known_schemes() -> list[str]:
    """URL schemes ``[backend] url`` accepts: Ibis' backends (installed or not) and Spark's."""
    ibis_backends = {entry.name for entry in entry_points(group="ibis.backends")}
    return sorted(ibis_backends | set(SPARK_SCHEMES) | set(_IBIS_ALIASES))


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``spark.executor.memory = "2g"`` under ``[backend.spark_conf]`` is a nested TOML table;
    Spark wants the dotted name."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return flat


class BackendSettings(BaseModel):
    """``[backend]`` in journeylens.toml."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        "duckdb://journeylens.duckdb",
        description="Ibis connection URL; a relative DuckDB path is inside the workspace. Spark: "
        "'pyspark://' or 'local[*]' (local), 'spark://host:7077' (standalone master), "
        "'sc://host:15002' (Spark Connect, Databricks Connect).",
    )
    memory_limit: str | None = Field(
        None, pattern=MEMORY_SIZE, description="DuckDB memory limit, e.g. '4GB'; it spills to disk beyond it."
    )
    catalog: str | None = Field(
        None, min_length=1, description="Spark: catalog of the JourneyLens tables (Unity Catalog: 'main')."
    )
    database: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Spark: database (schema) of the JourneyLens tables; created when missing.",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark: settings for the session, e.g. spark.executor.memory = '4g' "
        "(they override JourneyLens' defaults).",
    )
    connect_timeout: float = Field(
        20.0, gt=0, le=600, description="Spark: seconds a master or Connect server has to answer."
    )

    @field_validator("url")
    @classmethod
    def _known_url(cls, value: str) -> str:
        if spark_target(value) is not None:
            return value
        scheme = urlparse(value).scheme
        if scheme not in known_schemes():
            raise ValueError(
                f"unknown backend URL scheme in {value!r}; use one of "
                + ", ".join(f"'{s}://'" for s in known_schemes())
                + " or a Spark master such as 'local[*]'"
            )
        return value

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_names(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        flat = _flatten(value)
        bad = sorted(k for k in flat if not k.startswith("spark."))
        if bad:
            raise ValueError(f"Spark settings start with 'spark.'; got {', '.join(bad)}")
        # TOML numbers and booleans are Spark's strings ("4", "true").
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in flat.items()}

    @model_validator(mode="after")
    def _spark_only(self) -> BackendSettings:
        if spark_target(self.url) is None:
            used = [name for name in ("catalog", "database", "spark_conf") if getattr(self, name)]
            if used:
                raise ValueError(
                    f"{', '.join(used)} apply to Spark URLs only ('pyspark://', 'local[*]', "
                    f"'spark://host:7077', 'sc://host:15002'); url is {self.url!r}"
                )
        return self

    def spark(self) -> SparkTarget | None:
        """The Spark engine of ``url``, or None for another engine."""
        return spark_target(self.url)
