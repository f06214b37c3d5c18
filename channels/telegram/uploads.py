"""When Telegram will not fetch an operator's media URL itself, the bridge fetches and uploads it.

Telegram fetches by URL only up to 5 MB (photos) or 20 MB, only some document types, and only
from hosts that answer it; an upload takes up to 10 MB (photos) or 50 MB. The file is read
into memory whole, bounded by those upload limits, before the Bot API request starts: then a
failed download is told apart from a failed send, with its own readable reason.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import aiohttp
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from bridge.errors import PermanentDeliveryError, TransientDeliveryError, UnsupportedContentError
from bridge.messages import AttachmentKind, OutboundAttachment

MB = 1024 * 1024
PHOTO_UPLOAD_LIMIT = 10 * MB
UPLOAD_LIMIT = 50 * MB
DOWNLOAD_TIMEOUT = 120  # seconds for the whole file
OTHER = 905  # Chats API delivery error code "other"

# Texts of Telegram's 400 answers that mean "I could not (or would not) fetch that URL".
URL_REFUSALS = (
    "wrong type of the web page content",
    "failed to get http url content",
    "wrong file identifier/http url specified",
    "wrong http url",
    "webpage_curl_failed",
    "webpage_media_empty",
)
DEFAULT_NAMES = {
    AttachmentKind.PICTURE: "photo.jpg",
    AttachmentKind.VIDEO: "video.mp4",
    AttachmentKind.FILE: "file",
    AttachmentKind.VOICE: "voice.ogg",
    AttachmentKind.AUDIO: "audio.mp3",
    AttachmentKind.STICKER: "sticker.webp",
}


def url_refused(error: BaseException) -> bool:
    """True when uploading the file ourselves may succeed where sending its URL failed."""
    if not isinstance(error, TelegramBadRequest):
        return False
    text = error.message.lower()
    return any(refusal in text for refusal in URL_REFUSALS)


def upload_name(attachment: OutboundAttachment) -> str:
    if attachment.file_name:
        return attachment.file_name
    tail = unquote(urlsplit(attachment.url).path.rsplit("/", 1)[-1])
    return tail if "." in tail else DEFAULT_NAMES[attachment.kind]


async def fetch(session: AiohttpSession, attachment: OutboundAttachment) -> BufferedInputFile:
    """Download the operator's file for an upload; raises a DeliveryError with a reason the
    operator can read (and never the URL, which may carry amoCRM's access key)."""
    limit = PHOTO_UPLOAD_LIMIT if attachment.kind is AttachmentKind.PICTURE else UPLOAD_LIMIT
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in session.stream_content(
            attachment.url, timeout=DOWNLOAD_TIMEOUT, raise_for_status=True
        ):
            size += len(chunk)
            if size > limit:
                raise UnsupportedContentError(
                    f"The file is too big for Telegram (over {limit // MB} MB)", code=OTHER
                )
            chunks.append(chunk)
    except aiohttp.InvalidURL:
        raise PermanentDeliveryError("The file's link is not a valid URL", code=OTHER) from None
    except aiohttp.ClientResponseError as error:
        reason = f"The file could not be downloaded from its link (HTTP {error.status})"
        if error.status >= 500 or error.status in (408, 429):
            raise TransientDeliveryError(reason) from None
        raise PermanentDeliveryError(reason, code=OTHER) from None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TransientDeliveryError(
            f"The file could not be downloaded from its link ({type(error).__name__})"
        ) from None
    if not chunks:
        raise PermanentDeliveryError("The file behind the link is empty", code=OTHER)
    return BufferedInputFile(b"".join(chunks), filename=upload_name(attachment))
