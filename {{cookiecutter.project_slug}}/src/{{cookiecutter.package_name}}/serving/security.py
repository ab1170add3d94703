"""API key for prediction routes (when configured) and a bearer token for admin routes."""

import secrets
from typing import Annotated

from fastapi import Depends, Request

from ..settings import ENV_PREFIX
from .errors import ApiError


async def require_api_key(request: Request) -> None:
    """With ``serve_api_key`` set, prediction routes need ``X-API-Key``; unset, they are open."""
    expected = request.app.state.settings.serve_api_key
    if expected is None:
        return
    given = request.headers.get("x-api-key", "")
    if not _same(given, expected.get_secret_value()):
        raise ApiError(401, "unauthorized", "a missing or wrong X-API-Key header")


async def require_admin(request: Request) -> None:
    """Admin routes need ``Authorization: Bearer <serve_admin_token>``; unset, they are off."""
    token = request.app.state.settings.serve_admin_token
    if token is None:
        raise ApiError(
            403, "admin_disabled", f"admin routes are off: set {ENV_PREFIX}SERVE_ADMIN_TOKEN"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not _same(given, token.get_secret_value()):
        raise ApiError(
            401, "unauthorized", "admin routes need the header Authorization: Bearer <token>"
        )


def _same(given: str, expected: str) -> bool:
    # Constant time, so the answer's timing does not reveal how much of a guess was right.
    return secrets.compare_digest(given.encode(), expected.encode())


ApiKey = Annotated[None, Depends(require_api_key)]
Admin = Annotated[None, Depends(require_admin)]
