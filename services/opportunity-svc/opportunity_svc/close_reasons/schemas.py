from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Labels(BaseModel):
    """What the console shows, in each of its languages."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    zh_CN: str = Field(alias="zh-CN", min_length=1, max_length=100)
    en: str = Field(min_length=1, max_length=100)


class CloseReasonOut(BaseModel):
    outcome: Literal["won", "lost"]
    code: str
    labels: Labels
    needs_competitor: bool = Field(description="a lost opportunity closed with this reason names the competitor "
                                               "who won it")
    active: bool


class CloseReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["won", "lost"]
    code: str = Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$")
    labels: Labels
    needs_competitor: bool = False
    active: bool = True
