import datetime as dt
import uuid

from pydantic import BaseModel, Field

from kam_shared.money import Money, SignedMoney


class StateOut(BaseModel):
    owner_id: uuid.UUID
    stage: int
    probability: int
    amount: Money
    currency: str
    close_date: dt.date
    status: str
    category: str = Field(description="the forecast category, with today's stage → category mapping")


class EffectOut(BaseModel):
    open_amount: SignedMoney
    weighted_amount: SignedMoney
    commit_amount: SignedMoney
    won_amount: SignedMoney


class ChangeOut(BaseModel):
    opportunity_id: uuid.UUID
    kind: str = Field(description="created | pulled_in | transferred_in | reopened | moved_forward | moved_back | "
                                  "amount_changed | other | won | lost | slipped | pulled_out | transferred_out")
    changed_at: dt.datetime | None = Field(description="its last change")
    changed_fields: list[str]
    before: StateOut | None = Field(description="its state at `since`; null: it did not exist")
    after: StateOut = Field(description="its state now")
    effect: EffectOut = Field(description="what it moved in the node's roll-up for the period")


class FiguresOut(BaseModel):
    open_count: int
    open_amount: Money
    weighted_amount: Money
    commit_amount: Money = Field(description="the `commit` forecast category's amount")
    won_count: int
    won_amount: Money


class StepOut(BaseModel):
    kind: str
    count: int = Field(description="opportunities of this kind")
    open_count: int = Field(description="change in the open count")
    open_amount: SignedMoney
    weighted_amount: SignedMoney
    commit_amount: SignedMoney
    won_count: int
    won_amount: SignedMoney


class PipelineChangesOut(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    since: dt.datetime
    until: dt.datetime
    history_starts_at: dt.datetime | None = Field(description="the earliest `since` the retained history allows")
    start: FiguresOut = Field(description="the roll-up at `since`")
    end: FiguresOut = Field(description="the roll-up now (equal to GET /v1/rollups)")
    waterfall: list[StepOut] = Field(description="start + Σ steps = end, for every figure")
    changes_total: int = Field(description="every change the waterfall counts; `changes` is one page of them")
    changes: list[ChangeOut] = Field(description="by kind in waterfall order, the largest first; at most `limit` "
                                                 "from `offset`: fewer than changes_total means truncated, the next "
                                                 "page is offset + limit")
