"""The demo organisation `make run` seeds on first start, through the public HTTP API only:
a director, two managers, four reps, a territory per region (North with an approved plan for this
quarter), approved quotas for this quarter,
a dozen accounts and opportunities spread over the funnel and over quarters (most open ones
confirmed by their owners), so every roll-up, forecast and attainment view has something to show;
a product catalogue the opportunities' lines name, and a customer group (ICBC with a subsidiary and
a branch) whose whitespace shows a gap that comparable banks fill.

A year of history: a seed cannot live through a year, and a live API call is stamped now. So the
past is imported the way an operator migrating from another CRM would: opportunity-svc's admin-only
`POST /v1/admin/opportunities/import` replays each opportunity's past (opened, stage moves forward
and back, close-date slips, re-estimates, won or lost with a reason and competitor) through the
funnel's own rules at the historical times, and its events carry those times. Everything that
reads events (roll-ups, predictions and their backtest, pipeline changes, forecast history) sees
a real, dated history; USD→CNY rates for every month of it let the CNY roll-ups sum the USD deals.
What cannot honestly be back-dated is not: forecast submissions are immutable versions stamped
when made, so only this quarter's are seeded."""
from __future__ import annotations

import datetime as dt
import random

import httpx

# Dev logins only (make run, tests): long enough for the password policy, and public on purpose.
DEV_ADMIN_EMAIL = "admin@example.com"
DEV_ADMIN_PASSWORD = "kam-dev-passphrase"
DEMO_PASSWORD = "kam-demo-passphrase"

ACCOUNTS = [
    ("中国工商银行股份有限公司", "banking", "North"), ("China Merchants Bank Co., Ltd.", "banking", "South"),
    ("国家电网有限公司", "utilities", "North"), ("China Southern Power Grid", "utilities", "South"),
    ("中国移动通信集团有限公司", "telecom", "North"), ("Shenzhen Metro Group", "transport", "South"),
    ("北京协和医院", "healthcare", "North"), ("Guangzhou Automobile Group", "manufacturing", "South"),
    ("中国石油化工集团", "energy", "North"), ("Huizhou TCL Electronics", "manufacturing", "South"),
    ("天津港集团有限公司", "logistics", "North"), ("Xiamen Airlines", "aviation", "South"),
]
# The product catalogue (code, name, family): every demo opportunity has a line of one of them.
PRODUCTS = [("CBS-CORE", "Core banking platform", "software"), ("ANL-SUITE", "Analytics suite", "software"),
            ("DC-RACK", "Data centre rack", "hardware"), ("DEV-FIELD", "Field service device", "hardware"),
            ("SEC-SOC", "Managed security operations", "services")]
COMPETITORS = ["Rival Systems", "Globex", "Initech", "华信科技"]
WON_REASONS = ["best_value", "solution_fit", "relationship", "service"]
LOST_REASONS = ["price", "price", "solution_fit", "relationship", "no_decision", "cancelled"]
HISTORY_PER_REP = 40  # imported opportunities per rep, opened over the last year
USD_SHARE = 0.2  # of them in USD (the rest CNY)
DEALS = ["Core system upgrade", "Data centre expansion", "Branch network refresh", "Security platform",
         "Cloud migration", "Annual framework agreement", "Analytics suite", "Field service devices"]


def _quarter_end(today: dt.date, offset: int) -> dt.date:
    """A day near the end of the quarter `offset` quarters from today's."""
    index = today.year * 4 + (today.month - 1) // 3 + offset
    year, quarter = divmod(index, 4)
    return dt.date(year, 3 * quarter + 3, 28)


