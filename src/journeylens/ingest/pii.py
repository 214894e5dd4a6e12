"""E-mail and phone normalisation and salted hashing, as Ibis expressions.

Identifiers are normalised first so that ``" Ann.Lee@Example.COM "`` and ``"ann.lee@example.com"``,
or ``"06-12345678"`` and ``"+31 6 1234 5678"``, hash to the same value; only the hash is stored.
Values that are not an e-mail or phone at all ("n/a", "-", "unknown") become null instead of
hashing to one shared value that would merge every customer who has it.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeylens.ingest.naming import name_key, name_key_expr

EMAIL, PHONE = "email", "phone"
EMAIL_TYPES = ("email", "e_mail", "mail_address", "email_address", "e_mail_address")
PHONE_TYPES = (
    "phone", "mobile", "msisdn", "telephone", "tel", "phone_number", "mobile_phone",
    "mobile_number", "whatsapp", "cell", "cellphone",
)  # fmt: skip
PII_COLUMNS = {name: EMAIL for name in EMAIL_TYPES} | {name: PHONE for name in PHONE_TYPES}
"""Source column names (compared as :func:`name_key`) whose values are hashed wherever they land."""

_EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 6, 15  # E.164 allows at most 15 digits


def pii_kind(column: str) -> str | None:
    """'email' or 'phone' when a source column of this name holds personal identifiers."""
    return PII_COLUMNS.get(name_key(column))


def canonical_identifier_type(value: ir.StringValue) -> ir.StringValue:
    """``E-Mail``/``email_address`` -> ``email``, ``Mobile``/``tel`` -> ``phone``; others lower-cased."""
    key = name_key_expr(value)
    return ibis.cases(
        (key.isin(EMAIL_TYPES), ibis.literal(EMAIL)),
        (key.isin(PHONE_TYPES), ibis.literal(PHONE)),
        else_=key,
    )


def normalize_email(value: ir.StringValue) -> ir.StringValue:
    """Lower-cased, trimmed; null when it does not look like an address."""
    normal = value.strip().lower()
    return ibis.cases((normal.re_search(_EMAIL_SHAPE), normal), else_=ibis.null(dt.string))


def normalize_phone(value: ir.StringValue, default_country_code: str) -> ir.StringValue:
    """Best-effort E.164: '+' and digits; '00' becomes '+'; a national '0' takes the default code.

    Null when the value has too few or too many digits to be a phone number.
    """
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
    normal = ibis.cases(*cases, else_=digits)
    n_digits = normal.re_replace(r"[^0-9]", "").length()
    plausible = (n_digits >= _MIN_PHONE_DIGITS) & (n_digits <= _MAX_PHONE_DIGITS)
    return ibis.cases((plausible, normal), else_=ibis.null(dt.string))


def hash_identifier(value: ir.StringValue, salt: str) -> ir.StringValue:
    """Salted SHA-256, hex; ``None`` stays ``None``."""
    return (ibis.literal(salt) + ":" + value).hexdigest("sha256")


def protect(value: ir.StringValue, kind: str, salt: str, default_country_code: str) -> ir.StringValue:
    """Normalise ``value`` as an e-mail or phone and hash it (null when it is neither)."""
    normal = normalize_email(value) if kind == EMAIL else normalize_phone(value, default_country_code)
    return hash_identifier(normal, salt)


def protect_by_type(
    value: ir.StringValue, identifier_type: ir.StringValue, salt: str, default_country_code: str
) -> ir.StringValue:
    """Hash ``value`` when its (canonical) identifier type is e-mail or phone; pass others through."""
    return ibis.cases(
        (identifier_type == EMAIL, protect(value, EMAIL, salt, default_country_code)),
        (identifier_type == PHONE, protect(value, PHONE, salt, default_country_code)),
        else_=value,
    )
