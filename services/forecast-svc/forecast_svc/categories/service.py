"""Use cases of the forecast categories: read and replace the stage → category mapping."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.forecast import CategoryMappingChanged, StageCategory
from kam_shared.http import check_if_match

from .domain import validate_mapping
from .repository import CategoryRepository


def _present(rows) -> dict:
    version = max((r["version"] for r in rows), default=0)
    updated = max((r for r in rows if r["updated_at"] is not None), key=lambda r: r["updated_at"], default=None)
    return {"version": version, "mapping": [{"stage": r["stage"], "category": r["category"]} for r in rows],
            "updated_by": updated["updated_by"] if updated else None,
            "updated_at": updated["updated_at"] if updated else None}


async def get_category_mapping(session: AsyncSession) -> dict:
    return _present(await CategoryRepository(session).rows())


async def put_category_mapping(uow: UnitOfWork, principal: Principal, proposed: list[dict],
                               if_match: str | None) -> dict:
    """Replace the stage → category mapping (admin). Roll-ups apply it at read time, so no stored
    figure is rewritten; subscribers learn of it from `category_mapping_changed`."""
    if not principal.is_admin:
        raise Forbidden("only an admin changes the forecast principles")
    stages = [p["stage"] for p in proposed]
    if len(stages) != len(set(stages)):
        raise ValidationProblem("each stage may appear once", field="mapping")
    wanted = validate_mapping({p["stage"]: p["category"] for p in proposed})
    repo = CategoryRepository(uow.session)
    await repo.lock()
    current = _present(await repo.rows())
    check_if_match(if_match, current["version"])
    before = {m["stage"]: m["category"] for m in current["mapping"]}
    changes = {str(s): FieldChange(before=before.get(s), after=c) for s, c in wanted.items() if before.get(s) != c}
    if not changes:
        return current
    version, now = current["version"] + 1, utcnow()
    await repo.replace(wanted, version, principal.user_id, now)
    uow.publish(DomainEvent("kam.forecast.category_mapping_changed.v1", "category-mapping", version,
                            CategoryMappingChanged(version=version, changed_by=principal.user_id, changes=changes,
                                                   mapping=[StageCategory(stage=s, category=c)
                                                            for s, c in wanted.items()])))
    return {"version": version, "mapping": [{"stage": s, "category": c} for s, c in wanted.items()],
            "updated_by": principal.user_id, "updated_at": now}
