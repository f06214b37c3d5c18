"""GET /media/{token}: amoCRM downloads a customer's file through a signed, expiring link."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bridge.crypto import MediaTokenError, MediaTokenExpiredError
from bridge.errors import DeliveryError
from bridge.web.deps import ChannelsDep, MediaLinksDep, StoreDep

log = logging.getLogger(__name__)
router = APIRouter()
DEFAULT_TYPE = "application/octet-stream"


@router.get("/media/{token}")
async def media(
    token: str, links: MediaLinksDep, store: StoreDep, channels: ChannelsDep
) -> Response:
    try:
        claim = links.resolve(token)
    except MediaTokenExpiredError:
        return JSONResponse({"error": "this link has expired"}, status_code=410)
    except MediaTokenError:
        return JSONResponse({"error": "invalid link"}, status_code=403)
    async with store.read() as uow:
        connection = await uow.connections.get(claim.connection_id)
    if connection is None:
        return JSONResponse({"error": "unknown connection"}, status_code=404)
    try:
        stream = await channels.get(connection.channel).open_media(claim.connection_id, claim.ref)
    except (DeliveryError, LookupError) as error:
        log.warning("media not available: %s", error, extra={"connection_id": connection.id})
        return JSONResponse({"error": "the file is not available"}, status_code=404)
    name = claim.file_name or stream.file_name
    headers = {"Content-Disposition": content_disposition(name)}
    if stream.size:
        headers["Content-Length"] = str(stream.size)
    # The type the customer's message declared beats a guess from Telegram's file path.
    media_type = claim.mime_type or stream.content_type or DEFAULT_TYPE
    return StreamingResponse(stream.chunks, media_type=media_type, headers=headers)


def content_disposition(name: str) -> str:
    """An ASCII fallback for old clients plus the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
