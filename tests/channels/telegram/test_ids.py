"""The adapter's opaque ids: made and parsed in one place, round-tripping, refusing others."""

from __future__ import annotations

import pytest

from channels.telegram.ids import (
    CALLBACK_LIMIT,
    bot_id_from_token,
    make_callback_data,
    make_chat_id,
    make_message_id,
    make_press_id,
    parse_callback_data,
    parse_chat_id,
    parse_message_id,
)


def test_the_bot_id_is_the_public_part_of_the_token() -> None:
    assert bot_id_from_token("123456:ABC-secret") == "123456"


@pytest.mark.parametrize("token", ["", "no-colon", "abc:def", ":secret"])
def test_a_token_of_the_wrong_shape_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(ValueError) as raised:
        bot_id_from_token(token)
    assert token == "" or token not in str(raised.value)


@pytest.mark.parametrize("chat", [42, -1001234567890])
def test_chat_and_message_ids_round_trip(chat: int) -> None:
    assert parse_chat_id(make_chat_id(chat)) == chat
    assert parse_message_id(make_message_id(chat, 7)) == (chat, 7)


def test_a_button_press_id_is_no_message_id() -> None:
    press = make_press_id(42, "998877")
    with pytest.raises(ValueError):
        parse_message_id(press)
    assert press != make_message_id(42, 998877)


@pytest.mark.parametrize("text", ["Yes", "Да, конечно", "x" * 10])
def test_short_button_texts_travel_whole_in_callback_data(text: str) -> None:
    data = make_callback_data(text)
    assert len(data.encode()) <= CALLBACK_LIMIT
    assert parse_callback_data(data) == text


def test_long_button_texts_travel_as_a_stable_digest() -> None:
    text = "Записаться на консультацию в субботу утром, пожалуйста"
    data = make_callback_data(text)
    assert len(data.encode()) <= CALLBACK_LIMIT
    assert data == make_callback_data(text)
    assert parse_callback_data(data) == ""  # read back from the keyboard instead
