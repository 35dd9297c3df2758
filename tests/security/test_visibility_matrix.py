"""The visibility matrix, generated from the four services' OpenAPI documents (issue 13, item 7):
a new route is attacked without anyone listing it here.

Rep A (on manager A's team) owns one record of every kind. Three attackers try every route that
addresses a record by path id: a rep of another team, rep A's peer (same manager) and the other
team's manager. Every answer must be 403 or 404 (never 2xx, never 5xx); every list and roll-up
route must not carry any of rep A's record ids.

What a path parameter stands for comes from one table, PARAMETERS, by parameter kind (the path
segment before it and its name), not by route: a route with a parameter the table does not know
fails `test_every_path_parameter_is_known`, so whoever adds it says how to make one. Kinds in
DIRECTORY are readable by everyone signed in (the user directory, the org and territory trees,
company-wide settings); their reads are not attacked, their writes are.

Request bodies and required query parameters are made from the route's own JSON Schema (valid
by the schema), so that a refusal comes from the visibility or role check, not from validation.
"""
from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from kam_shared.services import SERVICES

PASSWORD = "lamp-tiger-7"
PERIOD = "FY2029-Q1"  # quotas and payouts (fiscal); forecasts take it as well
CALENDAR_PERIOD = "2029-Q1"

# (the literal path segment before the parameter, the parameter's name) -> the kind of value.
PARAMETERS = {
    ("accounts", "account_id"): "account",
    ("competitors", "record_id"): "competitor",
    ("complaints", "record_id"): "complaint",
    ("contacts", "record_id"): "contact",
    ("interactions", "record_id"): "interaction",
    ("plans", "record_id"): "account_plan",
    ("opportunities", "opp_id"): "opportunity",
    ("team", "user_id"): "team_member",
    ("forecasts", "record_id"): "forecast",
    ("versions", "number"): "version_number",
    ("funnel-norms", "node"): "node",
    ("funnel-norms", "period"): "period",
    ("forecast-principles", "period"): "period",
    ("quotas", "quota_id"): "quota",
    ("incentive-plans", "plan_id"): "incentive_plan",
    ("payouts", "payout_id"): "payout",
    ("users", "user_id"): "user",
    ("org-units", "unit_id"): "org_unit",
    ("territories", "territory_id"): "territory",
    ("rules", "rule_id"): "territory_rule",
    ("periods", "label"): "period",
    ("products", "code_or_id"): "product",
    ("territory-plans", "plan_id"): "territory_plan",
    ("rebalances", "rebalance_id"): "rebalance",
}
# Records rep A cannot own, and who reads them in the control: a rebalance is made by a manager or an
# admin and seen by its author and those above them (the admin's here).
VIEWER = {"rebalance": "admin"}
# Readable by everyone signed in (team-svc README "Who may do what", forecast principles are the
# company's); a route is private when any of its parameters is not of these kinds.
DIRECTORY = {"user", "team_member", "org_unit", "territory", "territory_rule", "period", "version_number",
             "product"}
# Query parameters of list and roll-up routes that name a node of the hierarchy: rep A's id.
NODE_QUERY = {"node", "user_id", "owner_id", "superior_id", "subordinate_id"}
DIRECTORY_READS = {"/v1/hierarchy/is-above"}
SKIP = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/.well-known/", "/docs")


def segments(path: str) -> list[tuple[str, str]]:
    """[(segment before, name)] for each {parameter} of a path."""
    out, literal = [], ""
    for part in path.strip("/").split("/"):
        if part.startswith("{"):
            out.append((literal, part[1:-1]))
        else:
            literal = part
    return out


@pytest.fixture(scope="module")
def documents(stack) -> dict[str, dict]:
    return {s: httpx.get(f"{stack.url(s)}/openapi.json", timeout=30).json() for s in SERVICES}


def operations(documents):
    for service, doc in documents.items():
        for path, item in doc["paths"].items():
            if path.startswith(SKIP) or not path.startswith("/v1/"):
                continue
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    yield service, method.upper(), path, op


def test_every_path_parameter_is_known(documents):
    unknown = sorted({f"{path} {{{name}}} (after '{before}')" for _, _, path, _ in operations(documents)
                      for before, name in segments(path) if (before, name) not in PARAMETERS})
    assert not unknown, ("routes with a path parameter the visibility matrix cannot fill; add its kind to "
                         f"PARAMETERS and a way to create one to World: {unknown}")


