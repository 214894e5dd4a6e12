"""E-mail and phone normalisation and salted hashing, as Ibis expressions.

Identifiers are normalised first so that ``" Ann.Lee@Example.COM "`` and ``"ann.lee@example.com"``,
or ``"06-12345678"`` and ``"+31 6 1234 5678"``, hash to the same value; only the hash is stored.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

EMAIL_TYPES = ("email", "e-mail", "e_mail", "mail_address")
PHONE_TYPES = ("phone", "mobile", "msisdn", "telephone", "phone_number", "whatsapp")
PII_COLUMNS = {
    "email": "email",
    "e_mail": "email",
    "phone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
}
"""Source column names whose values are hashed wherever they land (traits, properties)."""


def normalize_email(value: ir.StringValue) -> ir.StringValue:
    return value.strip().lower()


def normalize_phone(value: ir.StringValue, default_country_code: str) -> ir.StringValue:
    """Best-effort E.164: '+' and digits; '00' becomes '+'; a national '0' takes the default code."""
    raw = value.strip()
    digits = raw.re_replace(r"[^0-9]", "")
    international = raw.startswith("+")
    double_zero = digits.startswith("00")
    national = digits.startswith("0") & ~double_zero
    cases: list[tuple[ir.BooleanValue, ir.StringValue]] = [
        (international, "+" + digits),
        (double_zero, "+" + digits.substr(2)),
    ]
    if default_country_code:
        cases.append((national, f"+{default_country_code}" + digits.substr(1)))
    return ibis.cases(*cases, else_=digits)


def hash_identifier(value: ir.StringValue, salt: str) -> ir.StringValue:
    """Salted SHA-256, hex; ``None`` stays ``None``."""
    return (ibis.literal(salt) + ":" + value).hexdigest("sha256")


def protect(value: ir.StringValue, kind: str, salt: str, default_country_code: str) -> ir.StringValue:
    """Normalise ``value`` as an e-mail or phone and hash it."""
    normal = normalize_email(value) if kind == "email" else normalize_phone(value, default_country_code)
    return hash_identifier(normal, salt)


def protect_by_type(
    value: ir.StringValue, identifier_type: ir.StringValue, salt: str, default_country_code: str
) -> ir.StringValue:
    """Hash ``value`` when its identifier type is an e-mail or phone type; pass others through."""
    kind = identifier_type.strip().lower()
    return ibis.cases(
        (kind.isin(EMAIL_TYPES), protect(value, "email", salt, default_country_code)),
        (kind.isin(PHONE_TYPES), protect(value, "phone", salt, default_country_code)),
        else_=value,
    )
