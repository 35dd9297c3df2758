"""Request helpers the slices' routes share."""
from pydantic import BaseModel


def sent(body: BaseModel) -> dict:
    """The fields the client sent, each complete (nested items keep their defaults)."""
    full = body.model_dump()
    return {name: full[name] for name in body.model_fields_set}
