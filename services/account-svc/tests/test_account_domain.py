"""account-svc's pure rules, without a database."""
import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest

from account_svc.accounts.domain import credit_code
from account_svc.accounts.domain.accounts import Account
from account_svc.accounts.domain.duplicates import judge
from account_svc.accounts.domain.hierarchy import build_tree, check_no_cycle
from account_svc.accounts.domain.names import normalise, similarity
from account_svc.assignment.domain import Assignment, NoTerritoryRules, assign_owner
from account_svc.classification.domain import Criterion, TierInputs, continuous_years, pareto, recommend_tier
from account_svc.records.domain.buying_centre import check_reports_to, coverage_gaps, org_chart
from account_svc.records.domain.complaints import apply_status
from account_svc.records.domain.records import KINDS, Record
from kam_shared.errors import Conflict, ValidationProblem
from kam_shared.events.account import MergedRecords

# Real, published codes (they pass the GB 32100-2015 check): ICBC, and two Shenzhen companies.
VALID_CODES = ["91100000100003962T", "91440300708461136T", "9144030071526726XG"]


# --- unified social credit code -------------------------------------------------------------------

@pytest.mark.parametrize("code", VALID_CODES)
def test_published_codes_pass_the_check_character(code):
    assert credit_code.validate(code) == code
    assert credit_code.check_character(code[:17]) == code[17]


def test_input_is_cleaned_before_checking():
    assert credit_code.validate(" 9110 0000-1000 0396 2t ") == "91100000100003962T"
    assert credit_code.validate("９１１０００００１００００３９６２Ｔ") == "91100000100003962T"  # full width
    assert credit_code.validate("   ") is None and credit_code.validate(None) is None


def test_check_character_31_is_written_zero():
    # Find a body whose weighted sum is a multiple of 31: its check character must be '0', never index 31.
    rng = random.Random(7)
    while True:
        body = "91" + "".join(rng.choice(credit_code.ALPHABET) for _ in range(15))
        total = sum(w * credit_code.VALUE[c] for w, c in zip(credit_code.WEIGHTS, body, strict=False))
        if total % 31 == 0:
            break
    assert credit_code.check_character(body) == "0"
    assert credit_code.validate(body + "0") == body + "0"


@pytest.mark.parametrize("raw, why", [
    ("91100000100003962", "18 characters"),
    ("91100000100003962TT", "18 characters"),
    ("91100000100003962A", "check character is 'A'"),
    ("91310000MA1FL1234X", "give 'Q'"),          # the old README example: one character off
    ("9110000010000396IT", "'I'"),               # I, O, S, V, Z are not in the alphabet
    ("9110000010000396OT", "'O'"),
])
def test_invalid_codes_are_422_naming_the_field_and_the_reason(raw, why):
    with pytest.raises(ValidationProblem) as err:
        credit_code.validate(raw)
    assert err.value.field == "credit_code" and why in err.value.detail


def test_generated_codes_are_valid_and_differ():
    rng = random.Random(1)
    codes = {credit_code.generate(rng) for _ in range(500)}
    assert len(codes) == 500
    assert all(credit_code.problem_with(c) is None for c in codes)
    # One changed character is always caught (the weights are all non-zero mod 31).
    code = codes.pop()
    for i in range(17):
        other = credit_code.ALPHABET[(credit_code.VALUE[code[i]] + 1) % 31]
        assert credit_code.problem_with(code[:i] + other + code[i + 1:]) is not None


# --- names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ("中国工商银行股份有限公司", "中国工商银行"),
    ("中国工商银行股份有限公司", " 中国 工商银行（股份有限公司） "),
    ("中国移动通信集团有限公司", "中国移动通信集团"),
    ("China Merchants Bank Co., Ltd.", "CHINA MERCHANTS BANK"),
    ("China Merchants Bank Co., Ltd.", "ｃｈｉｎａ　ｍｅｒｃｈａｎｔｓ　ｂａｎｋ ｌｔｄ"),  # full width
    ("Acme Inc.", "ACME, LLC"),
    ("Acme Corporation Limited", "acme"),
    ("西门子（中国）有限公司", "西门子中国"),
])
def test_same_company_normalises_to_the_same_key(a, b):
    assert normalise(a) == normalise(b) != ""


@pytest.mark.parametrize("a, b", [
    ("中国工商银行北京分公司", "中国工商银行"),    # a branch is not its head office
    ("中国工商银行", "中国建设银行"),
    ("Acme Bank", "Acme"),
])
def test_different_companies_keep_different_keys(a, b):
    assert normalise(a) != normalise(b)


