"""Pieces every slice's API models use. Inputs forbid unknown fields and validate every closed
vocabulary, so a wrong value is a 422 naming the field before any use case runs."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")
