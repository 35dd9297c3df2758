"""SQL of what changed since: today's figures from the node's roll-up cells, and each opportunity's
state at `since` and today classified in the database (the kinds of changes/domain.py, as SQL),
so that a quarter's ten thousand changes are summed where they are and only a page of them
travels to Python.

The classification here and `domain.kind_of`/`domain.contribution` say the same thing twice: the
service classifies the listed page again with the pure functions, and the tests compare both on
every kind (tests/test_changes_sql.py)."""
from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, String, Uuid, and_, case, cast, func, literal, null, or_, select, true

from kam_shared.repository import Repository

from ..rollups.models import STATE_COLUMNS
from ..rollups.models import opportunity_facts as facts
from ..rollups.models import opportunity_history as history
from ..rollups.models import rollup_cells as cells
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

    def _ends(self, tree, scope: Scope, since, ids: list[uuid.UUID] | None = None):
        """One row per opportunity that was or became the owners' and the period's after `since`
        (or per one of `ids`): its state at `since` (prev_* of its first state after `since`; null:
        it did not exist), today's (its fact), its last change and whether each end's owner is in
        the set."""
        c = history.c
        owners = select(tree.c.id)

        def scoped(prefix: str):
            return and_(c[f"{prefix}owner_id"].in_(owners), c[f"{prefix}currency"] == scope.currency,
                        c[f"{prefix}close_date"] >= scope.start, c[f"{prefix}close_date"] < scope.end)

        if ids is None:
            # A UNION of the two ends, not one OR: each is an index-only scan of its index (0015),
            # where an OR combines bitmaps and fetches every state from the heap.
            touched = select(c.opportunity_id).where(c.valid_from > since, scoped("")).union(
                select(c.opportunity_id).where(c.valid_from > since, scoped("prev_"))).subquery("touched")
        else:
            touched = (select(c.opportunity_id).where(c.valid_from > since, c.opportunity_id.in_(ids))
                       .distinct().subquery("touched"))
        prev = [c[f"prev_{k}"] for k in STATE_COLUMNS]
        if self.postgres:
            # Each one's first state after `since` by the primary key (opportunity, valid_from,
            # version): one index probe each, not a sort of every state since `since`.
            first_after = (select(*prev).where(c.opportunity_id == touched.c.opportunity_id, c.valid_from > since)
                           .order_by(c.valid_from, c.version).limit(1).lateral("first_after"))
            first = (select(touched.c.opportunity_id, *first_after.c)
                     .select_from(touched.join(first_after, true())).subquery("first"))
        else:
            ranked = select(c.opportunity_id, *prev, func.row_number().over(
                partition_by=c.opportunity_id, order_by=(c.valid_from, c.version)).label("n")
            ).where(c.valid_from > since, c.opportunity_id.in_(select(touched.c.opportunity_id))).subquery()
            first = select(*[ranked.c[k] for k in ("opportunity_id", *[f"prev_{k}" for k in STATE_COLUMNS])]
                           ).where(ranked.c.n == 1).subquery("first")
        # Whether each end's owner is in the set: a left join with the (duplicate-free) tree, so the
        # flag is a plain column; an IN (subquery) column is re-planned wherever the CASEs use it.
        now_owner, prev_owner = tree.alias("now_owner"), tree.alias("prev_owner")
        return (select(first, *[facts.c[k] for k in STATE_COLUMNS], facts.c.updated_at.label("valid_from"),
                       now_owner.c.id.is_not(None).label("in_tree"), prev_owner.c.id.is_not(None).label("prev_in_tree"))
                .select_from(first.join(facts, facts.c.id == first.c.opportunity_id)
                             .outerjoin(now_owner, now_owner.c.id == facts.c.owner_id)
                             .outerjoin(prev_owner, prev_owner.c.id == first.c.prev_owner_id))).cte("ends")

    async def changes(self, tree, scope: Scope, since, mapping: dict[int, str], limit: int, offset: int = 0):
        """(totals, cells, page): per kind its count and Σ of each effect; the adjustments from
        today's cells back to those at `since` per (status, stage, ov): (count, cents, weighted);
        and `limit` changes from `offset` in the listing's order (kind, largest move, id), each row
        the opportunity, the 9 prev_* columns, the fact's 9 state columns, its last change,
        in_tree and prev_in_tree (changes/service.py reads them by position).

        One statement classifies every change once (the CTEs it reads twice are materialized) and
        returns the sums of both kinds and the page's ids, told apart by `part`; a second one reads
        the page's opportunities by id."""
        ends = self._ends(tree, scope, since)
        k = _classified(ends, scope, mapping)
        text_, int_, id_ = cast(null(), String), cast(null(), BigInteger), cast(null(), Uuid)
        totals = (select(literal("kind").label("part"), id_.label("id"), k.c.kind, text_, int_, text_, func.count(),
                         *[func.sum(k.c[e]) for e in EFFECTS])
                  .where(k.c.kind.is_not(None)).group_by(k.c.kind))
        a = _adjustments(ends, scope)
        adjust = select(literal("cell"), id_, text_, a.c.status, a.c.stage, a.c.ov, func.sum(a.c.n),
                        func.sum(a.c.cents), func.sum(a.c.weighted), *[int_] * (len(EFFECTS) - 2)
                        ).group_by(a.c.status, a.c.stage, a.c.ov)
        rank = case({kind: i for i, kind in enumerate(KINDS)}, value=k.c.kind)
        move = func.abs(k.c.open_cents) + func.abs(k.c.won_cents)
        page = (select(k.c.opportunity_id).where(k.c.kind.is_not(None))
                .order_by(rank, move.desc(), k.c.opportunity_id).offset(offset).limit(limit).subquery("page"))
        ids = select(literal("page"), page.c.opportunity_id, text_, text_, int_, text_, *[int_] * (len(EFFECTS) + 1))
        sums = (await self.session.execute(totals.union_all(adjust, ids))).all()
        listed = [r[1] for r in sums if r[0] == "page"]
        rows = (await self.session.execute(select(self._ends(tree, scope, since, listed)))).all() if listed else []
        return ([r[2:3] + r[6:] for r in sums if r[0] == "kind"], [r[3:9] for r in sums if r[0] == "cell"], rows)


