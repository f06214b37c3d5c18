"""The bot pool: one shared HTTP session, one bot per connection, the configured Bot API base."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bridge.ids import ConnectionId
from channels.telegram.bots import BotPool

C1, C2 = ConnectionId("c1"), ConnectionId("c2")
TOKEN = "123:first-token"


@pytest.fixture
async def pool() -> AsyncIterator[BotPool]:
    pool = BotPool("http://127.0.0.1:9/", timeout=5)
    try:
        yield pool
    finally:
        await pool.close()


async def test_every_bot_shares_the_pools_one_session(pool: BotPool) -> None:
    first, second = pool.add(C1, TOKEN), pool.add(C2, "456:second-token")
    assert first.session is second.session is pool.session
    assert pool.make("789:probe").session is pool.session


async def test_the_base_url_is_the_configured_server_without_its_trailing_slash(
    pool: BotPool,
) -> None:
    bot = pool.add(C1, TOKEN)
    assert pool.session.api.api_url(TOKEN, "getMe") == f"http://127.0.0.1:9/bot{TOKEN}/getMe"
    assert pool.file_url(bot, "photos/a.jpg") == f"http://127.0.0.1:9/file/bot{TOKEN}/photos/a.jpg"


async def test_adding_a_connection_again_keeps_its_bot_unless_the_token_changed(
    pool: BotPool,
) -> None:
    bot = pool.add(C1, TOKEN)
    assert pool.add(C1, TOKEN) is bot
    renewed = pool.add(C1, "123:new-token")
    assert renewed is not bot and renewed.token == "123:new-token"
    assert pool.get(C1) is renewed


async def test_a_removed_connection_has_no_bot(pool: BotPool) -> None:
    pool.add(C1, TOKEN)
    pool.remove(C1)
    pool.remove(C1)  # removing twice is fine
    with pytest.raises(LookupError, match="connection c1 has no bot running"):
        pool.get(C1)


async def test_close_forgets_the_bots_and_a_later_use_opens_a_new_session() -> None:
    pool = BotPool("http://127.0.0.1:9", timeout=5)
    old = pool.session
    pool.add(C1, TOKEN)
    await pool.close()
    with pytest.raises(LookupError):
        pool.get(C1)
    try:
        assert pool.session is not old
    finally:
        await pool.close()