class _DemoClient:
    """The seed's HTTP client: an admin token, the users it made and their own tokens."""

    def __init__(self, stack):
        self.stack = stack
        self.http = httpx.Client(timeout=20)
        self.emails: dict[str, str] = {}
        self.tokens: dict[str, dict] = {}
        self.admin = self._login(DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)

    def _login(self, email: str, password: str) -> dict:
        token = self.http.post(f"{self.stack.url('team-svc')}/v1/auth/token",
                               data={"username": email, "password": password}).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def post(self, service: str, path: str, body: dict, auth: dict | None = None) -> dict:
        resp = self.http.post(f"{self.stack.url(service)}{path}", headers=auth or self.admin, json=body)
        resp.raise_for_status()
        return resp.json()

    def patch(self, service: str, path: str, body: dict, auth: dict | None = None) -> dict:
        resp = self.http.patch(f"{self.stack.url(service)}{path}", headers=auth or self.admin, json=body)
        resp.raise_for_status()
        return resp.json()

    def user(self, email: str, name: str, role: str, superior: str | None = None) -> str:
        body = {"email": email, "name": name, "role": role, "password": DEMO_PASSWORD}
        if superior:
            body["superior_id"] = superior
        user_id = self.post("team-svc", "/v1/users", body)["id"]
        self.emails[user_id] = email
        return user_id

    def as_user(self, user_id: str) -> dict:
        """The owner's own token: confirming an opportunity is the primary owner's act."""
        if user_id not in self.tokens:
            self.tokens[user_id] = self._login(self.emails[user_id], DEMO_PASSWORD)
        return self.tokens[user_id]


def _seed_people(demo: _DemoClient) -> tuple[str, list[str], dict[str, list[str]]]:
    director = demo.user("director@demo.kam", "Li Wei (Sales Director)", "manager")
    north = demo.user("north.manager@demo.kam", "Zhang Min (North)", "manager", director)
    south = demo.user("south.manager@demo.kam", "Chen Jing (South)", "manager", director)
    reps = {"North": [demo.user("wang.fang@demo.kam", "Wang Fang", "rep", north),
                      demo.user("liu.yang@demo.kam", "Liu Yang", "rep", north)],
            "South": [demo.user("huang.lei@demo.kam", "Huang Lei", "rep", south),
                      demo.user("zhao.min@demo.kam", "Zhao Min", "rep", south)]}
    return director, [north, south], reps


def _seed_territories_and_quotas(demo: _DemoClient, reps: dict[str, list[str]], quarter: str) -> dict[str, str]:
    # New accounts of each region go to its first rep (team-svc's territory rules; account-svc applies them).
    territories = {}
    for region, people in reps.items():
        territories[region] = demo.post("team-svc", "/v1/territories", {
            "name": f"{region} region", "owner_id": people[0],
            "rules": [{"name": f"{region} accounts", "priority": 1, "regions": [region]}]})["id"]
    # This quarter's quotas, approved: attainment has a target to measure against.
    for owner in [rep for people in reps.values() for rep in people]:
        quota = demo.post("team-svc", "/v1/quotas", {"owner_kind": "user", "owner_id": owner, "period": quarter,
                                                     "currency": "CNY", "amount": "3000000.00"})
        demo.post("team-svc", f"/v1/quotas/{quota['id']}/submit", {})
        demo.post("team-svc", f"/v1/quotas/{quota['id']}/approve", {})
    return territories


def _seed_territory_plan(demo: _DemoClient, territory: str, people: list[str], quarter: str) -> str:
    """The North territory's plan for this quarter: objectives, coverage, capacity; submitted and approved."""
    plan = demo.post("team-svc", "/v1/territory-plans", {
        "territory_id": territory, "period": quarter, "capacity_accounts": 5,
        "objectives": [{"description": "Win the grid and telecom framework renewals", "measure": "won revenue",
                        "target": "6000000"},
                       {"description": "An executive sponsor meeting at every key account", "measure": "meetings",
                        "target": "6"}],
        "coverage": [{"user_id": people[0], "role": "account_manager", "capacity_percent": 100},
                     {"user_id": people[1], "role": "account_manager", "capacity_percent": 60}]})
    demo.post("team-svc", f"/v1/territory-plans/{plan['id']}/submit", {}, auth=demo.as_user(people[0]))
    demo.post("team-svc", f"/v1/territory-plans/{plan['id']}/approve", {})
    return plan["id"]


