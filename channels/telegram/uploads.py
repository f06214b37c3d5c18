"""When Telegram will not fetch an operator's media URL itself, the bridge fetches and uploads it.

Telegram fetches by URL only up to 5 MB (photos) or 20 MB, only some document types, and only
from hosts that answer it; an upload takes up to 10 MB (photos) or 50 MB. The file is streamed
to a temporary file, bounded by those upload limits, before the Bot API request starts: then
a failed download is told apart from a failed send, with its own readable reason, and no file
is held in memory.

The URL comes from amoCRM's hook, so it is untrusted: only http(s), only hosts whose every
address is public (no loopback, private, link-local or reserved ranges, unless the operator
allows them), each redirect hop checked again, and the addresses checked where the connection
is made (the resolver below), so a name that resolves differently the second time gains
nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import tempfile
from collections.abc import AsyncIterator
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import FSInputFile
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bridge.errors import BadMediaError, FileTooBigError, TransientDeliveryError
from bridge.messages import AttachmentKind, OutboundAttachment

MB = 1024 * 1024
PHOTO_UPLOAD_LIMIT = 10 * MB
UPLOAD_LIMIT = 50 * MB
DOWNLOAD_TIMEOUT = 120  # seconds for the whole file
MAX_REDIRECTS = 5
CHUNK = 64 * 1024

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


class RefusedAddressError(OSError):
    """The media host resolves to an address the bridge does not fetch from."""


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


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Public addresses only, unless private ones are allowed (a lab, the tests)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private:
        return not (ip.is_multicast or ip.is_unspecified)
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse, with a reason the operator can read, a link the bridge must not fetch."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise BadMediaError("The file's link is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise BadMediaError("The file's link is not an http(s) URL")
    if not host:
        raise BadMediaError("The file's link names no host")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: its addresses are checked by the resolver when connecting
    if not address_allowed(str(literal), allow_private=allow_private):
        raise BadMediaError("The file's link points to a private or reserved address")


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp, then refuses a name with any non-public address."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not all(address_allowed(r["host"], allow_private=self._allow_private) for r in results):
            raise RefusedAddressError(f"{host} resolves to a private or reserved address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _refused(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, RefusedAddressError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class MediaFetcher:
    """Downloads operators' files for upload, over its own session (not the Bot API's)."""

    def __init__(self, *, allow_private: bool = False, timeout: float = DOWNLOAD_TIMEOUT) -> None:
        self._allow_private = allow_private
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=PublicOnlyResolver(allow_private=self._allow_private), limit=16
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @contextlib.asynccontextmanager
    async def fetch(self, attachment: OutboundAttachment) -> AsyncIterator[FSInputFile]:
        """The operator's file in a temporary file (removed on exit); raises a DeliveryError
        with a reason the operator can read (and never the URL, which may carry amoCRM's
        access key)."""
        limit = PHOTO_UPLOAD_LIMIT if attachment.kind is AttachmentKind.PICTURE else UPLOAD_LIMIT
        handle, path = tempfile.mkstemp(prefix="bridge-upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                size = await self._download(attachment.url, file, limit)
            if size == 0:
                raise BadMediaError("The file behind the link is empty")
            yield FSInputFile(path, filename=upload_name(attachment))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def _download(self, url: str, file: BinaryIO, limit: int) -> int:
        session = self._client()
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                check_url(url, allow_private=self._allow_private)
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise BadMediaError("The file's link redirects nowhere")
                        url = urljoin(url, location)
                        continue
                    self._check_status(response.status)
                    if (response.content_length or 0) > limit:
                        raise self._too_big(limit)
                    size = 0
                    async for chunk in response.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise self._too_big(limit)
                        file.write(chunk)  # a local disk write of 64 KB: not worth a thread
                    return size
            raise BadMediaError(f"The file's link redirects more than {MAX_REDIRECTS} times")
        except aiohttp.InvalidURL:
            raise BadMediaError("The file's link is not a valid URL") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            if _refused(error):
                raise BadMediaError(
                    "The file's link points to a private or reserved address"
                ) from None
            raise TransientDeliveryError(
                f"The file could not be downloaded from its link ({type(error).__name__})"
            ) from None

    @staticmethod
    def _check_status(status: int) -> None:
        if status < 400:
            return
        reason = f"The file could not be downloaded from its link (HTTP {status})"
        if status >= 500 or status in (408, 429):
            raise TransientDeliveryError(reason)
        raise BadMediaError(reason)

    @staticmethod
    def _too_big(limit: int) -> FileTooBigError:
        return FileTooBigError(f"The file is too big for Telegram (over {limit // MB} MB)")
