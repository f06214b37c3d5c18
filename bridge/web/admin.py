"""The admin bearer token: the one check in front of every admin-only route.

No ``BRIDGE_ADMIN_TOKEN``: the admin routes do not exist (404). Otherwise the request must
carry ``Authorization: Bearer <token>`` (401 without it), compared in constant time as bytes
(a header with non-ASCII text must not make the comparison raise).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bridge.web.deps import SettingsDep


def require_admin(request: Request, settings: SettingsDep) -> None:
    token = settings.admin_token
    if token is None:
        raise HTTPException(status_code=404)
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    expected = f"Bearer {token.get_secret_value()}".encode()
    if not secrets.compare_digest(given, expected):
        raise HTTPException(status_code=401, headers={"WWW-Authenticate": "Bearer"})


AdminAuth = Annotated[None, Depends(require_admin)]
