"""team-svc's pure rules, without a database."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kam_shared.errors import Conflict, Forbidden, ValidationProblem
from kam_shared.events.team import (
    AccountProfile,
    FiscalCalendarState,
    IncentiveAccelerator,
    IncentiveTier,
    TerritoryState,
    size_band_for,
)
from team_svc.auth.blocks import BlockMemory, retry_after_s
from team_svc.auth.domain import (
    ThrottlePolicy,
    ThrottleState,
    attempt,
    check_password,
    client_address,
    current,
    parse_networks,
    succeeded_from_address,
    wait_s,
)
from team_svc.auth.passwords import common_passwords
from team_svc.common import paths
from team_svc.incentives.domain import IncentivePlan, Payout, Terms, statement
from team_svc.org.domain import OrgUnit, ParentFacts
from team_svc.quotas.domain import ChildTarget, Quota, allocate, split_cents
from team_svc.territories.domain import RuleRef, check_no_ambiguity, common_account, make_rule
from team_svc.users.domain import Placement, check_reporting_line

D = Decimal


# ------------------------------------------------------------------------------------- paths

def test_paths_answer_is_above_and_subtree_ranges_from_one_string():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pa = paths.path_of(a, None)
    pb = paths.path_of(b, pa)
    pc = paths.path_of(c, pb)
    assert paths.ancestors(pc) == [a, b] and paths.depth(pc) == 3 == paths.depth_of_length(len(pc))
    assert paths.is_above(a, pc) and paths.is_above(b, pc) and not paths.is_above(c, pc)
    assert not paths.is_above(c, pa)
    low, high = paths.subtree_range(pb)
    assert low <= pb < high and low <= pc < high and not (low <= pa < high)
    sibling = paths.path_of(uuid.uuid4(), pa)
    assert not (low <= sibling < high)
    assert paths.would_cycle(a, pc) and not paths.would_cycle(c, pb)
    assert paths.rebased(pc, pb, paths.path_of(b, None)) == paths.path_of(b, None) + c.hex + "/"


def test_paths_refuse_a_hierarchy_deeper_than_the_limit():
    path = None
    for _ in range(paths.MAX_DEPTH):
        path = paths.path_of(uuid.uuid4(), path)
    with pytest.raises(ValidationProblem, match="deeper"):
        paths.path_of(uuid.uuid4(), path)


def test_reporting_lines_stay_inside_a_company():
    acme, globex = uuid.uuid4(), uuid.uuid4()
    check_reporting_line(acme, Placement(uuid.uuid4(), acme))
    check_reporting_line(acme, Placement(uuid.uuid4(), None))  # unplaced people are not bound
    check_reporting_line(None, Placement(uuid.uuid4(), globex))
    with pytest.raises(ValidationProblem, match="another company"):
        check_reporting_line(acme, Placement(uuid.uuid4(), globex))
    with pytest.raises(ValidationProblem, match="deactivated"):
        check_reporting_line(acme, Placement(uuid.uuid4(), acme, active=False))


def test_org_units_only_companies_stand_alone_and_moves_cannot_cycle():
    company = OrgUnit.create(name="Acme", kind="company", parent=None)
    assert company.company_id == company.id
    with pytest.raises(ValidationProblem, match="needs a parent"):
        OrgUnit.create(name="Team", kind="team", parent=None)
    facts = ParentFacts(company.id, company.id, True, paths.path_of(company.id, None))
    region = OrgUnit.create(name="North", kind="region", parent=facts)
    with pytest.raises(ValidationProblem, match="no parent"):
        OrgUnit.create(name="Sub", kind="company", parent=facts)
    region_facts = ParentFacts(region.id, company.id, True, paths.path_of(region.id, facts.path))
    team = OrgUnit.create(name="T", kind="team", parent=region_facts)
    team_facts = ParentFacts(team.id, company.id, True, paths.path_of(team.id, region_facts.path))
    with pytest.raises(Conflict, match="cycle"):
        region.change(parent=team_facts)
    with pytest.raises(Conflict, match="active members"):
        team.change(active=False, active_members=2)
    other = OrgUnit.create(name="Globex", kind="company", parent=None)
    changes = team.change(parent=ParentFacts(other.id, other.id, True, paths.path_of(other.id, None)))
    assert changes["company_id"] == (company.id, other.id)
    assert team.events[-1].type == "kam.team.org_unit_moved.v1" and team.version == 2


# ------------------------------------------------------------------------------ sign-in rules

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_throttle_delays_grow_after_the_free_failures_and_are_capped():
    policy = ThrottlePolicy(free_failures=5, max_delay_s=900, forget_after_s=86400)
    assert [policy.delay_s(n) for n in range(1, 10)] == [0, 0, 0, 0, 2, 4, 8, 16, 32]
    assert policy.delay_s(14) == 900 and policy.delay_s(10_000) == 900  # capped, no overflow
    state, now = ThrottleState(), T0
    for _ in range(4):
        state = attempt(policy, state, now)
        assert wait_s(state, now) == 0
    state = attempt(policy, state, now)  # the 5th failure: the next attempt waits 2 s
    assert state.failures == 5 and wait_s(state, now) == 2
    assert wait_s(state, now + dt.timedelta(seconds=1.5)) == 1 and wait_s(state, now + dt.timedelta(seconds=2)) == 0
    state = attempt(policy, state, now + dt.timedelta(seconds=2))
    assert wait_s(state, now + dt.timedelta(seconds=2)) == 4


def test_throttle_forgets_after_a_quiet_spell_and_a_success_uncounts_one_attempt():
    policy = ThrottlePolicy(free_failures=2, max_delay_s=60, forget_after_s=3600)
    state = attempt(policy, attempt(policy, ThrottleState(), T0), T0)
    assert wait_s(state, T0) == 2
    assert current(policy, state, T0 + dt.timedelta(seconds=3599)) == state
    assert current(policy, state, T0 + dt.timedelta(seconds=3600)) == ThrottleState()
    after_success = succeeded_from_address(policy, state)
    assert after_success.failures == 1 and wait_s(after_success, T0) == 0
    deep = ThrottleState(failures=9, blocked_until=T0 + dt.timedelta(seconds=60), last_attempt_at=T0)
    assert succeeded_from_address(policy, deep).blocked_until == deep.blocked_until  # still throttled


def _refusal(memory, key, now, mono, **tarpit):
    return memory.refusal([key], now=now, mono=mono, **{"tarpit_after": 1000, "tarpit_s": 0.0, "max_held": 10,
                                                        **tarpit})


def test_block_memory_refuses_only_what_the_database_said_and_no_longer_than_it_or_its_trust():
    memory, until = BlockMemory(), T0 + dt.timedelta(seconds=8)
    memory.learn("k", "account", None, now=T0, mono=0.0, trust_s=30, since=memory.generation)  # not blocked
    memory.learn("past", "account", T0, now=T0, mono=0.0, trust_s=30, since=memory.generation)  # already over
    memory.learn("off", "account", until, now=T0, mono=0.0, trust_s=0, since=memory.generation)  # memory off
    assert len(memory) == 0 and _refusal(memory, "k", T0, 0.0) is None
    memory.learn("k", "account", until, now=T0, mono=100.0, trust_s=30, since=memory.generation)
    refusal = _refusal(memory, "k", T0 + dt.timedelta(seconds=3), 103.0)
    assert refusal.scope == "account" and refusal.blocked_until == until and refusal.hold_s == 0
    assert retry_after_s(refusal.blocked_until, T0 + dt.timedelta(seconds=3)) == 5
    assert _refusal(memory, "other", T0, 100.0) is None  # another key (the owner's address): never refused
    # The block is over (wall clock): the database is asked again, and the record is gone.
    assert _refusal(memory, "k", until, 101.0) is None and len(memory) == 0
    # Trusted for at most trust_s (monotonic) even while the database's block lasts longer.
    memory.learn("k", "account", until, now=T0, mono=100.0, trust_s=2, since=memory.generation)
    assert _refusal(memory, "k", T0, 101.9) is not None
    assert _refusal(memory, "k", T0, 102.0) is None


def test_block_memory_forgets_on_success_and_never_writes_back_a_read_older_than_it():
    memory, until = BlockMemory(), T0 + dt.timedelta(seconds=60)
    before = memory.generation  # an attempt reads the database ...
    memory.learn("pair", "account", until, now=T0, mono=0.0, trust_s=30, since=before)
    memory.forget("pair")  # ... a success from that address lifts the block ...
    assert _refusal(memory, "pair", T0, 1.0) is None
    memory.learn("pair", "account", until, now=T0, mono=0.0, trust_s=30, since=before)  # ... the older read
    assert _refusal(memory, "pair", T0, 1.0) is None
    memory.learn("pair", "account", until, now=T0, mono=0.0, trust_s=30, since=memory.generation)
    memory.clear()
    assert len(memory) == 0


def test_block_memory_is_bounded_oldest_record_first():
    memory, until = BlockMemory(max_records=3), T0 + dt.timedelta(seconds=60)
    for n in range(5):
        memory.learn(f"k{n}", "address", until, now=T0, mono=0.0, trust_s=30, since=memory.generation)
    assert len(memory) == 3
    assert [_refusal(memory, f"k{n}", T0, 1.0) is not None for n in range(5)] == [False, False, True, True, True]


def test_tarpit_holds_only_a_key_that_keeps_hammering_and_never_past_the_block_end():
    memory, until = BlockMemory(), T0 + dt.timedelta(seconds=10)
    memory.learn("k", "account", until, now=T0, mono=0.0, trust_s=30, since=memory.generation)
    tarpit = {"tarpit_after": 2, "tarpit_s": 2.0, "max_held": 1}
    holds = [_refusal(memory, "k", T0, 1.0, **tarpit).hold_s for _ in range(4)]
    assert holds == [0, 0, 2.0, 2.0]  # the first answers at once, then each is held
    assert _refusal(memory, "k", until - dt.timedelta(seconds=2.5), 1.0, **tarpit).hold_s == 2.0
    assert _refusal(memory, "k", until - dt.timedelta(seconds=0.5), 1.0, **tarpit).hold_s == 0.5  # until it ends
    memory.held = 1  # max_held answers are being held: the next is answered at once
    assert _refusal(memory, "k", T0, 1.0, **tarpit).hold_s == 0
    memory.held = 0
    assert _refusal(memory, "k", T0, 1.0, **{**tarpit, "tarpit_s": 0}).hold_s == 0  # tarpit off
    # Learning the same block again (a parallel attempt that asked the database) keeps the count.
    memory.learn("k", "account", until, now=T0, mono=0.0, trust_s=30, since=memory.generation)
    assert _refusal(memory, "k", T0, 1.0, **tarpit).hold_s == 2.0


def test_client_address_believes_the_forwarded_chain_only_from_a_trusted_proxy():
    trusted = parse_networks("10.0.0.0/8, 192.168.1.5")
    assert client_address("203.0.113.7", ["198.51.100.1"], trusted) == "203.0.113.7"  # not a proxy: header ignored
    assert client_address("10.1.2.3", ["198.51.100.1"], trusted) == "198.51.100.1"
    # The client wrote the left part; the right-most untrusted hop is the one our proxy saw.
    assert client_address("10.1.2.3", ["1.1.1.1, 198.51.100.1, 10.9.9.9"], trusted) == "198.51.100.1"
    assert client_address("10.1.2.3", ["1.1.1.1", "198.51.100.1"], trusted) == "198.51.100.1"  # two headers
    assert client_address("10.1.2.3", [], trusted) == "10.1.2.3"
    assert client_address("10.1.2.3", ["10.4.4.4"], trusted) == "10.4.4.4"
    assert client_address("10.1.2.3", ["1.1.1.1, not-an-ip"], trusted) == "10.1.2.3"  # junk never counts
    assert client_address("10.1.2.3", ["2001:db8::1"], trusted) == "2001:db8::1"
    assert client_address(None, ["1.1.1.1"], trusted) == "unknown"
    assert client_address("127.0.0.1", ["1.1.1.1"], parse_networks("")) == "127.0.0.1"
    with pytest.raises(ValueError, match="KAM_TRUSTED_PROXIES"):
        parse_networks("10.0.0.0/8, bogus")


@pytest.mark.parametrize("password, email, name, says", [
    ("short-pw", "a.b@example.com", "A B", "at least 12"),
    ("x" * 201, "a.b@example.com", "A B", "at most 200"),
    ("Password1234", "a.b@example.com", "A B", "most common"),
    ("1qaz2wsx3edc", "a.b@example.com", "A B", "most common"),
    ("wang.fang@example.com", "wang.fang@example.com", "W", "email"),
    ("my-wang.fang-pw!", "Wang.Fang@example.com", "W", "email"),
    ("Liu Yang forever", "ly@example.com", "Liu Yang", "name"),
    ("mr-huang-password", "h@example.com", "Huang Lei", "name"),
])
def test_password_policy_refuses_short_common_and_personal_passwords(password, email, name, says):
    with pytest.raises(ValidationProblem, match=says) as refused:
        check_password(password, email=email, name=name, common=common_passwords(), field="new_password")
    assert refused.value.field == "new_password"


def test_password_policy_accepts_long_uncommon_passphrases_and_ignores_tiny_names():
    for password, email, name in [("lamp-tiger-7", "rep.1@example.com", "R"), ("correct horse battery", "a@b.cn", "A")]:
        check_password(password, email=email, name=name, common=common_passwords())
    assert "password" in common_passwords() and len(common_passwords()) >= 10_000


# ------------------------------------------------------------------------------- territories

def territory(*rules, owner=None, active=True):
    return TerritoryState(id=uuid.uuid4(), name="T", parent_id=None, owner_id=owner or uuid.uuid4(), version=1,
                          active=active, rules=list(rules))


def test_rule_book_first_matching_priority_wins_and_labels_compare_loosely():
    from kam_shared.events.team import TerritoryRuleBook
    named = uuid.uuid4()
    key = territory(make_rule(name="named", priority=1, account_ids=[named]))
    banks = territory(make_rule(name="banks", priority=10, regions=["North"], industries=["Banking"]))
    big = territory(make_rule(name="big", priority=5, size_bands=["enterprise"]))
    north = territory(make_rule(name="north", priority=50, regions=["north"]))
    off = territory(make_rule(name="off", priority=0 + 2, regions=["north"]), active=False)
    book = TerritoryRuleBook([key, banks, big, north, off])
    assert book.match(AccountProfile(region=" NORTH ", industry="banking")).rule.rule.name == "banks"
    assert book.match(AccountProfile(region="north", industry="banking", employees=50_000)).rule.rule.name == "big"
    assert book.match(AccountProfile(account_id=named, region="north")).owner_id == key.owner_id
    found = book.match(AccountProfile(region="north", industry="retail"))
    assert found.rule.rule.name == "north" and [c.rule.name for c in found.passed_over] == ["named", "big", "banks"]
    assert book.match(AccountProfile(region="south")) is None
    assert size_band_for(99) == "small" and size_band_for(100) == "medium" and size_band_for(10_000) == "enterprise"


def test_equal_priority_rules_that_can_both_match_are_ambiguous():
    a = make_rule(name="a", priority=5, regions=["north"], industries=["banking"])
    same_region_other_industry = make_rule(name="b", priority=5, regions=["north"], industries=["retail"])
    any_industry = make_rule(name="c", priority=5, regions=["north", "east"])
    named = make_rule(name="d", priority=5, account_ids=[uuid.uuid4()])
    assert common_account(a, same_region_other_industry) is None
    assert common_account(a, any_industry) == {"regions": "north", "industries": "banking"}
    assert common_account(a, named) is not None  # a named account may well be a northern bank
    check_no_ambiguity([RuleRef(same_region_other_industry, uuid.uuid4(), "B")], [RuleRef(a, uuid.uuid4(), "A")])
    with pytest.raises(Conflict, match="both have priority 5"):
        check_no_ambiguity([RuleRef(any_industry, uuid.uuid4(), "C")], [RuleRef(a, uuid.uuid4(), "A")])
    with pytest.raises(ValidationProblem, match="size band"):
        make_rule(name="x", priority=1, size_bands=["gigantic"])


# ---------------------------------------------------------------------------- fiscal periods

def test_fiscal_calendar_names_years_by_the_year_they_start():
    april = FiscalCalendarState(fiscal_year_start_month=4, version=1)
    fy = april.parse("fy2026")
    assert (fy.label, fy.start, fy.end) == ("FY2026", dt.date(2026, 4, 1), dt.date(2027, 4, 1))
    q4 = april.parse("FY2026-Q4")
    assert (q4.start, q4.end) == (dt.date(2027, 1, 1), dt.date(2027, 4, 1))
    assert april.fiscal_year_of(dt.date(2027, 3, 31)) == 2026 and april.fiscal_year_of(dt.date(2027, 4, 1)) == 2027
    assert april.shift_years(q4, -1).label == "FY2025-Q4"
    assert april.shift_years(april.parse("2026-11"), -1).label == "2025-11"
    for bad in ("2026", "FY26", "FY2026-Q5", "2026-13", "Q1"):
        with pytest.raises(ValueError):
            april.parse(bad)


# ------------------------------------------------------------------------------------ quotas

def test_splits_always_add_up_to_the_cent():
    assert split_cents(100, [D(1)] * 3) == [34, 33, 33]
    assert split_cents(1000, [D(2), D(1)]) == [667, 333]
    assert sum(split_cents(99_999_999, [D("0.3"), D("0.3"), D("0.4")])) == 99_999_999
    with pytest.raises(ValidationProblem, match="zero"):
        split_cents(100, [D(0), D(0)])


def test_allocation_methods_and_the_gap():
    kids = [ChildTarget("user", uuid.uuid4()), ChildTarget("user", uuid.uuid4())]
    even = allocate(D("1000.00"), "even", kids)
    assert even.amounts == [D("500.00"), D("500.00")] and even.gap == 0
    lifted = allocate(D("1000.00"), "even", kids, uplift_percent=D(10))
    assert lifted.allocated == D("1100.00") and lifted.gap == D("-100.00")
    last_year = allocate(D("900.00"), "last_year_won", kids,
                         last_year_won_cents={kids[0].owner_id: 200, kids[1].owner_id: 100})
    assert last_year.amounts == [D("600.00"), D("300.00")]
    given = allocate(D("1000.00"), "amounts", [ChildTarget("user", k.owner_id, amount=D(300)) for k in kids])
    assert given.gap == D("400.00")
    with pytest.raises(ValidationProblem, match="weight"):
        allocate(D("1"), "weights", kids)
    with pytest.raises(ValidationProblem, match="negative"):
        allocate(D("1"), "amounts", [ChildTarget("user", kids[0].owner_id, amount=D(-1))])
    with pytest.raises(ValidationProblem, match="nobody"):
        allocate(D("1"), "even", [])


def test_quota_workflow_and_revisions():
    owner, boss = uuid.uuid4(), uuid.uuid4()
    cal = FiscalCalendarState(fiscal_year_start_month=1, version=1)
    q = Quota.set(owner_kind="user", owner_id=owner, responsible_user_id=owner, period=cal.parse("FY2026"),
                  currency="CNY", amount=D("100"), by=boss)
    with pytest.raises(ValidationProblem, match="negative"):
        q.retarget(D("-1"), boss)
    q.submit(owner)
    with pytest.raises(Forbidden, match="own quota"):
        q.approve(owner, approver_is_above=False, approver_is_admin=True)
    with pytest.raises(Forbidden, match="above"):
        q.approve(uuid.uuid4(), approver_is_above=False, approver_is_admin=False)
    q.approve(boss, approver_is_above=True, approver_is_admin=False)
    assert (q.status, q.approved_amount) == ("approved", D("100.00"))
    with pytest.raises(Conflict):
        q.retarget(D("5"), boss)
    q.revise(D("120"), "bigger territory", boss)
    assert (q.status, q.revision, q.amount, q.approved_amount) == ("draft", 2, D("120.00"), D("100.00"))
    assert [e.type.split(".")[2] for e in q.events] == ["quota_created", "quota_submitted", "quota_approved",
                                                       "quota_revised"]


# -------------------------------------------------------------------------------- incentives

PLAN = Terms(base_rate_percent=D("3"),
             tiers=(IncentiveTier(from_percent=0, to_percent=50, rate_percent=2),
                    IncentiveTier(from_percent=50, to_percent=100, rate_percent=4)),
             accelerators=(IncentiveAccelerator(from_percent=100, to_percent=150, multiplier=D("1.5")),
                           IncentiveAccelerator(from_percent=150, multiplier=2)),
             cap_amount=D("20000"))


def test_statement_shows_what_each_tier_and_accelerator_contributed():
    result = statement(PLAN, D("100000"), D("160000"))
    assert [(str(line.from_percent), str(line.to_percent), str(line.revenue), line.source, str(line.amount))
            for line in result.lines] == [
        ("0.00", "50.00", "50000.00", "tier 1", "1000.00"),
        ("50.00", "100.00", "50000.00", "tier 2", "2000.00"),
        ("100.00", "150.00", "50000.00", "base rate × accelerator 1", "2250.00"),
        ("150.00", "160.00", "10000.00", "base rate × accelerator 2", "600.00")]
    assert (result.gross, result.amount, result.capped, result.attainment_percent) == (
        D("5850.00"), D("5850.00"), False, D("160.00"))
    capped = statement(Terms(base_rate_percent=D("3"), cap_amount=D("1000")), D("100000"), D("50000"))
    assert (capped.gross, capped.amount, capped.capped) == (D("1500.00"), D("1000.00"), True)
    assert statement(PLAN, D("100000"), D("0")).lines == []
    with pytest.raises(ValidationProblem, match="positive quota"):
        statement(PLAN, D("0"), D("10"))


@pytest.mark.parametrize("tiers, accelerators, message", [
    ([(0, 60, 2), (50, 100, 4)], [], "overlaps"),
    ([(50, 40, 2)], [], "backwards"),
    ([(50, 100, 2), (0, 50, 4)], [], "overlaps or comes before"),
    ([(0, None, 2), (50, 100, 4)], [], "open-ended"),
    ([], [(120, 150, 2), (140, None, 3)], "overlaps"),
])
def test_tiers_that_overlap_or_go_backwards_are_refused(tiers, accelerators, message):
    with pytest.raises(ValidationProblem, match=message):
        Terms(base_rate_percent=D(1),
              tiers=tuple(IncentiveTier(from_percent=a, to_percent=b, rate_percent=r) for a, b, r in tiers),
              accelerators=tuple(IncentiveAccelerator(from_percent=a, to_percent=b, multiplier=m)
                                 for a, b, m in accelerators))


def test_plan_approval_needs_an_analysis_of_this_version_and_no_participant():
    rep, admin = uuid.uuid4(), uuid.uuid4()
    plan = IncentivePlan.draft(name="FY26 reps", currency="CNY", fiscal_year="FY2026", payout_frequency="quarter",
                               terms=PLAN, participant_ids=[rep], by=admin)
    with pytest.raises(Conflict, match="expected-cost"):
        plan.approve(admin, analysed_version=None, expected_cost=None, period=None)
    plan.analysed("FY2026-Q1", D(1), D(2), D(3), admin)
    with pytest.raises(Forbidden, match="take part"):
        plan.approve(rep, analysed_version=plan.version, expected_cost=D(2), period="FY2026-Q1")
    plan.change(admin, name="FY26 reps v2")
    with pytest.raises(Conflict, match="this version"):
        plan.approve(admin, analysed_version=plan.version - 1, expected_cost=D(2), period="FY2026-Q1")
    plan.approve(admin, analysed_version=plan.version, expected_cost=D(2), period="FY2026-Q1")
    with pytest.raises(Conflict, match="cannot change"):
        plan.change(admin, name="again")


def test_payout_revisions_pay_only_the_difference():
    user, boss, admin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = statement(PLAN, D("100000"), D("40000"))
    payout = Payout.calculate(plan_id=uuid.uuid4(), user_id=user, period="FY2026-Q1", currency="CNY", result=first,
                              by=admin)
    assert not payout.recalculate(first, admin)  # nothing moved: no new revision
    payout.approve(boss, approver_is_above=True, approver_is_admin=False)
    assert payout.pay(admin) == D("800.00")
    payout.recalculate(statement(PLAN, D("100000"), D("60000")), admin)  # a late win
    assert (payout.revision, payout.status, payout.amount) == (2, "calculated", D("1400.00"))
    with pytest.raises(Conflict, match="approve it"):
        payout.pay(admin)
    payout.adjust(D("-100"), "duplicate deal", boss, capped_amount=D("1400.00"))
    payout.approve(boss, approver_is_above=True, approver_is_admin=False)
    assert payout.pay(admin) == D("500.00") and payout.paid == D("1300.00") and payout.revision == 3
    with pytest.raises(ValidationProblem, match="negative"):
        payout.adjust(D("-5000"), "too much", boss, capped_amount=D("1400.00"))
    with pytest.raises(Forbidden, match="own payout"):
        payout.approve(user, approver_is_above=False, approver_is_admin=True)
