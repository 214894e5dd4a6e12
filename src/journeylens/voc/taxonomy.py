"""The theme taxonomy as code: ``themes.yaml`` in the workspace, validated, with errors that name
the file, the YAML line and the field and end with a hint.

A theme has a name, an owner department, keywords and phrases per language (matched whole-word,
case-insensitively, in the engine), optional regular expressions, and the contact reasons (or
labels) that mean it — those label comments for the classifier (``voc/themes.py``)::

    themes:
      - name: billing
        owner: billing
        keywords:
          en: [invoice, charged twice, refund]
          nl: [factuur]
        patterns:
          en: ['charged \\w+ times']
        reasons: [billing]

Every language's keywords apply to every comment (feedback has no language column); the
languages keep the file readable for the people who maintain it. Patterns are regular
expressions in the subset every engine runs alike (RE2 on DuckDB, Java on Spark): no
look-arounds, no back-references.

Example:
    >>> taxonomy = parse_taxonomy(STARTER, Path("themes.yaml"))
    >>> [t.name for t in taxonomy.themes][:3], taxonomy.themes[0].owner.value
    (['billing', 'delivery', 'usability'], 'billing')
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from journeylens._yaml_lines import YamlFileError, compose_mapping, field_path, line_of, read_text
from journeylens.errors import close_matches

__all__ = [
    "STARTER", "THEMES_FILE", "Owner", "Taxonomy", "Theme", "ThemeError", "load_taxonomy", "parse_taxonomy",
    "write_starter",
]  # fmt: skip

THEMES_FILE = "themes.yaml"
HINT = "See the Themes section of docs/voc.md; `journeylens init` writes a commented starter."
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]+)?$")
# Constructs Python's re accepts but RE2 (DuckDB) or Java (Spark) reject or read differently.
_NOT_PORTABLE = re.compile(r"\(\?<?[=!]|\(\?P?<[A-Za-z]|\(\?P[=>]|\(\?>|\\[1-9]|[*+?}][+]")
_META = re.compile(r"([.^$*+?()\[\]{}|\\])")
WORD_EDGE = r"[^\p{L}\p{N}_]"
"""Not a letter, digit or underscore in any script (RE2 and Java read ``\\p{L}``)."""


class Owner(StrEnum):
    """The department that owns a theme (who acts on it)."""

    product = "product"
    software = "software"
    web = "web"
    marketing = "marketing"
    billing = "billing"
    logistics = "logistics"
    service = "service"


class ThemeProblem(ValueError):
    """A theme that is well typed but unusable; ``loc`` (relative to the theme) says where."""

    def __init__(self, problem: str, loc: tuple[str | int, ...], hint: str) -> None:
        super().__init__(problem)
        self.problem, self.loc, self.hint = problem, loc, hint


class ThemeError(YamlFileError):
    """A taxonomy file that cannot be used: ``path``, ``line`` (0 when unknown) and ``field``."""


def keyword_regex(keyword: str) -> str:
    """A keyword or phrase as a regular expression: metacharacters escaped, any run of
    whitespace between words."""
    return r"\s+".join(_META.sub(r"\\\1", word) for word in keyword.split())


def _check_pattern(pattern: str, loc: tuple[str | int, ...]) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ThemeProblem(
            f"{pattern!r} is not a valid regular expression: {exc}", loc,
            r"Escape special characters with \ (e.g. \. or \(), or list it under keywords, which "
            "are matched literally.",
        ) from None  # fmt: skip
    if _NOT_PORTABLE.search(pattern):
        raise ThemeProblem(
            f"{pattern!r} uses a look-around, back-reference, named group or possessive quantifier, "
            "which the engines (RE2 on DuckDB, Java on Spark) do not run alike",
            loc, "Write it without (?=, (?!, (?<=, (?<!, (?P<, (?>, \\1 or ++.",
        )  # fmt: skip
    if compiled.search("") is not None:
        raise ThemeProblem(
            f"{pattern!r} matches an empty text, so it would put every comment in this theme", loc,
            "Make at least one character required (+ instead of *).",
        )  # fmt: skip


class Theme(BaseModel):
    """One theme: who owns it and which words say it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case name: letters, digits, underscores (billing, delivery).")
    owner: Owner = Field(description="Department that owns it: " + ", ".join(o.value for o in Owner) + ".")
    description: str | None = Field(None, description="What belongs here, for the people who maintain it.")
    keywords: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Words and phrases per language (en, nl, ...), matched whole-word, case-insensitively.",
    )
    patterns: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Regular expressions per language (no look-arounds or back-references), "
        "case-insensitive.",
    )
    reasons: list[str] = Field(
        default_factory=list,
        description="Contact reasons (journeys' contact_reason) or label values that mean this theme: "
        "they label comments for the classifier.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a theme name: use lower-case letters, digits and underscores "
                "(e.g. confusing_marketing)"
            )
        return value

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, values: list[str]) -> list[str]:
        return [v.strip().lower() for v in values if v.strip()]

    @model_validator(mode="after")
    def _words(self) -> Theme:
        for part in ("keywords", "patterns"):
            by_language: dict[str, list[str]] = getattr(self, part)
            for language, entries in by_language.items():
                if not _LANGUAGE.match(language):
                    raise ThemeProblem(
                        f"{language!r} is not a language code", (part, language),
                        "Use ISO 639 codes such as en, nl, de, fr (pt-br for a variant).",
                    )  # fmt: skip
                for i, entry in enumerate(entries):
                    if not str(entry).strip():
                        raise ThemeProblem(
                            "an empty keyword or pattern matches nothing", (part, language, i),
                            "Remove it, or write the word.",
                        )  # fmt: skip
                    if part == "patterns":
                        _check_pattern(str(entry), (part, language, i))
        self.keywords = {
            lang: list(dict.fromkeys(" ".join(k.lower().split()) for k in words))
            for lang, words in self.keywords.items()
        }
        if not any(self.keywords.values()) and not any(self.patterns.values()):
            raise ThemeProblem(
                f"theme {self.name!r} has no keywords or patterns, so no comment can match it",
                ("keywords",),
                "Add `keywords: {en: [word, another phrase]}` (a theme the classifier alone finds "
                "still needs one word to be found by the taxonomy).",
            )  # fmt: skip
        return self

    def regex(self) -> str | None:
        """The keywords as one whole-word regular expression (for a lower-cased comment)."""
        words = [k for entries in self.keywords.values() for k in entries]
        if not words:
            return None
        alternatives = "|".join(keyword_regex(k) for k in words)
        return f"(^|{WORD_EDGE})({alternatives})($|{WORD_EDGE})"

    def pattern_list(self) -> list[str]:
        """Every language's patterns, case-insensitive (``(?i)``)."""
        return [f"(?i){p}" for entries in self.patterns.values() for p in entries]


