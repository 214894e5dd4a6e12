"""How free-form names are compared: channels, identifier types, column names.

``"Call Centre"``, ``"call-centre"`` and ``" call_centre "`` are the same name. The Python form is
for flags and settings, the Ibis form for values in the data; both must agree, so both live here.
"""

from __future__ import annotations

import ibis.expr.types as ir


def name_key(name: str) -> str:
    """Lower case, trimmed, runs of spaces and dashes as one '_'.

    Example:
        >>> name_key(" Call-Centre ")
        'call_centre'
    """
    return "_".join(name.strip().lower().replace("-", " ").split())


def name_key_expr(value: ir.StringValue) -> ir.StringValue:
    """:func:`name_key` for a column of (already trimmed) text."""
    return value.lower().re_replace(r"[\s\-]+", "_")
