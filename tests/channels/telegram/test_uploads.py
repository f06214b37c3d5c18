"""The fallback uploader fetches only public http(s) links, checks every redirect hop, and
streams to a temporary file under the size cap.

A real file server on loopback; the uploader under test is told whether private addresses
(loopback included) are allowed, as BRIDGE_ALLOW_PRIVATE_MEDIA_URLS does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from bridge.errors import BadMediaError, FileTooBigError, TransientDeliveryError
from bridge.messages import AttachmentKind, OutboundAttachment
from channels.telegram.uploads import MediaFetcher, address_allowed, check_url
from emulators.loopback import LoopbackServer

CONTENT = b"%PDF-1.4 the operator's file" * 100


class Served:
    def __init__(self) -> None:
        self.chunks_sent = 0


def file_server(served: Served) -> FastAPI:
    app = FastAPI()

    @app.get("/doc.pdf")
    async def doc() -> Response:
        return Response(CONTENT, media_type="application/pdf")

    @app.get("/empty")
    async def empty() -> Response:
        return Response(b"")

    @app.get("/hop/{n}")
    async def hop(n: int) -> Response:
        return RedirectResponse("/doc.pdf" if n == 0 else f"/hop/{n - 1}", status_code=302)

    @app.get("/loop")
    async def loop() -> Response:
        return RedirectResponse("/loop", status_code=302)

    @app.get("/to-file")
    async def to_file() -> Response:
        return RedirectResponse("file:///etc/passwd", status_code=302)

    @app.get("/missing")
    async def missing() -> Response:
        return Response(status_code=404)

    @app.get("/down")
    async def down() -> Response:
        return Response(status_code=503)

    @app.get("/endless.bin")
    async def endless() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(200):  # 50 MB, no Content-Length: the cap must stop the reading
                served.chunks_sent += 1
                yield b"x" * (256 * 1024)

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    return app


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Served]]:
    served = Served()
    async with LoopbackServer(file_server(served)) as running:
        yield running.url, served


def doc(url: str, kind: AttachmentKind = AttachmentKind.FILE) -> OutboundAttachment:
    return OutboundAttachment(kind, url)


async def fetched(fetcher: MediaFetcher, attachment: OutboundAttachment) -> tuple[bytes, str]:
    async with fetcher.fetch(attachment) as file:
        path = str(file.path)
        with open(path, "rb") as handle:
            data = handle.read()
        assert file.filename == "doc.pdf" or file.filename
    return data, path


async def test_a_public_link_is_streamed_to_a_temporary_file_removed_after_use(
    server: tuple[str, Served],
) -> None:
    url, _ = server
    fetcher = MediaFetcher(allow_private=True)
    try:
        data, path = await fetched(fetcher, doc(f"{url}/doc.pdf"))
    finally:
        await fetcher.close()
    assert data == CONTENT
    assert not os.path.exists(path)


async def test_redirects_are_followed_hop_by_hop(server: tuple[str, Served]) -> None:
    url, _ = server
    fetcher = MediaFetcher(allow_private=True)
    try:
        data, _ = await fetched(fetcher, doc(f"{url}/hop/3"))
    finally:
        await fetcher.close()
    assert data == CONTENT


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/loop", "redirects more than"),
        ("/to-file", r"not an http\(s\) URL"),
        ("/missing", "HTTP 404"),
        ("/empty", "empty"),
    ],
)
async def test_a_link_that_cannot_be_used_ends_as_a_permanent_bad_media_error(
    server: tuple[str, Served], path: str, reason: str
) -> None:
    url, _ = server
    fetcher = MediaFetcher(allow_private=True)
    try:
        with pytest.raises(BadMediaError, match=reason) as raised:
            await fetched(fetcher, doc(f"{url}{path}"))
    finally:
        await fetcher.close()
    assert url not in str(raised.value)


async def test_a_private_address_literal_is_refused_before_any_connection() -> None:
    # (a connection to 10.20.30.40 would hit the tests' network guard instead)
    fetcher = MediaFetcher(allow_private=False)
    try:
        with pytest.raises(BadMediaError, match="private or reserved"):
            await fetched(fetcher, doc("http://10.20.30.40/secret.pdf"))
    finally:
        await fetcher.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_loopback_links_are_refused_unless_private_addresses_are_allowed(
    server: tuple[str, Served], host: str
) -> None:
    url, _ = server
    port = url.rsplit(":", 1)[1]
    fetcher = MediaFetcher(allow_private=False)
    try:
        with pytest.raises(BadMediaError, match="private or reserved") as raised:
            await fetched(fetcher, doc(f"http://{host}:{port}/doc.pdf"))
    finally:
        await fetcher.close()
    assert host not in str(raised.value)


async def test_a_file_over_the_cap_stops_the_download(server: tuple[str, Served]) -> None:
    url, served = server
    fetcher = MediaFetcher(allow_private=True)
    try:
        with pytest.raises(FileTooBigError, match="over 10 MB"):
            await fetched(fetcher, doc(f"{url}/endless.bin", AttachmentKind.PICTURE))
    finally:
        await fetcher.close()
    # 10 MB is 40 chunks of 256 KB; the server stops soon after the reader does
    assert served.chunks_sent < 200


async def test_a_server_error_is_transient(server: tuple[str, Served]) -> None:
    url, _ = server
    fetcher = MediaFetcher(allow_private=True)
    try:
        with pytest.raises(TransientDeliveryError, match="HTTP 503"):
            await fetched(fetcher, doc(f"{url}/down"))
    finally:
        await fetcher.close()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2a00:1450:4001:82a::200e", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("240.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_are_fetched_from(address: str, public: bool) -> None:
    assert address_allowed(address, allow_private=False) is public


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a", "file:///etc/passwd", "gopher://x", "http:///nohost", "http://[::1/x"],
)
def test_links_other_than_http_urls_with_a_host_are_refused(url: str) -> None:
    with pytest.raises(BadMediaError):
        check_url(url, allow_private=True)