def test_a_legal_form_alone_is_not_stripped_to_nothing():
    assert normalise("有限公司") != "" and normalise("Limited") == "limited"
    assert normalise("!!! ...") == ""


def test_similarity_matches_pg_trgm():
    # PostgreSQL 15 here: SELECT similarity('中国工商银行', '中国工商银行北京') → 0.6
    assert similarity("abc", "abc") == 1.0
    assert round(similarity("中国工商银行", "中国工商银行北京"), 4) == 0.6
    assert similarity("abc", "xyz") == 0.0


# --- duplicates ------------------------------------------------------------------------------------

def probe(name=None, code=None, region=None):
    return {"normalized_name": normalise(name) if name else None, "credit_code": code, "region": region}


def test_same_credit_code_is_an_exact_duplicate_whatever_the_name():
    verdict = judge(probe("Anything", VALID_CODES[0]), probe("中国工商银行", VALID_CODES[0]))
    assert (verdict.score, verdict.exact) == (100, True)


def test_same_normalised_name_is_exact_unless_the_credit_codes_differ():
    assert judge(probe("ICBC Ltd"), probe("ICBC", VALID_CODES[0])).exact is True
    different = judge(probe("ICBC Ltd", VALID_CODES[1]), probe("ICBC", VALID_CODES[0]))
    assert (different.score, different.exact) == (50, False)
    assert "different credit codes" in different.reasons[1]


def test_similar_names_score_by_similarity_and_region():
    near = judge(probe("中国工商银行北京", region="North"), probe("中国工商银行", region="North"))
    assert near is not None and not near.exact and near.score == round(0.6 * 90) + 5
    assert judge(probe("中国工商银行"), probe("Globex")) is None


# --- hierarchy ---------------------------------------------------------------------------------------

def test_a_parent_below_the_account_is_a_cycle():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    check_no_cycle(a, b, [b, c])  # b's chain does not contain a
    with pytest.raises(Conflict) as err:
        check_no_cycle(a, c, [c, b, a])  # c is under a
    assert err.value.field == "parent_id"
    with pytest.raises(Conflict):
        check_no_cycle(a, a, [a])


def test_tree_nests_children_by_name():
    root, x, y, z = (uuid.uuid4() for _ in range(4))
    nodes = {root: {"id": root, "parent_id": None, "name": "Group"},
             x: {"id": x, "parent_id": root, "name": "B branch"},
             y: {"id": y, "parent_id": root, "name": "A branch"},
             z: {"id": z, "parent_id": y, "name": "A sub"}}
    tree = build_tree(root, nodes)
    assert [c["name"] for c in tree["children"]] == ["A branch", "B branch"]
    assert tree["children"][0]["children"][0]["id"] == z


# --- assignment --------------------------------------------------------------------------------------

def test_assignment_explicit_then_territory_then_creator():
    creator, named, by_rule = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    class NorthRule:
        def owner_for(self, profile):
            return Assignment(by_rule, "territory:north") if profile.get("region") == "North" else None

    assert assign_owner(explicit_owner=named, creator=creator, profile={}, rules=NorthRule()).rule == "explicit"
    assert assign_owner(explicit_owner=None, creator=creator, profile={"region": "North"},
                        rules=NorthRule()) == Assignment(by_rule, "territory:north")
    assert assign_owner(explicit_owner=None, creator=creator, profile={"region": "North"},
                        rules=NoTerritoryRules()) == Assignment(creator, "creator")


# --- the account aggregate ---------------------------------------------------------------------------

def new_account(**over):
    return Account.open(owner_id=uuid.uuid4(), **{"name": "中国工商银行股份有限公司", **over})


def test_update_records_each_change_from_to_and_bumps_the_version_once():
    account = new_account(industry="banking")
    account.events.clear()
    changes = account.update({"industry": "finance", "employees": 400000, "region": None}, by=None)
    assert set(changes) == {"industry", "employees"}
    assert changes["industry"].model_dump(by_alias=True) == {"from": "banking", "to": "finance"}
    assert account.version == 2 and [e.type for e in account.events] == ["kam.account.updated.v1"]
    assert account.update({"industry": "finance"}, by=None) == {} and account.version == 2


def test_enrich_fills_only_empty_fields():
    account = new_account(industry="banking")
    account.events.clear()
    filled = account.enrich({"industry": "retail", "region": "North", "website": "https://icbc.com.cn",
                             "annual_revenue": Decimal("1000"), "currency": "USD"}, by=None)
    assert set(filled) == {"region", "website", "annual_revenue", "currency"}
    assert account.industry == "banking" and account.currency == "USD"
    assert account.events[0].data.cause == "enrich"