# ----------------------------------------------------------------------------------- the world


@dataclass
class World:
    """Rep A's records, made through the API as a client would, and the attackers' tokens."""
    stack: object
    admin: dict
    ids: dict = field(default_factory=dict)
    auth: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    def call(self, method: str, service: str, path: str, who: str, **kw) -> httpx.Response:
        headers = {**(self.admin if who == "admin" else self.auth[who]), **kw.pop("headers", {})}
        return httpx.request(method, f"{self.stack.url(service)}{path}", headers=headers, timeout=60, **kw)

    def made(self, method: str, service: str, path: str, who: str, body: dict) -> dict:
        """A 2xx answer; retried while another service's replica has not caught up (404/409/422)."""
        deadline = time.monotonic() + (0 if service == "team-svc" else 60)
        while True:
            resp = self.call(method, service, path, who, json=body)
            if resp.is_success:
                return resp.json()
            assert resp.status_code in (404, 409, 422) and time.monotonic() < deadline, \
                f"{method} {path}: {resp.status_code} {resp.text[:400]}"
            time.sleep(0.2)

    def people(self) -> None:
        tag = uuid.uuid4().hex[:6]
        for who, role, superior in (("manager_a", "manager", None), ("rep_a", "rep", "manager_a"),
                                    ("peer", "rep", "manager_a"), ("manager_b", "manager", None),
                                    ("rep_b", "rep", "manager_b")):
            email = f"matrix.{who}.{tag}@e2e.test"
            user = self.made("POST", "team-svc", "/v1/users", "admin", {
                "email": email, "name": f"Matrix {who} {tag}", "role": role, "password": PASSWORD,
                **({"superior_id": self.ids[superior]} if superior else {})})
            self.ids[who] = user["id"]
            resp = httpx.post(f"{self.stack.url('team-svc')}/v1/auth/token",
                              data={"username": email, "password": PASSWORD})
            assert resp.status_code == 200, resp.text
            self.auth[who] = {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def records(self) -> None:
        v, rep = self.values, self.ids["rep_a"]
        v["user"] = v["team_member"] = v["node"] = rep
        v["period"], v["version_number"] = PERIOD, "1"
        account = self.made("POST", "account-svc", "/v1/accounts", "rep_a",
                            {"name": f"Matrix account {uuid.uuid4().hex[:8]}"})
        v["account"] = account["id"]
        under = f"/v1/accounts/{account['id']}"
        v["competitor"] = self.made("POST", "account-svc", f"{under}/competitors", "rep_a",
                                    {"competitor": "Rival Systems"})["id"]
        v["complaint"] = self.made("POST", "account-svc", f"{under}/complaints", "rep_a", {"subject": "Late"})["id"]
        v["contact"] = self.made("POST", "account-svc", f"{under}/contacts", "rep_a", {"name": "Li Lei"})["id"]
        v["interaction"] = self.made("POST", "account-svc", f"{under}/interactions", "rep_a", {
            "kind": "visit", "subject": "Kick-off", "occurred_at": dt.datetime.now(dt.UTC).isoformat()})["id"]
        v["account_plan"] = self.made("POST", "account-svc", f"{under}/plans", "rep_a",
                                      {"title": "Grow", "period": "2029"})["id"]
        v["opportunity"] = self.made("POST", "opportunity-svc", "/v1/opportunities", "rep_a", {
            "account_id": account["id"], "name": "Matrix deal", "amount": "50000.00", "currency": "CNY",
            "close_date": "2029-02-01"})["id"]
        v["forecast"] = self.made("POST", "forecast-svc", "/v1/forecasts", "rep_a", {"period": CALENDAR_PERIOD})["id"]
        self.team_records()

    def team_records(self) -> None:
        v, rep = self.values, self.ids["rep_a"]
        quota = self.made("POST", "team-svc", "/v1/quotas", "admin", {
            "owner_kind": "user", "owner_id": rep, "period": PERIOD, "currency": "CNY", "amount": "100000"})
        v["quota"] = quota["id"]
        self.made("POST", "team-svc", f"/v1/quotas/{quota['id']}/submit", "admin", {})
        self.made("POST", "team-svc", f"/v1/quotas/{quota['id']}/approve", "admin", {})
        plan = self.made("POST", "team-svc", "/v1/incentive-plans", "admin", {
            "name": f"Matrix plan {uuid.uuid4().hex[:6]}", "currency": "CNY", "fiscal_year": PERIOD[:6],
            "payout_frequency": "quarter", "base_rate_percent": "3", "participant_ids": [rep]})
        v["incentive_plan"] = plan["id"]
        self.made("POST", "team-svc", f"/v1/incentive-plans/{plan['id']}/expected-cost", "admin", {"period": PERIOD})
        self.made("POST", "team-svc", f"/v1/incentive-plans/{plan['id']}/approve", "admin", {})
        run = self.made("POST", "team-svc", f"/v1/incentive-plans/{plan['id']}/payouts", "admin", {"period": PERIOD})
        v["payout"] = next(p["id"] for p in run["payouts"] if p["user_id"] == rep)
        unit = self.made("POST", "team-svc", "/v1/org-units", "admin",
                         {"name": f"Matrix unit {uuid.uuid4().hex[:6]}", "kind": "company"})
        v["org_unit"] = unit["id"]
        territory = self.made("POST", "team-svc", "/v1/territories", "admin",
                              {"name": f"Matrix territory {uuid.uuid4().hex[:6]}", "owner_id": rep})
        v["territory"] = territory["id"]
        v["territory_rule"] = self.made("POST", "team-svc", f"/v1/territories/{territory['id']}/rules", "admin",
                                        {"name": "Matrix rule", "priority": 1,
                                         "regions": [f"Matrix region {uuid.uuid4().hex[:8]}"]})["id"]
        v["territory_plan"] = self.made("POST", "team-svc", "/v1/territory-plans", "admin", {
            "territory_id": territory["id"], "period": PERIOD, "capacity_accounts": 10})["id"]
        other = self.made("POST", "team-svc", "/v1/territories", "admin",
                          {"name": f"Matrix territory {uuid.uuid4().hex[:6]}", "owner_id": rep})
        v["rebalance"] = self.made_eventually("POST", "team-svc", "/v1/territory-plans/rebalance", "admin", {
            "moves": [{"account_id": v["account"], "to_territory_id": other["id"]}], "reason": "matrix"})["id"]
        code = f"MATRIX-{uuid.uuid4().hex[:8]}"
        v["product"] = self.made("POST", "opportunity-svc", "/v1/products", "admin",
                                 {"code": code, "name": "Matrix product", "family": "software"})["code"]

    def made_eventually(self, method: str, service: str, path: str, who: str, body: dict) -> dict:
        """`made`, retried while team-svc's account replica has not caught up with account-svc."""
        deadline = time.monotonic() + 60
        while True:
            resp = self.call(method, service, path, who, json=body)
            if resp.is_success:
                return resp.json()
            assert resp.status_code in (404, 409, 422) and time.monotonic() < deadline, \
                f"{method} {path}: {resp.status_code} {resp.text[:400]}"
            time.sleep(0.2)

    def private_ids(self) -> set[str]:
        return {str(self.values[k]) for k in self.values if k not in DIRECTORY and k != "node"}


@pytest.fixture(scope="module")
def world(stack, org) -> World:
    _, tokens, _ = org
    w = World(stack, tokens["admin"])
    w.people()
    w.records()
    return w


ATTACKERS = ("rep_b", "peer", "manager_b")


# ------------------------------------------------------------------------- bodies from the schema


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _string(schema: dict, world: World, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return world.ids["peer"] if name.endswith(("user_id", "owner_id", "_ids")) else world.ids["rep_a"]
    if fmt == "date":
        return "2029-02-01"
    if fmt == "date-time":
        return dt.datetime.now(dt.UTC).isoformat()
    if fmt == "email":
        return "probe@example.com"
    if "pattern" in schema:
        for candidate in ("2029-Q1", "2029", "100.00", "CNY", "91100000100003962T", "probe"):
            if re.search(schema["pattern"], candidate):
                return candidate
    if name == "currency":
        return "CNY"
    if "period" in name:
        return PERIOD
    low, high = schema.get("minLength", 1), schema.get("maxLength", 40)
    return ("probe-" * 10)[:max(low, min(high, 12))]


def example(doc: dict, schema: dict, world: World, name: str = "", depth: int = 0):
    """A value valid by `schema` (as far as a schema can say), from the world's ids."""
    schema = _resolve(doc, schema)
    if depth > 6:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(doc, o).get("type") != "null"] or schema[key]
            return example(doc, options[0], world, name, depth + 1)
    if "allOf" in schema:
        return example(doc, schema["allOf"][0], world, name, depth + 1)
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example(doc, props[k], world, k, depth + 1) for k in schema.get("required", []) if k in props}
    if kind == "array":
        return [example(doc, schema.get("items", {}), world, name, depth + 1)
                for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    return _string(schema, world, name)


def _query(doc: dict, op: dict, world: World) -> dict:
    out = {}
    for param in op.get("parameters", []):
        if param["in"] == "query" and (param.get("required") or param["name"] in NODE_QUERY):
            if param["name"] in NODE_QUERY:
                out[param["name"]] = world.ids["rep_a"]
            elif param["name"] == "period":
                out["period"] = CALENDAR_PERIOD
            else:
                out[param["name"]] = example(doc, param.get("schema", {}), world, param["name"])
    return out


def _requires_node(op: dict) -> bool:
    """A roll-up of a node (required node query parameter): another team's node must be refused."""
    return any(p["in"] == "query" and p.get("required") and p["name"] in NODE_QUERY for p in op.get("parameters", []))


def _body(doc: dict, op: dict, world: World):
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return example(doc, content["application/json"].get("schema", {}), world)


# ----------------------------------------------------------------------------------- the attacks


def _fill(path: str, world: World) -> str:
    for before, name in segments(path):
        path = path.replace(f"{{{name}}}", str(world.values[PARAMETERS[(before, name)]]), 1)
    return path


def _private(path: str) -> bool:
    return any(PARAMETERS[s] not in DIRECTORY for s in segments(path))


def test_rep_a_sees_every_record_the_matrix_attacks(documents, world):
    """The control: every record is real and visible to its owner, so a 404 below means 'not yours'."""
    for service, method, path, _ in operations(documents):
        params = segments(path)
        if method == "GET" and len(params) == 1 and path.endswith("}") and _private(path):
            viewer = VIEWER.get(PARAMETERS[params[0]], "rep_a")
            resp = world.call("GET", service, _fill(path, world), viewer)
            assert resp.status_code == 200, f"{viewer} cannot read {path}: {resp.status_code} {resp.text[:300]}"


def test_no_route_addressing_rep_as_record_answers_another_team_a_peer_or_the_other_manager(documents, world):
    leaks, attacked = [], 0
    for service, method, path, op in operations(documents):
        if not segments(path) or (method == "GET" and not _private(path)):
            continue
        doc = documents[service]
        url, query, body = _fill(path, world), _query(doc, op, world), _body(doc, op, world)
        for who in ATTACKERS:
            headers = {"If-Match": '"1"', "Idempotency-Key": str(uuid.uuid4())} if method != "GET" else {}
            resp = world.call(method, service, url, who, params=query, headers=headers,
                              **({"json": body} if body is not None else {}))
            attacked += 1
            if resp.status_code not in (403, 404):
                leaks.append(f"{who} {method} {path}: {resp.status_code} {resp.text[:200]}")
    assert attacked > 200, attacked
    assert not leaks, f"{len(leaks)} of {attacked} attacks were not refused:\n" + "\n".join(leaks)


def _pages(world: World, service: str, path: str, who: str, query: dict, op: dict):
    params = {**query}
    limit = next((p for p in op.get("parameters", []) if p["name"] == "limit" and p["in"] == "query"), None)
    if limit is not None:
        params["limit"] = limit.get("schema", {}).get("maximum", 100)
    for _ in range(30):
        resp = world.call("GET", service, path, who, params=params)
        yield resp
        cursor = resp.json().get("next_cursor") if resp.is_success and isinstance(resp.json(), dict) else None
        if not cursor:
            return
        params["cursor"] = cursor


def test_no_list_or_rollup_carries_rep_as_records_to_another_team_a_peer_or_the_other_manager(documents, world):
    private = world.private_ids()
    leaks, read = [], 0
    for service, method, path, op in operations(documents):
        if method != "GET" or segments(path):
            continue
        query = _query(documents[service], op, world)
        for who in ATTACKERS:
            for resp in _pages(world, service, path, who, query, op):
                read += 1
                assert resp.status_code < 500, f"{who} GET {path}: {resp.status_code} {resp.text[:300]}"
                found = sorted(i for i in private if i in resp.text)
                if found:
                    leaks.append(f"{who} GET {path} {query}: carries {found}")
                if _requires_node(op) and path not in DIRECTORY_READS and resp.is_success:
                    leaks.append(f"{who} GET {path} {query}: {resp.status_code} for rep A's node")
    assert read > 30, read
    assert not leaks, "\n".join(leaks)
