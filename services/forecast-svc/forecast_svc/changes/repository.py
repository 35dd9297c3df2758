"""SQL of what changed since: today's figures from the node's roll-up cells, and each opportunity's
state at `since` and today classified in the database (the kinds of changes/domain.py, as SQL),
so that a quarter's ten thousand changes are summed where they are and only a page of them
travels to Python.

The classification here and `domain.kind_of`/`domain.contribution` say the same thing twice: the
service classifies the listed page again with the pure functions, and the tests compare both on
every kind (tests/test_changes_sql.py)."""
from __future__ import annotations

import functools
import uuid

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)

from kam_shared.app import Runtime
from kam_shared.repository import Repository
from kam_shared.tables import UtcDateTime

from ..rollups.models import STATE_COLUMNS
from ..rollups.models import opportunity_facts as facts
from ..rollups.models import opportunity_history as history
from ..rollups.models import rollup_cells as cells
from ..rollups.repository import owners_of
from .domain import FIELDS, KINDS, Scope

EFFECTS = ("open_count", "open_cents", "weighted_x100", "commit_cents", "won_count", "won_cents")


class ChangesRepository(Repository):
    async def now_groups(self, node: uuid.UUID, currency: str, start, end) -> list:
        """Today's figures of the node's subtree for the period, from its roll-up cells (the very
        figures GET /v1/rollups reads, in the same snapshot as the history): (status, stage, ov,
        count, cents, weighted). A few dozen rows, where the facts of a top node are 10^5."""
        return (await self.session.execute(
            select(cells.c.status, cells.c.stage, cells.c.category_override, func.sum(cells.c.count),
                   func.sum(cells.c.amount_cents), func.sum(cells.c.weighted_cents_x100))
            .where(cells.c.node_id == node, cells.c.currency == currency, cells.c.month >= start,
                   cells.c.month < end)
            .group_by(cells.c.status, cells.c.stage, cells.c.category_override))).all()

    @staticmethod
    def _ends(tree, scope: Scope, since):
        """One row per opportunity in scope (the owners', the currency's and the period's) at either
        end that changed after `since`: `was` (in scope at `since`) with that state in prev_*, `now`
        (in scope today) with today's, and `created` (new since then; null: look it up, _kind).

        The state at `since` is the one the opportunity's first state after `since` replaced (see
        first_after). Today's is the fact, when its current
        state is valid from after `since`. Each is one index-only scan on PostgreSQL (0017), joined
        on the opportunity: no state is ordered."""
        c, f = history.c, facts.c
        owners = select(tree.c.id)
        was = (select(c.opportunity_id, *[c[f"prev_{k}"].label(k) for k in FIELDS])
               .where(first_after(c, since), c.prev_owner_id.in_(owners),
                      c.prev_currency == scope.currency, c.prev_close_date >= scope.start,
                      c.prev_close_date < scope.end)
               .subquery("was"))
        now = (select(f.id, (f.created_valid_from > since).label("created"), *[f[k] for k in FIELDS])
               .where(f.state_valid_from > since, f.owner_id.in_(owners), f.currency == scope.currency,
                      f.close_date >= scope.start, f.close_date < scope.end)
               .subquery("now"))
        return (select(func.coalesce(was.c.opportunity_id, now.c.id).label("opportunity_id"),
                       was.c.opportunity_id.is_not(None).label("was"), now.c.id.is_not(None).label("now"),
                       now.c.created, *[was.c[k].label(f"prev_{k}") for k in FIELDS], *[now.c[k] for k in FIELDS])
                .select_from(was.join(now, was.c.opportunity_id == now.c.id, full=True))).cte("ends")

    @staticmethod
    def _page_rows(tree, since, ids):
        """The listed opportunities in full: each one's state at `since` (prev_* of its first state
        after `since`; null: it did not exist), today's (its fact), its last change and whether each
        end's owner is in the set."""
        c = history.c
        first = (select(c.opportunity_id, *[c[f"prev_{k}"] for k in STATE_COLUMNS])
                 .where(c.opportunity_id.in_(ids), first_after(c, since)).subquery("first"))
        # IN (the tree): a hashed subplan built once; a join with the tree was re-hashed per row.
        owners = select(tree.c.id)
        return (select(first, *[facts.c[k] for k in STATE_COLUMNS], facts.c.updated_at.label("valid_from"),
                       facts.c.owner_id.in_(owners).label("in_tree"),
                       and_(first.c.prev_owner_id.is_not(None),
                            first.c.prev_owner_id.in_(owners)).label("prev_in_tree"))
                .select_from(first.join(facts, facts.c.id == first.c.opportunity_id)))

    @staticmethod
    def _summing(tree, scope: Scope, since, commit_stages, limit, offset):
        """The sums per kind of change and per cell and the page's ids, in one statement (changes)."""
        ends = ChangesRepository._ends(tree, scope, since)
        k = _classified(ends, scope, commit_stages, since)
        text_, int_, id_ = cast(null(), String), cast(null(), BigInteger), cast(null(), Uuid)
        totals = (select(literal("kind").label("part"), id_.label("id"), k.c.kind, text_, int_, text_, func.count(),
                         *[func.sum(k.c[e]) for e in EFFECTS])
                  .where(k.c.kind.is_not(None)).group_by(k.c.kind))
        a = _adjustments(ends)
        adjust = select(literal("cell"), id_, text_, a.c.status, a.c.stage, a.c.ov, func.sum(a.c.n),
                        func.sum(a.c.cents), func.sum(a.c.weighted), *[int_] * (len(EFFECTS) - 2)
                        ).group_by(a.c.status, a.c.stage, a.c.ov)
        rank = case({kind: i for i, kind in enumerate(KINDS)}, value=k.c.kind)
        move = func.abs(k.c.open_cents) + func.abs(k.c.won_cents)
        page = (select(k.c.opportunity_id).where(k.c.kind.is_not(None))
                .order_by(rank, move.desc(), k.c.opportunity_id).offset(offset).limit(limit).subquery("page"))
        ids = select(literal("page"), page.c.opportunity_id, text_, text_, int_, text_, *[int_] * (len(EFFECTS) + 1))
        return totals.union_all(adjust, ids)

    async def changes(self, runtime: Runtime, kind: str, node: uuid.UUID, scope: Scope, since,
                      mapping: dict[int, str], limit: int, offset: int = 0):
        """(totals, cells, page) for the owners of the `kind` node `node` (rollups.repository.owners_of):
        per kind of change its count and Σ of each effect; the adjustments from today's cells back
        to those at `since` per (status, stage, ov): (count, cents, weighted); and `limit` changes
        from `offset` in the listing's order (kind, largest move, id), each row the opportunity, the
        9 prev_* columns, the fact's 9 state columns, its last change, in_tree and prev_in_tree
        (changes/service.py reads them by position).

        One statement classifies every change once (the CTEs it reads twice are materialized) and
        returns the sums of both kinds and the page's ids, told apart by `part`; a second one reads
        the page's opportunities by id. Both are built once per shape (_statements) and run with
        this call's values."""
        commit_stages = tuple(sorted(stage for stage, category in mapping.items() if category == "commit"))
        summing, paging = _statements(runtime.tables.user_replica, kind, commit_stages)
        values = {"node": node, "since": since, "currency": scope.currency, "start": scope.start, "end": scope.end}
        sums = (await self.session.execute(summing, {**values, "limit": limit, "offset": offset})).all()
        listed = [r[1] for r in sums if r[0] == "page"]
        rows = []
        if listed:
            rows = (await self.session.execute(paging, {"node": node, "since": since, "ids": listed})).all()
        return ([r[2:3] + r[6:] for r in sums if r[0] == "kind"], [r[3:9] for r in sums if r[0] == "cell"], rows)


