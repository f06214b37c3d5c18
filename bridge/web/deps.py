"""Dependencies for the routes: services come from app.state, never built in a route."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request

if TYPE_CHECKING:
    from bridge.container import Container


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


ContainerDep = Annotated["Container", Depends(get_container)]


def require_admin(request: Request) -> None:
    container = get_container(request)
    token = container.settings.admin_token
    if token is None:
        raise HTTPException(status_code=404)
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=401, headers={"WWW-Authenticate": "Bearer"})


AdminAuth = Annotated[None, Depends(require_admin)]
