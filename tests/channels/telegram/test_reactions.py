"""Which emoji a bot may react with, and the U+FE0F variants Telegram lists without it."""

from __future__ import annotations

import pytest

from channels.telegram.reactions import ALLOWED, normalize_reaction


@pytest.mark.parametrize("emoji", ["👍", "🔥", "❤\u200d🔥", "🤷\u200d♀"])
def test_an_allowed_emoji_is_kept_as_is(emoji: str) -> None:
    assert normalize_reaction(emoji) == emoji


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("❤\ufe0f", "❤"), ("❤\ufe0f\u200d🔥", "❤\u200d🔥"), ("✍\ufe0f", "✍"), ("☃\ufe0f", "☃")],
)
def test_variation_selectors_are_dropped_to_match_telegrams_list(sent: str, kept: str) -> None:
    assert normalize_reaction(sent) == kept


@pytest.mark.parametrize("emoji", ["🍕", "", "like", "👍👍", "\ufe0f"])
def test_anything_outside_the_list_is_none(emoji: str) -> None:
    assert normalize_reaction(emoji) is None


def test_the_list_holds_no_variation_selector() -> None:
    assert not any("\ufe0f" in emoji for emoji in ALLOWED)
    assert len(ALLOWED) == 73