class Taxonomy(BaseModel):
    """The workspace's themes (``themes.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    themes: list[Theme] = Field(description="The themes, each with an owner and keywords.")

    @model_validator(mode="after")
    def _unique(self) -> Taxonomy:
        seen: dict[str, int] = {}
        for i, theme in enumerate(self.themes):
            if theme.name in seen:
                raise ThemeProblem(
                    f"theme {theme.name!r} is declared twice (also themes[{seen[theme.name]}])",
                    ("themes", i, "name"), "Merge the two, or rename one.",
                )  # fmt: skip
            seen[theme.name] = i
        return self

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.themes]

    def owners(self) -> dict[str, str]:
        return {t.name: t.owner.value for t in self.themes}

    def reason_map(self) -> dict[str, str]:
        """Contact reason (or label) -> theme; a reason listed under two themes belongs to neither
        (the label would not say which)."""
        pairs = [(r, t.name) for t in self.themes for r in [*t.reasons, t.name]]
        counts: dict[str, set[str]] = {}
        for reason, theme in pairs:
            counts.setdefault(reason, set()).add(theme)
        return {r: next(iter(ts)) for r, ts in counts.items() if len(ts) == 1}


def _translate(exc: ValidationError, path: Path, root: Any) -> ThemeError:
    first = exc.errors()[0]
    loc: tuple[str | int, ...] = tuple(first["loc"])
    problem = str(first["msg"]).removeprefix("Value error, ")
    hint = HINT
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ThemeProblem):
        loc = (*loc, *cause.loc) if cause.loc[:1] != ("themes",) else cause.loc
        problem, hint = cause.problem, cause.hint
    elif first["type"] == "extra_forbidden":
        name = str(loc[-1])
        allowed = list((Theme if "themes" in loc[:1] and len(loc) > 2 else Taxonomy).model_fields)
        near = close_matches(name, allowed)
        problem = f"unknown field {name!r}; expected one of {', '.join(allowed)}"
        hint = f"Did you mean {', '.join(repr(n) for n in near)}? {HINT}" if near else HINT
    elif first["type"] == "missing":
        problem, hint = "is required but missing", f"Add `{loc[-1]}:` here. {HINT}"
    elif first["type"] == "enum" and loc[-1:] == ("owner",):
        got = str(first.get("input"))
        near = close_matches(got, [o.value for o in Owner])
        problem = f"unknown owner department {got!r}; expected one of {', '.join(o.value for o in Owner)}"
        hint = (f"Did you mean {', '.join(repr(n) for n in near)}? " if near else "") + (
            "Owners are the departments that act on a theme."
        )
    elif "input" in first and not isinstance(first["input"], (dict, list)):
        problem = f"{problem} (got {first['input']!r})"
    return ThemeError(path, line_of(root, loc), field_path(loc), problem.rstrip("."), hint)


def parse_taxonomy(text: str, path: Path) -> Taxonomy:
    """A taxonomy from YAML ``text`` (``path`` names it in errors)."""
    root, data = compose_mapping(
        text, path, ThemeError, "a taxonomy is a YAML mapping with a `themes:` list", HINT
    )
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, path, root) from None


def write_starter(path: Path) -> bool:
    """Write the commented starter taxonomy unless ``path`` exists (people edit it); True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER, encoding="utf-8")
    return True


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read and validate a taxonomy file."""
    path = Path(path)
    return parse_taxonomy(read_text(path), path)


STARTER = """\
# Themes of feedback text: what customers talk about, and which department owns it.
# `journeylens feedback themes` matches every comment against these keywords in the engine
# (whole words and phrases, any case), learns a classifier from comments whose journey states a
# contact reason listed under `reasons:` (or from [voc.themes] label_property), and with
# --discover proposes new themes from negative comments no theme covers. See docs/voc.md.
#
# owner: product, software, web, marketing, billing, logistics or service.
# keywords: per language; every language applies to every comment.
# patterns: optional regular expressions (no look-arounds or back-references), e.g.
#   patterns: {en: ['charged \\w+ times']}
themes:
  - name: billing
    owner: billing
    description: Invoices, charges, refunds.
    keywords:
      en: [invoice, invoices, billing, bill, billed, charge, charges, charged, overcharged, refund,
           refunds, direct debit]
      nl: [factuur, rekening, afschrijving, terugbetaling]
      de: [rechnung, abbuchung, erstattung]
    reasons: [billing]
  - name: delivery
    owner: logistics
    description: Parcels, tracking, delivery times.
    keywords:
      en: [delivery, delivered, deliver, parcel, package, tracking, shipping, shipped, courier,
           time slot]
      nl: [levering, bezorging, bezorgd, pakket, pakketje]
      de: [lieferung, paket, zustellung]
    reasons: [delivery]
  - name: usability
    owner: web
    description: The website and the app are hard to use, or fail.
    keywords:
      en: [app, website, site, page, checkout, login, log in, password, easy to use, hard to use,
           too many steps, worked smoothly, process, find what i needed, cluttered, payment error,
           payment failed, error message]
      nl: [website, inloggen, wachtwoord, onduidelijk menu]
      de: [webseite, anmeldung, passwort]
    reasons: [payment, login]
  - name: product_quality
    owner: product
    description: The product itself disappoints or breaks.
    keywords:
      en: [product, quality, device, broke, broken, stopped working, defect, defective, faulty,
           disconnecting]
      nl: [kwaliteit, kapot, defect]
      de: [qualität, kaputt, defekt]
    reasons: [technical]
  - name: confusing_marketing
    owner: marketing
    description: Offers, promotions and newsletters that mislead or confuse.
    keywords:
      en: [promotion, promo, offer, offers, discount, newsletter, ad, advert, advertisement, deal,
           coupon, voucher, campaign, misleading]
      nl: [aanbieding, korting, nieuwsbrief]
      de: [angebot, rabatt, werbung]
    reasons: [promo]
  - name: agent_service
    owner: service
    description: How the people who helped (or did not) treated the customer.
    keywords:
      en: [agent, employee, on hold, call back, called back, called me back, rude, unhelpful,
           person on the phone]
      nl: [medewerker, wachttijd]
      de: [mitarbeiter, wartezeit]
"""