def test_currency_cannot_change_under_stored_figures():
    account = new_account(annual_revenue=Decimal("10.00"))
    with pytest.raises(ValidationProblem) as err:
        account.update({"currency": "USD"}, by=None)
    assert err.value.field == "currency"
    account.update({"currency": "USD", "annual_revenue": Decimal("2.00")}, by=None)
    assert account.currency == "USD"


def test_absorb_fills_the_survivor_and_tombstones_the_duplicate():
    survivor = new_account(industry="banking")
    duplicate = new_account(name="ICBC", credit_code=VALID_CODES[0], region="North", industry="retail")
    survivor.events.clear()
    filled = survivor.absorb(duplicate, moved=MergedRecords(), by=None, parent_allowed=True)
    assert filled == ["credit_code", "region"]
    assert survivor.credit_code == VALID_CODES[0] and survivor.industry == "banking"
    assert duplicate.merged_into_id == survivor.id and duplicate.credit_code is None and duplicate.version == 2
    event = survivor.events[-1]
    assert event.type == "kam.account.merged.v1" and event.subject == survivor.id
    assert event.data.merged_version == 2 and event.data.merged_account.merged_into_id == survivor.id
    with pytest.raises(Conflict) as err:
        duplicate.update({"industry": "x"}, by=None)
    assert err.value.field == "id"


def test_absorb_refuses_two_legal_entities_and_itself():
    a, b = new_account(credit_code=VALID_CODES[0]), new_account(name="Other", credit_code=VALID_CODES[1])
    with pytest.raises(Conflict) as err:
        a.absorb(b, moved=MergedRecords(), by=None, parent_allowed=True)
    assert err.value.field == "credit_code"
    with pytest.raises(ValidationProblem):
        a.absorb(a, moved=MergedRecords(), by=None, parent_allowed=True)


def test_classify_validates_and_records_changes():
    account = new_account()
    account.events.clear()
    changes = account.classify(type="economic", tier="key", reason="volume", by=None)
    assert set(changes) == {"type", "tier"} and account.events[0].type == "kam.account.classified.v1"
    with pytest.raises(ValidationProblem) as err:
        account.classify(tier="gold", reason=None, by=None)
    assert err.value.field == "tier"


# --- classification ----------------------------------------------------------------------------------

def test_pareto_top_covers_the_threshold_and_includes_the_crossing_account():
    a, b, c, d, e = (uuid.uuid4() for _ in range(5))
    result = pareto({a: 5000, b: 2500, c: 1500, d: 700, e: 300, uuid.uuid4(): 0})
    # cumulative 50, 75, 90, 97, 100: c starts at 75% and crosses 80, so it is in the top
    assert [x.account_id for x in result.top] == [a, b, c]
    assert [x.pareto_class for x in result.entries] == ["A", "A", "A", "B", "C"]
    assert result.entries[2].cumulative_pct == Decimal("90.00") and result.total_cents == 10000
    exact = pareto({a: 8000, b: 2000})  # a alone makes exactly 80%: b is not needed
    assert [x.account_id for x in exact.top] == [a]


def test_continuous_years_end_this_year_or_last():
    today = dt.date(2026, 3, 1)
    assert continuous_years({2024, 2025}, today) == 2
    assert continuous_years({2023, 2024, 2025, 2026}, today) == 4
    assert continuous_years({2022, 2023}, today) == 0
    assert continuous_years({2024, 2026}, today) == 1


def inputs(**over):
    a = uuid.uuid4()
    base = dict(today=dt.date(2026, 6, 1), currency="CNY", won_cents_by_year={2024: 10**9, 2025: 10**9, 2026: 10**9},
                pareto_entry=pareto({a: 3 * 10**9, uuid.uuid4(): 10**8}).class_of(a),
                gross_margin_pct=Decimal("30"), strategic_flags=("strategic_significance",))
    base.update(over)
    return TierInputs(**base)


def test_a_big_profitable_loyal_account_is_key_and_each_criterion_explains_itself():
    result = recommend_tier(inputs())
    assert result.recommended_tier == "key" and result.score == 30 + 25 + 20 + 10
    assert [c.name for c in result.criteria] == ["revenue_contribution", "profit_contribution",
                                                 "continuous_purchasing", "strategic_value"]
    assert all(isinstance(c, Criterion) and c.explanation for c in result.criteria)
    assert "80%" in result.criteria[0].explanation and "3 consecutive years" in result.criteria[2].explanation


def test_scale_without_profit_is_capped_at_key_development():
    unknown = recommend_tier(inputs(gross_margin_pct=None, strategic_flags=tuple(
        ["strategic_significance", "image_influence", "technology_absorption", "growth_potential"])))
    assert unknown.score >= 65 and unknown.recommended_tier == "key_development"
    assert "margin" in unknown.caps[0] and "gross margin unknown" in unknown.criteria[1].explanation
    thin = recommend_tier(inputs(gross_margin_pct=Decimal("3")))
    assert thin.recommended_tier in ("key_development", "ordinary")


