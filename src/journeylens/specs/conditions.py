"""Property conditions of the journey filter: one typed condition, its compact text form (the
CLI's ``--where`` and dashboard URLs) and its structured JSON form (the REST API), both parsed here
once for every surface.

The text grammar (``KEY`` is an event property name, spaces around operators are allowed)::

    KEY=VALUE          equals                          product=loan
    KEY!=VALUE         does not equal                  plan!=free
    KEY~TEXT           contains TEXT, any case         page~faq
    KEY!~TEXT          does not contain                page!~faq
    KEY in A,B         is one of                       country in DE,FR
    KEY not in A,B     is none of                      country not in DE,FR
    KEY>N  KEY>=N      greater than (or equal), on properties that parse as numbers
    KEY<N  KEY<=N      less than (or equal)            amount<=100
    KEY?               is set                          coupon?
    KEY!?              is not set                      coupon!?
    customer.KEY...    any of these on a customer trait (``customers.traits``): customer.plan=pro

A condition tests one event: a journey matches when one of its events does (with ``match`` all,
one event meets every condition; with any, at least one). Comparisons, negations included, hold
only on events that have the property (``plan!=free`` keeps journeys with a plan other than free,
not every journey with an event without a plan); ``KEY!?`` finds events without it. A
``customer.`` condition tests the journey's customer (any of its ``customers`` records) instead of
an event. The JSON form is ``{"key": "amount", "op": "gt", "value": 100}`` with ``op`` one of
:data:`OPS` and ``"scope": "customer"`` for a trait.

Example:
    >>> parse_condition("country in DE,FR")
    PropertyCondition(key='country', op='in', value=['DE', 'FR'])
    >>> parse_condition("amount>=100").text()
    'amount>=100'
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["GRAMMAR", "OPS", "Match", "Op", "PropertyCondition", "parse_condition", "parse_conditions"]

Op = Literal[
    "eq", "neq", "contains", "not_contains", "in", "not_in", "gt", "gte", "lt", "lte", "set", "not_set"
]
OPS: tuple[str, ...] = get_args(Op)
NUMERIC = ("gt", "gte", "lt", "lte")
LISTS = ("in", "not_in")
PRESENCE = ("set", "not_set")
CUSTOMER = "customer."
_SYMBOL: dict[Op, str] = {
    "eq": "=", "neq": "!=", "contains": "~", "not_contains": "!~", "in": " in ", "not_in": " not in ",
    "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "set": "?", "not_set": "!?",
}  # fmt: skip
_BY_SYMBOL: dict[str, Op] = {symbol.strip(): op for op, symbol in _SYMBOL.items()}
# The key is the shortest prefix followed by an operator, so the first operator in the text wins
# (``title=sign in`` is an equality). Words need spaces around them; ``!?``/``?`` end the text.
_CONDITION = re.compile(
    r"^(?P<key>.+?)\s*(?P<op>!=|!~|>=|<=|=|~|>|<|\s+not\s+in\s+|\s+in\s+|!\?$|\?$)(?P<value>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_TYPOS = ("==", "=>", "=<", "=~", "<>", "><")
GRAMMAR = (
    "KEY=VALUE, KEY!=VALUE, KEY~TEXT (contains, any case), KEY!~TEXT, 'KEY in A,B', 'KEY not in A,B', "
    "KEY>N, KEY>=N, KEY<N, KEY<=N, KEY? (is set) or KEY!? (is not set); customer.KEY for a customer trait"
)


class Match(StrEnum):
    """How the property conditions combine."""

    all = "all"
    any = "any"


class PropertyCondition(BaseModel):
    """One condition on an event property; strict, so the REST API takes exactly this JSON.

    ``value`` is text for eq/neq/contains/not_contains, a non-empty list of texts for in/not_in,
    a number for gt/gte/lt/lte and absent for set/not_set.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    key: str = Field(min_length=1, description="Property (or trait) name.")
    op: Op = Field("eq", description="Operator: " + ", ".join(OPS) + ".")
    value: str | float | list[str] | None = Field(None, description="Text, list of texts, number or none.")
    scope: Literal["event", "customer"] = Field(
        "event", description="event: a property of one event; customer: a trait of the journey's customer."
    )

    @model_validator(mode="after")
    def _value_fits_op(self) -> PropertyCondition:
        if not self.key.strip():
            raise ValueError("the property name is empty")
        value, op = self.value, self.op
        if op in PRESENCE:
            if value is not None:
                raise ValueError(f"op {op!r} takes no value, got {value!r}")
        elif op in NUMERIC:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"op {op!r} compares numbers; {value!r} is not a finite number")
        elif op in LISTS:
            if not isinstance(value, list) or not value:
                raise ValueError(f"op {op!r} takes a non-empty list of values, got {value!r}")
        elif not isinstance(value, str):
            raise ValueError(f"op {op!r} takes a text value, got {value!r}")
        return self

    def text(self) -> str:
        """The compact text form (``parse_condition(c.text()) == c``)."""
        value = self.value
        if isinstance(value, list):
            shown = ",".join(value)
        elif isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            shown = str(int(value))
        else:
            shown = "" if value is None else str(value)
        prefix = CUSTOMER if self.scope == "customer" else ""
        return f"{prefix}{self.key}{_SYMBOL[self.op]}{shown}"


def parse_condition(text: str) -> PropertyCondition:
    """A condition from its text form; ValueError names what is wrong and lists the grammar."""
    found = _CONDITION.match(text.strip())
    if found is None or not found["key"].strip():
        raise ValueError(f"{text!r} is not a condition; expected {GRAMMAR}")
    key, symbol, raw = found["key"].strip(), found["op"], found["value"].strip()
    op: Op = _BY_SYMBOL[" ".join(symbol.lower().split())]
    typo = next((t for t in _TYPOS if (symbol + raw).startswith(t)), None)
    if typo is not None:
        raise ValueError(f"{text!r}: unknown operator {typo!r}; expected {GRAMMAR}")
    value: Any = raw
    if op in PRESENCE:
        value = None
    elif op in LISTS:
        value = [part.strip() for part in raw.split(",") if part.strip()]
    elif op in NUMERIC:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{text!r}: {raw!r} is not a number ({op} compares numbers)") from None
    if key.startswith(CUSTOMER) and key[len(CUSTOMER) :].strip():
        return PropertyCondition(key=key[len(CUSTOMER) :].strip(), op=op, value=value, scope="customer")
    return PropertyCondition(key=key, op=op, value=value)


def parse_conditions(value: Any) -> Any:
    """Conditions from what a surface passes: ``{KEY: VALUE}`` (equalities), or a list (or one) of
    texts, JSON objects or conditions; a bad one is named by its position (``properties[2]``)."""
    if isinstance(value, dict):
        return [PropertyCondition(key=str(k), value=str(v)) for k, v in value.items()]
    items = [value] if isinstance(value, (str, PropertyCondition)) else value
    if not isinstance(items, (list, tuple)):
        return value
    parsed: list[Any] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, str):
                parsed.append(parse_condition(item))
            elif isinstance(item, dict):
                parsed.append(PropertyCondition.model_validate(item))
            else:
                parsed.append(item)
        except ValueError as exc:
            raise ValueError(f"properties[{index}]: {_first_problem(exc)}") from None
    return parsed


def _first_problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):  # a pydantic ValidationError of a JSON condition: its first problem
        first = errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return (f"{where}: " if where else "") + str(first["msg"]).removeprefix("Value error, ")
    return str(exc)