def _in_scope(ends, prefix: str, in_tree, scope: Scope):
    s = lambda name: ends.c[f"{prefix}{name}"]  # noqa: E731
    return and_(in_tree.is_(True), s("status").is_not(None), s("currency") == scope.currency,
                s("close_date") >= scope.start, s("close_date") < scope.end)


def _kind(ends, was, now, scope: Scope):
    """domain.kind_of as a CASE: the first condition that holds names the kind."""
    b = lambda name: ends.c[f"prev_{name}"]  # noqa: E731
    a = lambda name: ends.c[name]  # noqa: E731
    both = and_(was, now)
    same = and_(*[b(f).is_not_distinct_from(a(f)) for f in FIELDS])
    status_changed = b("status") != a("status")
    return case(
        (and_(both, same), None),
        (and_(both, status_changed, a("status") == "won"), "won"),
        (and_(both, status_changed, a("status") == "lost"), "lost"),
        (and_(both, status_changed), "reopened"),
        (and_(both, a("status") == "open", a("stage") > b("stage")), "moved_forward"),
        (and_(both, a("status") == "open", a("stage") < b("stage")), "moved_back"),
        (and_(both, a("amount_cents") != b("amount_cents")), "amount_changed"),
        (both, "other"),
        (and_(now, b("status").is_(None)), "created"),
        (and_(now, or_(b("close_date") < scope.start, b("close_date") >= scope.end)), "pulled_in"),
        (now, "transferred_in"),
        (and_(was, a("close_date") >= scope.end), "slipped"),
        (and_(was, a("close_date") < scope.start), "pulled_out"),
        (was, "transferred_out"),
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


def _classified(ends, scope: Scope, mapping: dict[int, str]):
    was = _in_scope(ends, "prev_", ends.c.prev_in_tree, scope)
    now = _in_scope(ends, "", ends.c.in_tree, scope)
    commit_stages = sorted(stage for stage, category in mapping.items() if category == "commit")
    after = _contribution(ends, "", now, commit_stages)
    before = _contribution(ends, "prev_", was, commit_stages)
    return select(*ends.c, _kind(ends, was, now, scope).label("kind"),
                  *[(after[e] - before[e]).label(e) for e in EFFECTS]).cte("classified")


def _adjustments(ends, scope: Scope):
    """domain.groups_before's arithmetic in SQL: each end in scope taken out (today's) or put back
    (the state at `since`), per change and (status, stage, override), to be summed."""
    parts = []
    for prefix, in_tree, sign in (("", ends.c.in_tree, -1), ("prev_", ends.c.prev_in_tree, 1)):
        s = lambda name, p=prefix: ends.c[f"{p}{name}"]  # noqa: E731
        parts.append(select(s("status").label("status"), s("stage").label("stage"),
                            func.coalesce(s("category_override"), "").label("ov"), literal(sign).label("n"),
                            (s("amount_cents") * sign).label("cents"),
                            (s("amount_cents") * s("probability") * sign).label("weighted"))
                     .where(_in_scope(ends, prefix, in_tree, scope)))
    return parts[0].union_all(parts[1]).subquery("adjust")