def _seed_opportunity(demo: _DemoClient, rng: random.Random, today: dt.date, account: dict, name: str,
                      owner: str) -> None:
    quarter_offset = rng.choice([-1, 0, 0, 1, 1, 2])
    close = _quarter_end(today, quarter_offset) - dt.timedelta(days=rng.randint(0, 80))
    amount = f"{rng.randrange(50, 2000) * 1000}.00"
    opp = demo.post("opportunity-svc", "/v1/opportunities", {
        "account_id": account["id"], "name": f"{rng.choice(DEALS)} — {name[:12]}", "amount": amount,
        "currency": "CNY", "close_date": close.isoformat(), "owner_id": owner})
    path = f"/v1/opportunities/{opp['id']}"
    code = rng.choice(PRODUCTS)[0]
    demo.patch("opportunity-svc", path, {"lines": [{"product_code": code, "quantity": 1, "quoted_price": amount}]})
    if quarter_offset < 0 or rng.random() < 0.15:
        won = rng.random() < 0.6
        reason = rng.choice(["best_value", "solution_fit", "relationship"] if won
                            else ["price", "price", "solution_fit", "no_decision"])
        demo.post("opportunity-svc", f"{path}/close", {
            "outcome": "won" if won else "lost", "reason": reason,
            **({} if won or reason == "no_decision" else {"competitor": rng.choice(["Rival Systems", "Globex",
                                                                                    "Initech"])})})
        return
    stage = rng.randint(1, 7)
    if stage > 1:
        demo.post("opportunity-svc", f"{path}/stage", {"stage": stage})
    if rng.random() < 0.75:
        demo.post("opportunity-svc", f"{path}/confirm", {"confirmed": True}, auth=demo.as_user(owner))


def _seed_health_and_team(demo: _DemoClient, today: dt.date, seeded: list[dict], reps: dict[str, list[str]]) -> dict:
    """Issue 12: an at-risk account (old open complaints, an overdue plan action, nobody met) and an
    account team (a rep of the other region's team and a presales colleague on a South account)."""
    at_risk = seeded[0]  # 中国工商银行, Wang Fang's
    now = dt.datetime.combine(today, dt.time(9), tzinfo=dt.timezone.utc)
    for subject, severity, days in (("Core system outage unresolved", "critical", 120),
                                    ("Invoices disputed for two quarters", "high", 45)):
        demo.post("account-svc", f"/v1/accounts/{at_risk['id']}/complaints", {
            "subject": subject, "severity": severity, "raised_at": (now - dt.timedelta(days=days)).isoformat()})
    demo.post("account-svc", f"/v1/accounts/{at_risk['id']}/plans", {
        "title": f"FY{today.year} account plan", "period": str(today.year), "status": "active",
        "relationship_stage": "building", "actions": [{
            "description": "Executive sponsor meeting with the CIO", "owner_id": at_risk["owner_id"],
            "due_date": (today - dt.timedelta(days=40)).isoformat()}]})
    teamed = seeded[1]  # China Merchants Bank, Zhao Min's (South)
    for member, role in ((reps["North"][0], "technical"), (reps["South"][0], "presales")):
        demo.http.put(f"{demo.stack.url('account-svc')}/v1/accounts/{teamed['id']}/team/{member}",
                      headers=demo.admin, json={"role": role}).raise_for_status()
    return {"at_risk_account": at_risk["id"], "team_account": teamed["id"]}
def _seed_catalogue(demo: _DemoClient) -> None:
    for code, name, family in PRODUCTS:
        demo.post("opportunity-svc", "/v1/products", {"code": code, "name": name, "family": family})


def _won_deal(demo: _DemoClient, account_id: str, owner: str, code: str, amount: str, today: dt.date) -> None:
    opp = demo.post("opportunity-svc", "/v1/opportunities", {
        "account_id": account_id, "name": f"{code} rollout", "amount": amount, "currency": "CNY",
        "close_date": (today - dt.timedelta(days=30)).isoformat(), "owner_id": owner})
    path = f"/v1/opportunities/{opp['id']}"
    demo.patch("opportunity-svc", path, {"lines": [{"product_code": code, "quantity": 1, "quoted_price": amount}]})
    demo.post("opportunity-svc", f"{path}/close", {"outcome": "won", "reason": "solution_fit"})


