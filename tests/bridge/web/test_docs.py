"""The API schema pages exist for admins only: behind the admin bearer token, 404 without one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridge.sandbox.harness import running_bridge

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PAGES = ("/openapi.json", "/docs", "/redoc")


async def get(url: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}".encode()} if token is not None else {}
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(url, headers=headers)


async def test_schema_pages_are_404_when_the_admin_api_is_off(tmp_path: Path) -> None:
    async with running_bridge(tmp_path) as bridge:
        for page in PAGES:
            assert (await get(bridge.bridge_url + page)).status_code == 404, page
            assert (await get(bridge.bridge_url + page, "anything")).status_code == 404, page


@pytest.mark.parametrize(
    "token", [None, "wrong", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1], "ключ-не-тот"]
)
async def test_schema_pages_are_401_without_the_right_token(
    tmp_path: Path, token: str | None
) -> None:
    async with running_bridge(tmp_path, admin_token=ADMIN_TOKEN) as bridge:
        for page in PAGES:
            response = await get(bridge.bridge_url + page, token)
            assert response.status_code == 401, page
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "paths" not in response.text


async def test_schema_pages_answer_the_admin_token(tmp_path: Path) -> None:
    async with running_bridge(tmp_path, admin_token=ADMIN_TOKEN) as bridge:
        schema = (await get(bridge.bridge_url + "/openapi.json", ADMIN_TOKEN)).json()
        assert "/amojo/webhook/{scope_id}" in schema["paths"]
        assert not any(path in schema["paths"] for path in PAGES)
        for page, marker in (("/docs", "SwaggerUIBundle"), ("/redoc", "Redoc.init")):
            response = await get(bridge.bridge_url + page, ADMIN_TOKEN)
            assert response.status_code == 200, page
            assert response.headers["content-type"].startswith("text/html")
            assert marker in response.text and "/amojo/webhook/{scope_id}" in response.text
