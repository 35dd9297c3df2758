"""The demo organisation `make run` seeds on first start, through the HTTP API only:
a director, two managers, four reps, a territory per region, approved quotas for this quarter,
a dozen accounts and opportunities spread over the funnel and over quarters (most open ones
confirmed by their owners), so every roll-up, forecast and attainment view has something to show.

A year of history: a seed cannot live through a year, and a live API call is stamped now. So the
past is imported the way an operator migrating from another CRM would: opportunity-svc's admin-only
`POST /v1/admin/opportunities/import` replays each opportunity's past (opened, stage moves forward
and back, close-date slips, re-estimates, won or lost with a reason and competitor) through the
funnel's own rules at the historical times, and its events carry those times. Everything that
reads events (roll-ups, predictions and their backtest, pipeline changes, forecast history) sees
a real, dated history. What cannot honestly be back-dated is not: forecast submissions are
immutable versions stamped when made, so only this quarter's are seeded."""
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


def _seed_territories_and_quotas(demo: _DemoClient, reps: dict[str, list[str]], quarter: str) -> None:
    # New accounts of each region go to its first rep (team-svc's territory rules; account-svc applies them).
    for region, people in reps.items():
        demo.post("team-svc", "/v1/territories", {
            "name": f"{region} region", "owner_id": people[0],
            "rules": [{"name": f"{region} accounts", "priority": 1, "regions": [region]}]})
    # This quarter's quotas, approved: attainment has a target to measure against.
    for owner in [rep for people in reps.values() for rep in people]:
        quota = demo.post("team-svc", "/v1/quotas", {"owner_kind": "user", "owner_id": owner, "period": quarter,
                                                     "currency": "CNY", "amount": "3000000.00"})
        demo.post("team-svc", f"/v1/quotas/{quota['id']}/submit", {})
        demo.post("team-svc", f"/v1/quotas/{quota['id']}/approve", {})


def _seed_opportunity(demo: _DemoClient, rng: random.Random, today: dt.date, account: dict, name: str,
                      owner: str) -> None:
    quarter_offset = rng.choice([-1, 0, 0, 1, 1, 2])
    close = _quarter_end(today, quarter_offset) - dt.timedelta(days=rng.randint(0, 80))
    amount = f"{rng.randrange(50, 2000) * 1000}.00"
    opp = demo.post("opportunity-svc", "/v1/opportunities", {
        "account_id": account["id"], "name": f"{rng.choice(DEALS)} — {name[:12]}", "amount": amount,
        "currency": "CNY", "close_date": close.isoformat(), "owner_id": owner})
    path = f"/v1/opportunities/{opp['id']}"
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
    """EXCHANGE RATES GO HERE (h-fxnodes, issue 14 item 2): forecast-svc's `PUT /v1/exchange-rates`
    with USD→CNY rates effective over the last year, so the USD history converts into CNY roll-ups.
    Until then USD figures are listed in `other_currencies`, never summed."""


def seed_demo(stack, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    rng = random.Random(2026)
    demo = _DemoClient(stack)
    director, managers, reps = _seed_people(demo)
    quarter = f"FY{today.year}-Q{(today.month - 1) // 3 + 1}"
    _seed_territories_and_quotas(demo, reps, quarter)
    _seed_exchange_rates(demo, today)
    opportunities = 0
    accounts: dict[str, list[dict]] = {}
    for i, (name, industry, region) in enumerate(ACCOUNTS):
        owner = reps[region][i % 2]
        account = demo.post("account-svc", "/v1/accounts",
                            {"name": name, "industry": industry, "region": region, "owner_id": owner})
        accounts.setdefault(region, []).append(account)
        for _ in range(rng.randint(2, 3)):
            _seed_opportunity(demo, rng, today, account, name, owner)
            opportunities += 1
    history = _import_history(demo, rng, today, accounts, reps)
    demo.http.close()
    print(f"  demo: 1 director, 2 managers, 4 reps, 2 territories, {quarter} quotas, {len(ACCOUNTS)} accounts, "
          f"{opportunities} opportunities, and a year of imported history: {history['won']} won, "
          f"{history['lost']} lost, {history['open']} still open ({history['USD']} in USD) "
          f"(users' password: '{DEMO_PASSWORD}', e.g. director@demo.kam)")
    return {"director": director, "managers": managers, "reps": reps, "history": history}