@functools.lru_cache(maxsize=16)
def _statements(users: Table, kind: str, commit_stages: tuple[int, ...]):
    """The two statements of ChangesRepository.changes for one shape (the node's kind, the stages
    that count as commit), with bind parameters for everything else (node, since, currency, period,
    page). Building them took ~11 ms of a request's CPU and hashing them for SQLAlchemy's compiled
    cache ~2 ms more; built once, the cache key is computed once too (it is memoized on the
    statement)."""
    tree = owners_of(users, kind, bindparam("node", type_=Uuid))
    scope = Scope(bindparam("currency", type_=String), bindparam("start", type_=Date), bindparam("end", type_=Date))
    since = bindparam("since", type_=UtcDateTime)
    repo = ChangesRepository
    summing = repo._summing(tree, scope, since, commit_stages, bindparam("limit", type_=Integer),
                            bindparam("offset", type_=Integer))
    paging = repo._page_rows(tree, since, bindparam("ids", expanding=True, type_=Uuid))
    return summing, paging


def first_after(c, since):
    """Of an opportunity's states (columns `c` of the history), its first after `since`: the one
    that replaced a state valid from `since` or before, or none (it was new after `since`)."""
    return and_(c.valid_from > since, or_(c.prev_valid_from <= since, c.prev_valid_from.is_(None)))