def _seed_group(demo: _DemoClient, accounts: dict[str, dict], today: dt.date) -> None:
    """ICBC as a group: a leasing subsidiary that bought the core banking platform and a branch below it
    that bought nothing yet; China Merchants Bank (also banking, key tier) bought analytics and security,
    so the group's whitespace shows those gaps with what a comparable bank spends."""
    icbc, cmb = accounts["中国工商银行股份有限公司"], accounts["China Merchants Bank Co., Ltd."]
    owner = icbc["owner_id"]
    for account in (icbc, cmb):
        demo.post("account-svc", f"/v1/accounts/{account['id']}/classification", {"tier": "key"})
    leasing = demo.post("account-svc", "/v1/accounts", {
        "name": "工银金融租赁有限公司", "industry": "banking", "region": "North", "tier": "key",
        "parent_id": icbc["id"], "owner_id": owner})
    demo.post("account-svc", "/v1/accounts", {
        "name": "中国工商银行北京市分行", "industry": "banking", "region": "North", "tier": "key",
        "parent_id": icbc["id"], "owner_id": owner})
    _won_deal(demo, leasing["id"], owner, "CBS-CORE", "2400000.00", today)
    for code, amount in (("ANL-SUITE", "800000.00"), ("SEC-SOC", "450000.00")):
        _won_deal(demo, cmb["id"], cmb["owner_id"], code, amount, today)


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(1, 10), rng.randint(0, 59)), dt.timezone.utc)


def _moves(rng: random.Random, top: int) -> list[dict]:
    """Stage moves from 1 up to `top`: some skip a stage, a few step back once and forward again."""
    stages = [s for s in range(2, top + 1) if s == top or rng.random() < 0.75]
    if len(stages) >= 2 and rng.random() < 0.15:
        stages[-1:] = [stages[-1], stages[-1] - 1, stages[-1]]
    return [{"stage": s} for s in stages]


def _close_step(rng: random.Random, won: bool) -> dict:
    if won:
        return {"outcome": "won", "reason": rng.choice(WON_REASONS)}
    reason = rng.choice(LOST_REASONS)
    return {"outcome": "lost", "reason": reason,
            **({} if reason in ("no_decision", "cancelled") else {"competitor": rng.choice(COMPETITORS)})}


def _journey(rng: random.Random, opened: dt.date, close: dt.date, now: dt.datetime) -> list[dict]:
    """The past steps of one opportunity (stage moves, a slip, a re-estimate, the close), at
    increasing times before now; one whose (slipped) close date has not come yet stays open."""
    won = rng.random() < 0.4
    changes = _moves(rng, rng.randint(5, 7) if won else rng.choice([1, 2, 2, 3, 3, 4, 5, 6]))
    final_close = close + dt.timedelta(days=rng.randint(20, 60)) if rng.random() < 0.3 else close
    if final_close != close:  # a slip
        changes.insert(rng.randint(0, len(changes)), {"close_date": final_close.isoformat()})
    if rng.random() < 0.2:  # a re-estimate
        changes.insert(rng.randint(0, len(changes)), {"amount_factor": rng.choice([0.8, 0.9, 1.1, 1.25])})
    start, end = _at(opened, rng), _at(final_close, rng)
    closes = end < now - dt.timedelta(days=1)
    if closes:
        changes.append(_close_step(rng, won))
    else:
        end = now - dt.timedelta(hours=2)  # still open: its moves so far, since it opened
    span = max((end - start).total_seconds(), 3600.0 * (len(changes) + 1))
    times = sorted(rng.uniform(0.02, 0.95) for _ in changes)
    if closes:
        times[-1] = 0.999  # the close comes last
    return [{**c, "at": (start + dt.timedelta(seconds=span * t)).isoformat()}
            for c, t in zip(changes, times, strict=True)]


