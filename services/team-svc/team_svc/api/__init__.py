"""HTTP routes of team-svc (thin: parse, authorise, call a use case, shape the response)."""
from typing import Annotated

from fastapi import Header

IfMatch = Annotated[str | None, Header(description="ETag of the version you changed; 412 if stale")]


def routers():
    from . import auth, incentives, org, quotas, territories, users

    return [auth.router, users.router, org.router, territories.router, quotas.router, incentives.router]
