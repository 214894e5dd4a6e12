"""``[identity]`` of journeylens.toml: which identifiers may link customers, and how many.

Kept apart from the stitching algorithm (``identity.stitch``) so that reading a workspace's settings
does not import the engine (``journeylens status`` and ``--help`` start fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import ibis.expr.types as ir

USER, ANONYMOUS = "user_id", "anonymous_id"
SEP = ":"
DEFAULT_PRIORITY = (USER, "crm_id", "email", "phone", ANONYMOUS)


class IdentityRules(BaseModel):
    """``[identity]`` in journeylens.toml."""

    model_config = ConfigDict(extra="forbid")

    max_customers_per_identifier: int = Field(
        1, ge=1, description="An identifier linked to more known customers than this is shared."
    )
    link_types: list[str] | None = Field(
        None, description="Identifier types that may link customers (None: all)."
    )
    never_link: list[str] = Field(
        default_factory=list, description="Identifier types that never link customers."
    )
    priority: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PRIORITY),
        description="Identifier types, most trusted first: the order links are settled in when "
        "max_per_customer applies (types not listed come last, by name).",
    )
    max_per_customer: dict[str, int] = Field(
        default_factory=dict,
        description="Most identifiers of a type one customer may have, e.g. {user_id = 1, email = 3}.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> IdentityRules:
        both = sorted(set(self.link_types or []) & set(self.never_link))
        if both:
            raise ValueError(
                f"identifier type(s) {both} are in both link_types and never_link; keep each in one"
            )
        if USER in self.never_link:
            raise ValueError("user_id cannot be in never_link: it is what customers are made of")
        twice = sorted({t for t in self.priority if self.priority.count(t) > 1})
        if twice:
            raise ValueError(f"identifier type(s) {twice} are listed more than once in priority")
        for kind, limit in self.max_per_customer.items():
            if limit < 1:
                raise ValueError(f"max_per_customer.{kind} = {limit}: a limit must be at least 1")
            if kind in self.never_link:
                raise ValueError(
                    f"max_per_customer limits {kind!r}, which is in never_link: a type that never "
                    "links cannot be limited; remove one of the two"
                )
        return self

    def link_order(self, kinds: list[str]) -> list[str]:
        """``kinds`` in the order their links are settled: by priority, then by name."""
        rank = {kind: i for i, kind in enumerate(self.priority)}
        return sorted(kinds, key=lambda k: (rank.get(k, len(rank)), k))

    def may_link(self, column: ir.StringValue) -> ir.BooleanValue:
        import ibis

        allowed = ~column.isin(self.never_link) if self.never_link else ibis.literal(True)
        if self.link_types is not None:
            allowed &= column.isin(self.link_types)
        return allowed