def _kind(ends, scope: Scope, since):
    """domain.kind_of as a CASE: the first condition that holds names the kind. An end out of scope
    is looked up only where the kind needs it (a CASE evaluates only the branch taken): the state at
    `since` of one that came in and whose first row here is not a creation (the first state after
    `since` may be an earlier one, out of scope at both ends), today's close date of one that left."""
    b = lambda name: ends.c[f"prev_{name}"]  # noqa: E731
    a = lambda name: ends.c[name]  # noqa: E731
    was, now = ends.c.was.is_(True), ends.c.now.is_(True)
    same = and_(*[b(f).is_not_distinct_from(a(f)) for f in FIELDS])
    status_changed = b("status") != a("status")
    h = history.alias("at_since")

    def at_since(column: str):
        return (select(h.c[column]).where(h.c.opportunity_id == ends.c.opportunity_id, first_after(h.c, since))
                .scalar_subquery())

    prev_close = at_since("prev_close_date")
    close_now = select(facts.c.close_date).where(facts.c.id == ends.c.opportunity_id).scalar_subquery()
    return case(
        (and_(was, now), case(
            (same, None),
            (and_(status_changed, a("status") == "won"), "won"),
            (and_(status_changed, a("status") == "lost"), "lost"),
            (status_changed, "reopened"),
            (and_(a("status") == "open", a("stage") > b("stage")), "moved_forward"),
            (and_(a("status") == "open", a("stage") < b("stage")), "moved_back"),
            (a("amount_cents") != b("amount_cents"), "amount_changed"),
            else_="other")),
        (now, case(
            (ends.c.created.is_(True), "created"),
            (at_since("prev_status").is_(None), "created"),
            (or_(prev_close < scope.start, prev_close >= scope.end), "pulled_in"),
            else_="transferred_in")),
        (was, case((close_now >= scope.end, "slipped"), (close_now < scope.start, "pulled_out"),
                   else_="transferred_out")),
        else_=None)


def _contribution(ends, prefix: str, counted, commit_stages: list[int]) -> dict:
    """domain.contribution of one end as SQL: what it adds to each effect when counted (else 0)."""
    s = lambda name: ends.c[f"{prefix}{name}"]  # noqa: E731
    is_open, is_won = s("status") == "open", s("status") == "won"
    cents = s("amount_cents")
    override = func.nullif(s("category_override"), "")
    # effective_category == "commit": only an open one can be (won is closed, lost omitted).
    commit = and_(is_open, or_(override == "commit", and_(override.is_(None), s("stage").in_(commit_stages))))
    when = lambda cond, value: case((and_(counted, cond), value), else_=0)  # noqa: E731
    return {"open_count": when(is_open, 1), "open_cents": when(is_open, cents),
            "weighted_x100": when(is_open, cents * s("probability")), "commit_cents": when(commit, cents),
            "won_count": when(is_won, 1), "won_cents": when(is_won, cents)}


def _classified(ends, scope: Scope, commit_stages, since):
    after = _contribution(ends, "", ends.c.now.is_(True), commit_stages)
    before = _contribution(ends, "prev_", ends.c.was.is_(True), commit_stages)
    return select(ends.c.opportunity_id, _kind(ends, scope, since).label("kind"),
                  *[(after[e] - before[e]).label(e) for e in EFFECTS]).cte("classified")


def _adjustments(ends):
    """domain.groups_before's arithmetic in SQL: each end in scope taken out (today's) or put back
    (the state at `since`), per change and (status, stage, override), to be summed."""
    parts = []
    for prefix, counted, sign in (("", ends.c.now, -1), ("prev_", ends.c.was, 1)):
        s = lambda name, p=prefix: ends.c[f"{p}{name}"]  # noqa: E731
        parts.append(select(s("status").label("status"), s("stage").label("stage"),
                            func.coalesce(s("category_override"), "").label("ov"), literal(sign).label("n"),
                            (s("amount_cents") * sign).label("cents"),
                            (s("amount_cents") * s("probability") * sign).label("weighted"))
                     .where(counted.is_(True)))
    return parts[0].union_all(parts[1]).subquery("adjust")
