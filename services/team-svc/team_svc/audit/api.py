"""The audit trail of team-svc's records (kam_shared.audit): users, quotas, incentive plans, payouts,
territory plans, with `GET .../history` (for users and quotas, whose `/history` predates this and
keeps its shape, `GET .../field-history`), and the admin query across records. A record the caller
may not see is a 404, exactly like its direct read."""
import uuid

from kam_shared.app import RuntimeDep
from kam_shared.audit import History, audit_router
from kam_shared.auth import PrincipalDep

from ..incentives import service as incentives
from ..quotas import service as quotas
from ..territory_plans import service as territory_plans
from ..users import service as users


async def _user(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await users.get_user(session, user_id)
    return user_id


async def _quota(quota_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await quotas.get_quota(session, principal, quota_id)
    return quota_id


async def _incentive_plan(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await incentives.get_plan(session, principal, plan_id)
    return plan_id


async def _payout(payout_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await incentives.get_payout(session, principal, payout_id)
    return payout_id


async def _territory_plan(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await territory_plans.visible_plan(session, principal, plan_id)
    return plan_id


router = audit_router([
    History("/v1/users/{user_id}/field-history", "user", _user),
    History("/v1/quotas/{quota_id}/field-history", "quota", _quota),
    History("/v1/incentive-plans/{plan_id}/history", "incentive plan", _incentive_plan),
    History("/v1/payouts/{payout_id}/history", "payout", _payout),
    History("/v1/territory-plans/{plan_id}/history", "territory plan", _territory_plan),
], tag="audit")
