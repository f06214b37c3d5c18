"""Receivers heal themselves; sends tell a known failure from an unknown outcome; no error
text or log line carries the bot token.

Real aiogram against the Bot API emulator (or a misbehaving server) over HTTP on loopback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from bridge.channel import ChannelConnection, ReceiverState
from bridge.errors import ChannelAuthError, DeliveryOutcomeUnknownError, TransientDeliveryError
from bridge.ids import ConnectionId, ExternalChatId
from bridge.messages import InboundMessage, OutboundMessage
from channels.telegram import TelegramChannel
from emulators.fault_proxy import FaultProxy
from emulators.loopback import LoopbackServer, bind_loopback
from emulators.telegram.app import TelegramEmulator
from tests.channels.telegram.test_receiver import RecordingSink

TOKEN = "777002:healing-test-token-abcdefghij"
SECRET = TOKEN.split(":")[1]
USER = 9002
CID = ConnectionId("healingconn")
FOREVER = 10**6


@dataclass
class Setup:
    telegram: TelegramEmulator
    channel: TelegramChannel
    sink: RecordingSink
    url: str

    def state(self) -> ReceiverState:
        [health] = self.channel.receivers()
        return health.state

    def failed_calls(self, method: str) -> int:
        return sum(1 for c in self.telegram.calls if c.method == method and c.status >= 500)


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    telegram = TelegramEmulator()
    sink = RecordingSink()
    sink.bot = telegram.add_bot(TOKEN, "healing_bot")
    telegram.add_user(USER, "Olga")
    async with LoopbackServer(telegram.app) as server:
        channel = TelegramChannel(server.url, poll_timeout=1, timeout=2.0)
        await channel.start(sink)
        try:
            yield Setup(telegram, channel, sink, server.url)
        finally:
            await channel.stop()
            await telegram.aclose()


def texts(sink: RecordingSink) -> list[str | None]:
    return [e.text for e in sink.accepted if isinstance(e, InboundMessage)]


async def test_polling_resumes_after_html_error_pages_on_get_updates(setup: Setup) -> None:
    await setup.channel.add_connection(ChannelConnection(CID, TOKEN, "s"))
    await setup.telegram.wait_for(lambda: setup.state() is ReceiverState.RUNNING)
    setup.telegram.fail_server_next("getUpdates", FOREVER)
    await setup.telegram.wait_for(lambda: setup.failed_calls("getUpdates") >= 2)
    [health] = setup.channel.receivers()
    assert health.state is ReceiverState.RETRYING
    assert health.last_error == "Telegram answered with something that is not JSON"
    setup.telegram.user_sends_text(TOKEN, USER, "during the outage")
    setup.telegram.clear_faults()
    await setup.sink.wait(lambda: setup.sink.accepted)
    assert texts(setup.sink) == ["during the outage"]
    assert setup.state() is ReceiverState.RUNNING
    [health] = setup.channel.receivers()
    assert health.last_ok is not None and health.last_ok >= health.since


async def test_a_bot_whose_telegram_is_down_at_start_keeps_trying_and_relays_once_up(
    setup: Setup,
) -> None:
    setup.telegram.fail_server_next(None, FOREVER)
    account = await setup.channel.add_connection(ChannelConnection(CID, TOKEN, "s"))
    assert account.external_id == "777002"  # from the token: Telegram could not say
    await setup.telegram.wait_for(lambda: setup.failed_calls("deleteWebhook") >= 2)
    assert setup.state() is ReceiverState.RETRYING
    setup.telegram.user_sends_text(TOKEN, USER, "hello?")
    setup.telegram.clear_faults()
    await setup.sink.wait(lambda: setup.sink.accepted)
    assert texts(setup.sink) == ["hello?"]
    assert setup.state() is ReceiverState.RUNNING


async def test_a_revoked_token_is_a_failed_receiver_not_a_retrying_one(setup: Setup) -> None:
    await setup.channel.add_connection(ChannelConnection(CID, TOKEN, "s"))
    await setup.telegram.wait_for(lambda: setup.state() is ReceiverState.RUNNING)
    setup.telegram.fail_next("getUpdates", FOREVER, error_code=401, description="Unauthorized")
    await setup.telegram.wait_for(lambda: setup.state() is ReceiverState.FAILED)
    [health] = setup.channel.receivers()
    assert health.last_error == "Telegram rejected the bot token (Unauthorized)"


async def test_a_token_telegram_rejects_at_connection_is_a_channel_auth_error(
    setup: Setup,
) -> None:
    with pytest.raises(ChannelAuthError):
        await setup.channel.add_connection(ChannelConnection(CID, "777003:unknown-token-x", "s"))
    # the receiver shows it to readiness and status
    await setup.telegram.wait_for(lambda: setup.state() is ReceiverState.FAILED)


async def test_a_send_with_no_answer_in_time_has_an_unknown_outcome(setup: Setup) -> None:
    await setup.channel.add_connection(ChannelConnection(CID, TOKEN, "s"))
    setup.telegram.hang_next("sendMessage")
    with pytest.raises(DeliveryOutcomeUnknownError) as raised:
        await setup.channel.send(CID, ExternalChatId(str(USER)), OutboundMessage(text="hi?"))
    assert isinstance(raised.value, TransientDeliveryError)  # still retried by the worker
    assert SECRET not in str(raised.value)


async def test_a_connection_dropped_after_the_request_went_out_has_an_unknown_outcome(
    setup: Setup,
) -> None:
    port = int(setup.url.rsplit(":", 1)[1])
    async with FaultProxy("127.0.0.1", port) as proxy:
        channel = TelegramChannel(proxy.url, poll_timeout=1, timeout=5.0)
        try:
            await channel.add_connection(ChannelConnection(CID, TOKEN, "s"))
            proxy.drop_next(1)
            with pytest.raises(DeliveryOutcomeUnknownError):
                await channel.send(CID, ExternalChatId(str(USER)), OutboundMessage(text="x"))
        finally:
            await channel.stop()


async def test_a_refused_connection_is_a_known_failure_and_leaks_no_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock = bind_loopback()  # a port nobody listens on
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    caplog.set_level(logging.DEBUG)
    channel = TelegramChannel(url, poll_timeout=1, timeout=2.0)
    try:
        await channel.add_connection(ChannelConnection(CID, TOKEN, "s"))  # no raise
        with pytest.raises(TransientDeliveryError) as raised:
            await channel.send(CID, ExternalChatId(str(USER)), OutboundMessage(text="x"))
        assert not isinstance(raised.value, DeliveryOutcomeUnknownError)
    finally:
        await channel.stop()
    assert SECRET not in str(raised.value)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def redirect_loop() -> FastAPI:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def loop(path: str, request: Request) -> Response:
        return RedirectResponse(str(request.url), status_code=307)

    return app


async def test_a_redirect_loop_on_the_bot_api_leaks_no_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LoopbackServer(redirect_loop()) as server:
        channel = TelegramChannel(server.url, poll_timeout=1, timeout=5.0)
        sink = RecordingSink()
        await channel.start(sink)
        try:
            await channel.add_connection(ChannelConnection(CID, TOKEN, "s"))
            with pytest.raises(TransientDeliveryError) as raised:
                await channel.send(CID, ExternalChatId(str(USER)), OutboundMessage(text="x"))
            health = channel.receivers()[0]
        finally:
            await channel.stop()
    texts_seen = [str(raised.value), health.last_error or ""]
    texts_seen += [record.getMessage() for record in caplog.records]
    texts_seen += [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert "TooManyRedirects" in str(raised.value)
    assert [text for text in texts_seen if SECRET in text] == []