def _import_history(demo: _DemoClient, rng: random.Random, today: dt.date, accounts: dict[str, list[dict]],
                    reps: dict[str, list[str]]) -> dict[str, int]:
    """A year of past opportunities per rep, in CNY and USD, imported with their dated histories."""
    now = dt.datetime.now(dt.timezone.utc)
    counts = {"won": 0, "lost": 0, "open": 0, "USD": 0}
    for region, people in reps.items():
        for owner in people:
            for _ in range(HISTORY_PER_REP):
                opened = today - dt.timedelta(days=rng.randint(30, 365))
                close = opened + dt.timedelta(days=rng.randint(25, 120))
                steps = _journey(rng, opened, close, now)
                usd = rng.random() < USD_SHARE
                cents = rng.randrange(30, 1500) * 1000 // (7 if usd else 1)
                amount = f"{cents}.00"
                for step in steps:
                    if "amount_factor" in step:
                        step["amount"] = f"{int(cents * step.pop('amount_factor'))}.00"
                account = rng.choice(accounts[region])
                opp = demo.post("opportunity-svc", "/v1/admin/opportunities/import", {
                    "account_id": account["id"], "name": f"{rng.choice(DEALS)} — {account['name'][:12]}",
                    "amount": amount, "currency": "USD" if usd else "CNY", "close_date": close.isoformat(),
                    "owner_id": owner, "created_at": _at(opened, rng).isoformat(), "steps": steps})
                counts[opp["status"]] += 1
                counts["USD"] += usd
                if opp["status"] == "open" and rng.random() < 0.7:
                    demo.post("opportunity-svc", f"/v1/opportunities/{opp['id']}/confirm", {"confirmed": True},
                              auth=demo.as_user(owner))
    return counts


def _seed_exchange_rates(demo: _DemoClient, today: dt.date) -> None:
    """Corporate USD→CNY rates, one per month from 13 months back (forecast-svc's rates are monthly:
    in force from the first of a month), so the imported USD history converts into CNY roll-ups."""
    first = dt.date(today.year - 1, today.month, 1)
    months = [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(13)]
    rates = [{"from": "USD", "to": "CNY", "rate": f"{7.05 + 0.02 * ((i * 7) % 9 - 4):.4f}",
              "effective_date": month.isoformat()} for i, month in enumerate(months)]
    resp = demo.http.put(f"{demo.stack.url('forecast-svc')}/v1/exchange-rates", headers=demo.admin, json=rates)
    resp.raise_for_status()


def seed_demo(stack, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    rng = random.Random(2026)
    demo = _DemoClient(stack)
    director, managers, reps = _seed_people(demo)
    quarter = f"FY{today.year}-Q{(today.month - 1) // 3 + 1}"
    territories = _seed_territories_and_quotas(demo, reps, quarter)
    territory_plan = _seed_territory_plan(demo, territories["North"], reps["North"], quarter)
    _seed_catalogue(demo)
    _seed_exchange_rates(demo, today)
    opportunities, seeded = 0, []
    accounts, by_region = {}, {}
    for i, (name, industry, region) in enumerate(ACCOUNTS):
        owner = reps[region][i % 2]
        account = accounts[name] = demo.post("account-svc", "/v1/accounts",
                                             {"name": name, "industry": industry, "region": region, "owner_id": owner})
        seeded.append(account)
        by_region.setdefault(region, []).append(account)
        for _ in range(rng.randint(2, 3)):
            _seed_opportunity(demo, rng, today, account, name, owner)
            opportunities += 1
    _seed_group(demo, accounts, today)
    intelligence = _seed_health_and_team(demo, today, seeded, reps)
    history = _import_history(demo, rng, today, by_region, reps)
    demo.http.close()
    print(f"  demo: 1 director, 2 managers, 4 reps, 2 territories (North with an approved {quarter} plan), "
          f"{quarter} quotas, {len(PRODUCTS)} products, {len(ACCOUNTS)} accounts (ICBC a group of 3), "
          f"{opportunities} opportunities, an at-risk account, an account team, and a year of imported "
          f"history: {history['won']} won, {history['lost']} lost, {history['open']} still open "
          f"({history['USD']} in USD, at monthly USD→CNY rates) "
          f"(users' password: '{DEMO_PASSWORD}', e.g. director@demo.kam)")
    return {"director": director, "managers": managers, "reps": reps, "territory_plan": territory_plan,
            "group": accounts["中国工商银行股份有限公司"]["id"], "history": history, **intelligence}
