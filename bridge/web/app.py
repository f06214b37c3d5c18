"""create_app(container) → the FastAPI app: routes, channel sub-apps, lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from bridge import __version__
from bridge.web import amojo_webhook, docs, health, media


def create_app(
    container: object, *, manage_lifecycle: bool = True, freeze_after_start: bool = False
) -> FastAPI:
    """``manage_lifecycle``: start and stop the container with the app (what ``serve`` does).
    ``freeze_after_start``: the process is this app's alone (``serve``): see below."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await container.start()  # type: ignore[attr-defined]
        if freeze_after_start:
            # What start-up built (modules, validators, compiled statements) lives as long as
            # the process. Frozen, the cycle collector's full passes no longer walk it: they
            # took tens of milliseconds, a pause every request in flight waited out.
            gc.freeze()
        try:
            yield
        finally:
            if manage_lifecycle:
                await container.stop()  # type: ignore[attr-defined]

    # The schema pages are the admins' (bridge.web.docs), not FastAPI's public defaults.
    app = FastAPI(
        title="amo-chat-bridge",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.container = container
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.include_router(amojo_webhook.router)
    app.include_router(media.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    for channel in container.channels:  # type: ignore[attr-defined]
        sub_app = channel.asgi_app()
        if sub_app is not None:
            app.mount(f"/{channel.name}", sub_app)
    return app


async def _client_gone(_request: Request, _error: Exception) -> Response:
    """The client left (or was cut off at a read deadline) while its request was being read:
    nobody is there to answer, and nothing went wrong on this side, so no error is logged."""
    return Response(status_code=400)
