"""Hook bodies are validated once, at receipt: bounded, clean, finite, or refused with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.amojo.models import (
    AmojoHook,
    GeoPoint,
    MessageContent,
    Participant,
    ReactionRequest,
    decode_hook,
    describe_error,
    parse_hook_body,
)
from bridge.errors import UnsupportedHookError


def message_hook(**inner: Any) -> dict[str, Any]:
    return {
        "account_id": "acc",
        "time": 1_700_000_000,
        "message": {
            "conversation": {"id": "chat-uuid", "client_id": "telegram-1-2"},
            "receiver": {"id": "r", "phone": "", "name": "Anna"},
            "message": {"id": "msg-uuid", "type": "text", "text": "hi"} | inner,
        },
    }


def body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def test_a_valid_hook_round_trips_through_its_job_payload() -> None:
    hook = parse_hook_body(body(message_hook(media_group_id="g1", file_size="")))
    assert (hook.kind, hook.amojo_msgid, hook.order_key, hook.media_group_id) == (
        "message",
        "msg-uuid",
        "telegram-1-2",
        "g1",
    )
    assert hook.message is not None and hook.message.message.file_size == 0  # "" is 0
    assert decode_hook(json.loads(json.dumps(hook.to_payload()))) == hook


def test_fields_the_bridge_does_not_read_are_not_stored() -> None:
    data = message_hook(template={"id": 1}, tag="")
    data["unknown"] = {"deep": [1, 2, 3]}
    payload = parse_hook_body(body(data)).to_payload()
    assert "unknown" not in payload and "template" not in payload["message"]["message"]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (body(message_hook(id="x" * 65)), "message.message.id"),
        (body({**message_hook(), "account_id": "a" * 65}), "account_id"),
        (body(message_hook(text="a\x00b")), "message.message.text"),
        (body(message_hook(file_size=-1)), "message.message.file_size"),
        (body(message_hook(file_size=2**60)), "message.message.file_size"),
        (body({**message_hook(), "time": 1.5}), "time"),
        (body(message_hook(id=5)), "message.message.id"),
        (body({"account_id": "acc", "action": {"dance": {}}}), "body"),
        (body({"account_id": "acc", "action": {"reaction": {"emoji": "👍"}}}), "body"),
    ],
)
def test_what_does_not_fit_is_refused_naming_the_field(raw: bytes, where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_hook_body(raw)
    reason = describe_error(caught.value)
    assert reason.startswith(where + ":")
    assert "\x00" not in reason and "x" * 65 not in reason  # never echoes the input


def test_a_client_id_longer_than_a_lock_key_allows_is_refused() -> None:
    data = message_hook()
    data["message"]["conversation"]["client_id"] = "c" * 121
    with pytest.raises(ValidationError):
        AmojoHook.model_validate(data)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"account_id":"acc","time":NaN,"action":{"typing":{}}}',
        b'{"account_id":"acc","x":Infinity,"action":{"typing":{}}}',
        b'{"account_id":"acc","x":-Infinity,"action":{"typing":{}}}',
        b'{"account_id":"\\ud800","action":{"typing":{}}}',
        b'{"account_id":"\xed\xa0\x80","action":{"typing":{}}}',
        b'{"account_id":"acc","action":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"account_id":"acc"',
        b"",
    ],
)
def test_nan_surrogates_deep_nesting_and_broken_json_are_not_json(raw: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hook_body(raw)
    assert not isinstance(caught.value, ValidationError)


def test_an_infinite_number_where_an_integer_belongs_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_hook_body(b'{"account_id":"acc","time":1e999,"action":{"typing":{}}}')


def test_an_unreadable_stored_hook_fails_for_good() -> None:
    with pytest.raises(UnsupportedHookError):
        decode_hook({"account_id": "acc"})


def test_a_request_leaves_out_what_is_unset_and_refuses_what_it_does_not_know() -> None:
    content = MessageContent(type="text", text="hi")
    assert content.body() == {"type": "text", "text": "hi"}
    with pytest.raises(ValidationError):
        MessageContent(type="text", txet="hi")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        GeoPoint(lon=float("nan"), lat=0)


def test_a_reaction_names_its_message_by_one_id() -> None:
    request = ReactionRequest(
        conversation_id="conv", user=Participant(id="u"), type="unreact", msgid="m-1"
    )
    assert request.body() == {
        "conversation_id": "conv",
        "user": {"id": "u"},
        "type": "unreact",
        "msgid": "m-1",
    }
