"""The admin bearer check, through the admin-only /openapi.json of the real app."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bridge.web.conftest import web_app

TOKEN = "admin-token-for-unit-tests-0123"


async def test_without_an_admin_token_the_admin_routes_do_not_exist(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web:
        for header in (None, "Bearer ", f"Bearer {TOKEN}"):
            headers = {"Authorization": header} if header is not None else {}
            assert (await web.http.get("/openapi.json", headers=headers)).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        TOKEN,  # no scheme
        f"bearer {TOKEN}",  # the scheme is compared exactly
        f"Bearer {TOKEN} ",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ключ".encode(),  # non-ASCII bytes: refused, not a crash
    ],
)
async def test_anything_but_the_exact_bearer_token_is_401(
    tmp_path: Path, header: str | bytes | None
) -> None:
    async with web_app(tmp_path, admin_token=TOKEN) as web:
        raw = header.encode() if isinstance(header, str) else header
        headers = [(b"Authorization", raw)] if raw is not None else []
        response = await web.http.get("/openapi.json", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert TOKEN not in response.text


async def test_the_exact_bearer_token_is_let_through(tmp_path: Path) -> None:
    async with web_app(tmp_path, admin_token=TOKEN) as web:
        response = await web.http.get(
            "/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 200
    assert "/healthz" in response.json()["paths"]
