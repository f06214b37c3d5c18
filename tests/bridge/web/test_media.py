"""GET /media/{token} on the real app: a signed link streams the file the adapter opens, with the
name and type the customer's message declared; bad, expired and dead links get clear answers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.crypto import generate_key
from bridge.ids import MediaRef
from bridge.messages import Attachment, AttachmentKind
from storage.models import Connection
from tests.bridge.web.conftest import Web, web_app
from tests.fakes import FakeChannel

CONNECTION = "c0ffee"
REF = MediaRef("file-1")


@dataclass
class Served:
    web: Web
    channel: FakeChannel

    def link(self, ref: MediaRef = REF) -> str:
        """The path of the link amoCRM gets for a PDF the customer sent."""
        pdf = Attachment(AttachmentKind.FILE, ref, "счёт №1.pdf", 10, "application/pdf")
        return _path(self.web.container.media.url_for(CONNECTION, pdf))


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with web_app(tmp_path, secret_key=SecretStr(generate_key())) as web:
        channel = FakeChannel()
        web.container.channels.register(FakeChannel.name, lambda: channel)
        async with web.container.store.transaction() as uow:
            await uow.save(
                Connection(
                    id=CONNECTION,
                    channel=FakeChannel.name,
                    amojo_account_id="account",
                    scope_id="scope",
                    external_account_id="42",
                    token_encrypted="x",
                    webhook_secret_encrypted="x",
                )
            )
        yield Served(web, channel)


async def test_a_signed_link_streams_the_file_with_its_declared_name_and_type(
    served: Served,
) -> None:
    served.channel.files[REF] = (b"%PDF-1.4 ten", "application/octet-stream", "file_7.bin")
    response = await served.web.http.get(served.link())
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 ten"
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == "12"
    # an ASCII stand-in for old clients, then the exact UTF-8 name
    assert response.headers["content-disposition"] == (
        'attachment; filename="____ _1.pdf"; '
        "filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82%20%E2%84%961.pdf"
    )


async def test_a_tampered_link_is_403_and_an_expired_one_410(served: Served) -> None:
    served.channel.files[REF] = (b"data", "text/plain", "a.txt")
    link = served.link()
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert (await served.web.http.get(tampered)).status_code == 403
    old = served.web.container.media.url_for(
        CONNECTION,
        Attachment(AttachmentKind.FILE, REF, "a.txt", 4),
        now=time.time() - 30 * 24 * 3600,
    )
    expired = await served.web.http.get(_path(old))
    assert (expired.status_code, expired.json()) == (410, {"error": "this link has expired"})


async def test_a_file_the_messenger_no_longer_has_is_404_without_details(served: Served) -> None:
    response = await served.web.http.get(served.link(MediaRef("gone")))
    assert (response.status_code, response.json()) == (404, {"error": "the file is not available"})
