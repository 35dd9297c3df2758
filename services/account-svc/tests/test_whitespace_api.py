"""GET /v1/accounts/{id}/whitespace over HTTP: the group tree × the product families, from the product
and opportunity replicas fed through the service's own consumer path; the comparable-accounts figures
kept by that consumer; 404 outside the caller's scope."""
import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select

from account_svc.whitespace.models import comparable_family_stats
from account_svc.whitespace.schemas import Whitespace
from kam_shared.events import DomainEvent, OpportunityClosed, OpportunityStageChanged, OpportunityState
from kam_shared.events.opportunity import OpportunityLineState, ProductCreated, ProductState
from kam_shared.testing import bearer, feed

from .test_account_api import assert_problem, create, tag


def product_event(code: str, family: str, active: bool = True):
    state = ProductState(id=uuid.uuid4(), code=code, name=code, family=family, active=active, version=1)
    return DomainEvent("kam.opportunity.product_created.v1", state.id, 1, ProductCreated(product=state)) \
        .to_cloudevent("/kam/opportunity-svc")


def deal(account_id, lines: list[tuple[str, str]], *, status="won", currency="CNY", version=2, opp_id=None):
    """An opportunity event whose lines are (family, amount) pairs."""
    opp_id = opp_id or uuid.uuid4()
    state = OpportunityState(
        id=opp_id, account_id=account_id, name="deal", amount=sum((Decimal(a) for _, a in lines), Decimal(0)),
        currency=currency, close_date=dt.date(2026, 6, 30), owner_id=uuid.uuid4(), stage=3 if status == "open" else 8,
        probability=100 if status == "won" else 0, status=status, version=version,
        updated_at=dt.datetime.now(dt.timezone.utc),
        lines=[OpportunityLineState(product=f, product_code=f"{f}-1", family=f, quantity=1, amount=Decimal(a))
               for f, a in lines])
    if status == "open":
        data, kind = OpportunityStageChanged(opportunity=state, from_stage=2, to_stage=3), \
            "kam.opportunity.stage_changed.v1"
    else:
        data, kind = OpportunityClosed(opportunity=state, outcome=status, reason="r", from_stage=7), \
            "kam.opportunity.closed.v1"
    return DomainEvent(kind, opp_id, version, data).to_cloudevent("/kam/opportunity-svc")


async def test_group_tree_crossed_with_families_and_what_comparable_accounts_buy(accounts, people):
    industry, sw, hw = f"ind-{tag()}", f"software-{tag()}", f"hardware-{tag()}"
    rep = people.rep
    group = await create(accounts, rep, industry=industry, tier="key")
    sub = await create(accounts, rep, industry=industry, tier="key", parent_id=group["id"])
    branch = await create(accounts, rep, industry=industry, tier="ordinary", parent_id=sub["id"])
    peers = [await create(accounts, people.other_rep, industry=industry, tier="key") for _ in range(3)]
    await feed(accounts.runtime, product_event(f"SW-{tag()}", sw), product_event(f"HW-{tag()}", hw),
               deal(uuid.UUID(sub["id"]), [(sw, "1000.00")]),
               deal(uuid.UUID(branch["id"]), [(hw, "50.00")], status="open"),
               # comparable accounts (same industry, tier key): two of three bought hardware
               deal(uuid.UUID(peers[0]["id"]), [(hw, "300.00"), (sw, "10.00")]),
               deal(uuid.UUID(peers[0]["id"]), [(hw, "100.00")]),
               deal(uuid.UUID(peers[1]["id"]), [(hw, "800.00")]),
               deal(uuid.UUID(peers[2]["id"]), [(hw, "999.00")], status="lost"))
    resp = await accounts.get(f"/v1/accounts/{group['id']}/whitespace", headers=bearer(rep))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    Whitespace.model_validate(body)  # the answer is the documented shape (the route serialises it as built)
    assert {sw, hw} <= set(body["families"])
    units = {u["id"]: u for u in body["units"]}
    assert [u["id"] for u in body["units"]] == [group["id"], sub["id"], branch["id"]]
    assert [units[i]["depth"] for i in (group["id"], sub["id"], branch["id"])] == [0, 1, 2]
    cell = {(u["id"], c["family"]): c for u in body["units"] for c in u["cells"]}
    assert cell[(sub["id"], sw)]["status"] == "won" and cell[(sub["id"], sw)]["comparable"] is None
    assert cell[(branch["id"], hw)]["status"] == "open"
    gap = cell[(group["id"], hw)]
    assert gap["status"] == "none"
    # 5 accounts of (industry, key): group, sub and the 3 peers, of which 2 won hardware (3 deals)
    assert gap["comparable"]["accounts"] == 5 and gap["comparable"]["buyers"] == 2
    assert gap["comparable"]["share"] == 0.4
    assert gap["comparable"]["estimates"] == [{"currency": "CNY", "amount": "300.00", "won_opportunities": 3}]
    # the branch is ordinary tier: nobody comparable bought anything
    assert cell[(branch["id"], sw)]["comparable"]["buyers"] == 0


async def test_figures_follow_reopened_deals_and_an_account_changing_tier(accounts, people):
    industry, fam = f"ind-{tag()}", f"fam-{tag()}"
    buyer = await create(accounts, people.rep, industry=industry, tier="key")
    opp = uuid.uuid4()
    await feed(accounts.runtime, deal(uuid.UUID(buyer["id"]), [(fam, "70.00")], opp_id=opp))

    async def figures(tier):
        async with accounts.runtime.db.session() as session:
            row = (await session.execute(select(comparable_family_stats).where(
                comparable_family_stats.c.industry == industry, comparable_family_stats.c.tier == tier,
                comparable_family_stats.c.family == fam))).mappings().first()
        return None if row is None else (row["buyers"], row["estimates"][0]["median_cents"])

    assert await figures("key") == (1, 7000)
    moved = await accounts.post(f"/v1/accounts/{buyer['id']}/classification", headers=bearer(people.rep),
                                json={"tier": "ordinary"})
    assert moved.status_code == 200, moved.text
    assert (await figures("key"), await figures("ordinary")) == (None, (1, 7000))
    await feed(accounts.runtime, deal(uuid.UUID(buyer["id"]), [(fam, "70.00")], opp_id=opp, status="open", version=3))
    assert await figures("ordinary") is None


async def test_whitespace_outside_the_callers_scope_is_404_and_hidden_units_show_no_cells(accounts, people):
    group = await create(accounts, people.rep)
    other = await create(accounts, people.other_rep, parent_id=None)
    assert_problem(await accounts.get(f"/v1/accounts/{group['id']}/whitespace", headers=bearer(people.other_rep)),
                   404, "not found")
    assert_problem(await accounts.get(f"/v1/accounts/{uuid.uuid4()}/whitespace", headers=bearer(people.rep)),
                   404, "not found")
    # a manager's group with a unit owned outside a rep's scope: the rep sees its place only
    top = await create(accounts, people.rep)
    hidden = await create(accounts, people.manager, "manager", parent_id=top["id"], owner_id=str(people.manager))
    body = (await accounts.get(f"/v1/accounts/{top['id']}/whitespace", headers=bearer(people.rep))).json()
    unit = next(u for u in body["units"] if u["id"] == hidden["id"])
    assert (unit["restricted"], unit["name"], unit["cells"]) == (True, None, [])
    assert other["id"] not in {u["id"] for u in body["units"]}
