from pydantic import BaseModel, ConfigDict, Field


class StageOut(BaseModel):
    number: int
    name: str
    description: str
    probability: int


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: int = Field(ge=1, le=8, description="1..8: the funnel's stages")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    probability: int = Field(ge=0, le=100)