def test_no_revenue_no_flags_is_deprioritised():
    result = recommend_tier(inputs(won_cents_by_year={}, pareto_entry=None, gross_margin_pct=None,
                                   strategic_flags=()))
    assert (result.score, result.recommended_tier) == (0, "deprioritised")


# --- buying centre -----------------------------------------------------------------------------------

def contact(name, **over):
    return {"id": uuid.uuid4(), "name": name, "active": True, **over}


def test_gaps_name_what_is_missing():
    codes = {g.code for g in coverage_gaps([contact("Li", level="operator", department="using")])}
    assert {"no_decision_maker", "no_executive_contact", "no_coach", "no_procurement_contact",
            "no_support_contact"} <= codes and "no_using_contact" not in codes


def test_a_covered_buying_centre_has_no_gaps_and_risks_are_named():
    people = [contact("CEO", buying_role="decision_maker", level="executive", department="using",
                      relationship_strength="strong", attitude="supporter"),
              contact("Buyer", buying_role="procurement", department="procurement"),
              contact("IT", buying_role="coach", department="support")]
    assert coverage_gaps(people) == []
    people[0]["attitude"] = "opponent"
    people.append(contact("CFO", buying_role="blocker"))
    people.append(contact("Gone", buying_role="decision_maker", active=False))
    assert [g.code for g in coverage_gaps(people)] == ["decision_maker_opposed", "blocker"]


def test_org_chart_and_reports_to_cycles():
    boss, mid, low = contact("Boss"), contact("Mid"), contact("Low")
    mid["reports_to_id"], low["reports_to_id"] = boss["id"], mid["id"]
    chart = org_chart([low, mid, boss])
    assert chart[0]["name"] == "Boss" and chart[0]["reports"][0]["reports"][0]["name"] == "Low"
    with pytest.raises(Conflict) as err:
        check_reports_to(boss["id"], low["id"], [low["id"], mid["id"], boss["id"]])
    assert err.value.field == "reports_to_id"


# --- complaints and records --------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.timezone.utc)


def test_complaint_resolution_stamps_the_time_and_reopen_clears_it():
    raised = {"status": "open", "raised_at": NOW - dt.timedelta(hours=5)}
    with pytest.raises(ValidationProblem) as err:
        apply_status(raised, {"status": "resolved"}, NOW)
    assert err.value.field == "resolution"
    resolved = apply_status(raised, {"status": "resolved", "resolution": "replaced the unit"}, NOW)
    assert resolved["resolved_at"] == NOW and resolved["resolution_minutes"] == 300
    reopened = apply_status({**raised, **resolved}, {"status": "open"}, NOW)
    assert reopened["resolved_at"] is None and reopened["resolution_minutes"] is None
    with pytest.raises(Conflict):
        apply_status({"status": "closed"}, {"status": "resolved", "resolution": "x"}, NOW)


def test_record_changes_carry_from_to_and_merge_moves_them():
    account, survivor = uuid.uuid4(), uuid.uuid4()
    record = Record.create(KINDS["contact"], account, {"name": " Wang Wei ", "title": "CIO"}, by=None, now=NOW)
    assert record.values["name"] == "Wang Wei" and record.events[0].type == "kam.account.contact_added.v1"
    changes = record.update({"title": "CTO", "name": "Wang Wei"}, by=None, now=NOW)
    assert list(changes) == ["title"] and record.version == 2
    record.move_to(survivor, by=None)
    event = record.events[-1]
    assert event.data.cause == "merge" and event.data.contact.account_id == survivor and event.sequence == 3
    with pytest.raises(ValidationProblem) as err:
        record.update({"name": "  "}, by=None, now=NOW)
    assert err.value.field == "name"


def test_plan_actions_get_ids_once():
    owner = uuid.uuid4()
    plan = Record.create(KINDS["plan"], uuid.uuid4(), {
        "title": "FY plan", "period": "2026", "actions": [{"description": "exec visit", "owner_id": owner,
                                                            "due_date": dt.date(2026, 12, 1), "status": "open"}]},
        by=None, now=NOW)
    action_id = plan.values["actions"][0]["id"]
    assert uuid.UUID(action_id) and plan.values["actions"][0]["owner_id"] == str(owner)
    plan.update({"actions": [{**plan.values["actions"][0], "status": "done"}]}, by=None, now=NOW)
    assert plan.values["actions"][0]["id"] == action_id
