"""The ids the bridge mints are stable (amoCRM knows them forever) and fit their columns."""

from __future__ import annotations

from bridge import keys


def test_ids_amocrm_sees_are_stable_strings() -> None:
    assert keys.conversation_key("telegram", "4242", "5001") == "telegram-4242-5001"
    assert keys.participant_key("telegram", "4242", "5001") == "telegram-4242-user-5001"
    assert keys.message_key("telegram", "4242", "77") == "telegram-4242-77"


def test_a_participant_and_a_conversation_of_one_user_never_collide() -> None:
    assert keys.participant_key("telegram", "1", "2") != keys.conversation_key(
        "telegram", "1", "2"
    )


def test_lock_keys_keep_the_two_directions_apart() -> None:
    assert keys.inbound_lock_key(12) == "in:12"
    assert keys.hook_lock_key("c" * 32, "telegram-1-2") == f"out:{'c' * 32}:telegram-1-2"
    # The longest order key the hook model lets in still fits job.lock_key (160).
    assert len(keys.hook_lock_key("c" * 32, "x" * 120)) <= 160


def test_dedup_keys_name_the_work_they_deduplicate() -> None:
    assert keys.inbound_message_dedup_key(7) == "in:7"
    assert keys.edit_dedup_key("c1", "5", "r2") == "edit:c1:5:r2"
    assert keys.reaction_dedup_key("c1", "5", "r2") == "react:c1:5:r2"
    assert keys.hook_dedup_key("scope", "m-1") == "hook:scope:m-1"
    assert keys.report_dedup_key("m-1", -1) == "report:m-1:-1"


def test_hooks_without_an_id_are_keyed_by_their_bytes() -> None:
    first = keys.hook_body_dedup_key("scope", b'{"a":1}')
    assert first == keys.hook_body_dedup_key("scope", b'{"a":1}')
    assert first != keys.hook_body_dedup_key("scope", b'{"a":2}')
    assert first != keys.hook_body_dedup_key("other", b'{"a":1}')
    # The longest scope the route accepts (160) still fits job.dedup_key (255).
    assert len(keys.hook_body_dedup_key("s" * 160, b"x")) <= 255
    assert len(keys.hook_dedup_key("s" * 160, "m" * 64)) <= 255
