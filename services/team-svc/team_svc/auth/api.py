from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.domain_errors import Forbidden, ValidationProblem

from . import service
from .domain import client_address
from .schemas import Rotation, SigningKeyOut, Token, problems

router = APIRouter(tags=["auth"])


def client_address_of(request: Request, runtime) -> str:
    """The address sign-in throttles: the socket peer, or the forwarded chain when (and only when)
    the peer is a proxy we trust (KAM_TRUSTED_PROXIES)."""
    return client_address(request.client.host if request.client else None,
                          request.headers.getlist("x-forwarded-for"),
                          service.trusted_proxies(runtime.settings.kam_trusted_proxies))


@router.post("/v1/auth/token", response_model=Token, responses=problems(401, 422, 429),
             summary="OAuth2 token endpoint. grant_type=password (the default; username = email; throttled after "
                     "failures: 429 with Retry-After) or grant_type=refresh_token (rotating: the answer carries the "
                     "next refresh token; a used one presented again revokes the whole sign-in)")
async def token(request: Request, runtime: RuntimeDep, response: Response,
                grant_type: Annotated[Literal["password", "refresh_token"], Form()] = "password",
                username: Annotated[str | None, Form(max_length=320)] = None,
                password: Annotated[str | None, Form(max_length=200)] = None,
                refresh_token: Annotated[str | None, Form(max_length=200)] = None):
    # RFC 6749 §5.1: a token response must not be stored by any cache (the errors neither).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    if grant_type == "refresh_token":
        if not refresh_token:
            raise ValidationProblem("refresh_token is required with grant_type=refresh_token", field="refresh_token")
        pair = await service.refresh_token_grant(runtime, refresh_token)
    else:
        for name, value in (("username", username), ("password", password)):
            if not value:
                raise ValidationProblem(f"{name} is required with grant_type=password", field=name)
        pair = await service.issue_token(runtime, username, password, client_address_of(request, runtime))
    return Token(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token,
                 refresh_expires_in=pair.refresh_expires_in)


@router.post("/v1/auth/revoke", status_code=200, response_class=Response, responses=problems(422),
             summary="OAuth2 token revocation (RFC 7009), for signing out: the refresh token's whole sign-in "
                     "ends (every token of its rotation). 200 whether or not the token was known; access tokens "
                     "cannot be revoked (422, reason unsupported_token_type): they end at their expiry "
                     "(15 minutes), or at once on every service when the user is deactivated")
async def revoke(runtime: RuntimeDep,
                 token: Annotated[str, Form(min_length=1, max_length=200)],
                 token_type_hint: Annotated[Literal["refresh_token", "access_token"] | None, Form()] = None):
    if token_type_hint == "access_token":
        raise ValidationProblem("access tokens cannot be revoked here: they expire (15 minutes), and a deactivated "
                         "user's stop at once", field="token_type_hint", reason="unsupported_token_type")
    await service.revoke_refresh_token(runtime, token)
    return Response(status_code=200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/.well-known/jwks.json", summary="Public keys that verify KAM tokens (current and still-valid old keys)")
async def jwks(runtime: RuntimeDep, response: Response):
    response.headers["Cache-Control"] = "public, max-age=60"
    return {"keys": await service.key_ring(runtime).published()}


@router.get("/v1/auth/keys", response_model=list[SigningKeyOut], summary="Signing keys and their status (admin)")
async def list_keys(principal: PrincipalDep, runtime: RuntimeDep):
    if not principal.is_admin:
        raise Forbidden("only an admin can see the signing keys")
    return await service.key_ring(runtime).listing()


@router.post("/v1/auth/keys/rotate", response_model=Rotation, status_code=201,
             summary="Sign new tokens with a fresh key; the old one stays in the JWKS until its tokens expire")
async def rotate(principal: PrincipalDep, runtime: RuntimeDep):
    if not principal.is_admin:
        raise Forbidden("only an admin can rotate the signing key")
    async with runtime.uow() as uow:
        result = await service.key_ring(runtime).rotate(uow)
    # This replica's verifier learns the new key at once (others on their first token with its kid).
    await runtime.verifier.refresh()
    return result
