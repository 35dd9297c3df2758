"""Complaints (投诉): status flow and resolution time.

open → in_progress → resolved → closed; a resolved or closed complaint can be reopened (→ open).
Resolving (or closing an unresolved one) needs a resolution text and stamps resolved_at, from which
the resolution time is computed; reopening clears it.
"""
from __future__ import annotations

import datetime as dt

from kam_shared.domain_errors import Conflict, ValidationProblem

TRANSITIONS = {
    "open": {"in_progress", "resolved", "closed"},
    "in_progress": {"open", "resolved", "closed"},
    "resolved": {"closed", "open"},
    "closed": {"open"},
}
DONE = {"resolved", "closed"}


def apply_status(current: dict, values: dict, now: dt.datetime) -> dict:
    """The complaint's new values with status-derived fields (resolved_at, resolution_minutes)."""
    out = dict(values)
    before = current.get("status", "open")
    after = out.get("status", before)
    if after != before:
        if after not in TRANSITIONS.get(before, set()):
            raise Conflict(f"a complaint cannot go from {before} to {after}", field="status")
        if after in DONE and before not in DONE:
            resolution = out.get("resolution", current.get("resolution"))
            if not (resolution or "").strip():
                raise ValidationProblem(f"a resolution is required to mark a complaint {after}", field="resolution")
            out["resolved_at"] = now
        if after not in DONE:
            out["resolved_at"] = None
    resolved_at = out.get("resolved_at", current.get("resolved_at"))
    raised_at = out.get("raised_at", current.get("raised_at"))
    if resolved_at is not None and raised_at is not None:
        if resolved_at < raised_at:
            raise ValidationProblem("raised_at is after the complaint was resolved", field="raised_at")
        out["resolution_minutes"] = int((resolved_at - raised_at).total_seconds() // 60)
    else:
        out["resolution_minutes"] = None
    return out
