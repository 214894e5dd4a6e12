"""The backlog's parts without a world: backlog.yaml reading (and its errors), the merge of two
sources' findings, ranking, confidence, and the exports (docs/decisions.md, "Backlog")."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from journeylens.decisions.backlog import (
    BacklogResult,
    Evidence,
    Opportunity,
    confidence,
    merge,
    rank,
    slug,
    with_plan,
)
from journeylens.decisions.backlog_plan import BacklogFileError, load_plan, parse_plan
from journeylens.specs.backlog import BacklogSpec

PATH = Path("backlog.yaml")


def _item(kind: str, subject: str, money: float | None, **kw: object) -> Opportunity:
    base: dict[str, object] = {
        "title": f"{subject} is associated with something", "journeys": 100.0, "customers": 80.0,
        "money_lo": money and money * 0.8, "money_hi": money and money * 1.2,
        "money_method": "test", "owner": None, "confidence": "high",
        "evidence": (Evidence(kind, f"{kind} numbers", f"journeylens {kind}"),),
    }  # fmt: skip
    return Opportunity(kind=kind, subject=subject, money=money, **{**base, **kw})  # type: ignore[arg-type]


# --- backlog.yaml ---------------------------------------------------------------------------------


def test_plan_reads_effort_in_days_or_sizes() -> None:
    plan = parse_plan(
        "items:\n  - id: a\n    effort: M\n  - id: b\n    effort: 3d\n    status: doing\n  - id: c\n", PATH
    )
    assert [plan.entries[k].effort_days for k in "abc"] == [10.0, 3.0, None]
    assert plan.entries["b"].status == "doing" and plan.lines == {"a": 2, "b": 4, "c": 7}


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("items:\n  - id: a\n    efort: 3\n", 3, "items[0].efort", "unknown field 'efort'"),
        ("items:\n  - id: a\n    status: maybe\n", 3, "items[0].status", "Input should be"),
        ("items:\n  - id: a\n    effort: huge\n", 3, "items[0].effort", "neither days nor S/M/L"),
        ("items:\n  - id: a\n    effort: -2\n", 3, "items[0].effort", "positive"),
        ("items:\n  - effort: 2\n", 2, "items[0].id", "required but missing"),
        ("items:\n  - id: a\n  - id: a\n", 3, "items[1].id", "listed twice (first on line 2)"),
        ("- id: a\n", 1, "", "expected a mapping"),
        ("items: [\n", 2, "", "not valid YAML"),
    ],
)
def test_bad_plan_names_file_line_and_field(text: str, line: int, field: str, words: str) -> None:
    with pytest.raises(BacklogFileError) as caught:
        parse_plan(text, PATH)
    err = caught.value
    assert (err.line, err.field) == (line, field) and words in err.problem
    assert str(PATH) in str(err) and "Hint:" in str(err)


def test_a_missing_plan_is_empty_and_unknown_ids_are_warnings(tmp_path: Path) -> None:
    assert load_plan(tmp_path / "backlog.yaml").entries == {}
    plan = parse_plan("items:\n  - id: avoidable-contact-web-faq\n", PATH)
    (warning,) = plan.unknown({"avoidable-contact-web-billing-faq"})
    assert warning.to_dict()["kind"] == "unknown_entry" and warning.line == 2
    assert "avoidable-contact-web-billing-faq" in warning.hint


# --- merge, rank, confidence ----------------------------------------------------------------------


def test_two_sources_on_one_subject_are_one_item_with_both_evidences() -> None:
    contacts = _item("avoidable contact", "app:payment_error", 900.0, owner="billing")
    cause = _item("friction cause", "app:payment_error", 2_500.0, journey_value=40.0)
    other = _item("avoidable contact", "web:billing_faq", 1_000.0)
    items = rank(merge([contacts, other, cause]))
    assert [o.subject for o in items] == ["app:payment_error", "web:billing_faq"]
    top = items[0]
    assert top.kind == "friction cause" and top.also_kinds == ("avoidable contact",)
    assert top.money == 2_500.0  # not summed: the same journeys
    assert [e.source for e in top.evidence] == ["friction cause", "avoidable contact"]
    assert top.owner == "billing" and top.journey_value == 40.0
    assert top.also_ids == (slug("avoidable contact", "app:payment_error"),)
    # A backlog.yaml entry may name the merged candidate's id.
    plan = parse_plan("items:\n  - id: avoidable-contact-app-payment-error\n    effort: 4\n", PATH)
    assert with_plan(items, plan)[0].effort_days == 4.0 and plan.unknown({top.id, *top.also_ids}) == []


def test_rank_by_value_per_effort_puts_unsized_effort_last() -> None:
    a, b, c = _item("k", "a", 1_000.0), _item("k", "b", 300.0), _item("k", "c", None)
    a, b = replace(a, effort_days=10.0), replace(b, effort_days=1.0)
    assert [o.subject for o in rank([a, b, c])] == ["a", "b", "c"]
    assert [o.subject for o in rank([a, b, c], "value_per_effort")] == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("estimate", "lo", "hi", "q", "expected"),
    [
        (100.0, 80.0, 120.0, None, "high"),
        (100.0, 80.0, 120.0, 0.02, "medium"),
        (100.0, 50.0, 150.0, None, "medium"),
        (100.0, 10.0, 190.0, None, "low"),
        (100.0, -5.0, 205.0, None, "low"),
        (None, None, None, None, "low"),
    ],
)
def test_confidence_rule(estimate: float | None, lo: float | None, hi: float | None, q: float | None,
                         expected: str) -> None:  # fmt: skip
    assert confidence(estimate, lo, hi, q) == expected


# --- spec and exports -----------------------------------------------------------------------------


def test_spec_validates_sources_and_kinds() -> None:
    assert BacklogSpec(kinds="avoidable_contact,negative theme").kinds == [
        "avoidable contact",
        "negative theme",
    ]
    with pytest.raises(ValueError, match="unknown source 'cause'"):
        BacklogSpec(sources="cause")
    with pytest.raises(ValueError, match="unknown kind 'friction'"):
        BacklogSpec(kinds="friction")


def test_exports_carry_money_interval_and_evidence() -> None:
    import pyarrow as pa

    items = rank(merge([_item("avoidable contact", "web:billing_faq", 1_000.0)]))
    records = [{"rank": 1, **items[0].record()}]
    result = BacklogResult(pa.Table.from_pylist(records), items=tuple(items), context={"rank_by": "money"})
    assert "1,000 [800–1,200]" in result.to_markdown()
    assert result.to_csv().splitlines()[0].startswith("rank,id,kind")
    assert result.to_dict()["evidence"]["avoidable-contact-web-billing-faq"][0]["command"] == (
        "journeylens avoidable contact"
    )
    assert "associated with" in records[0]["association"]


def test_items_without_money_follow_by_their_count() -> None:
    priced = _item("avoidable contact", "web:a", 10.0, count=1.0)
    small, large = (
        _item("avoidable contact", s, None, count=n) for s, n in (("web:b", 5.0), ("web:c", 50.0))
    )
    assert [o.subject for o in rank([small, large, priced])] == ["web:a", "web:c", "web:b"]
