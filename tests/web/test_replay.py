"""The memory of DingTalk signatures already used: once per message, bounded, forgetful."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app.errors import Rejected
from bot.web.replay import SeenSignatures
from tests.support.web import NOW

LATER = NOW + timedelta(hours=1)


def test_it_takes_a_pair_again_only_with_the_same_message() -> None:
    seen = SeenSignatures()
    seen.admit(("ding", "1", "s"), "msgA1", LATER, NOW)
    seen.admit(("ding", "1", "s"), "msgA1", LATER, NOW)
    with pytest.raises(Rejected) as refused:
        seen.admit(("ding", "1", "s"), "msgA2", LATER, NOW)
    assert refused.value.status == 403
    seen.admit(("other-hook", "1", "s"), "msgA2", LATER, NOW)


def test_when_full_of_live_pairs_it_refuses_a_new_one_rather_than_forget_one() -> None:
    seen = SeenSignatures(capacity=2)
    seen.admit(("ding", "1", "s"), "m1", LATER, NOW)
    seen.admit(("ding", "2", "s"), "m2", LATER + timedelta(seconds=1), NOW)
    with pytest.raises(Rejected) as refused:
        seen.admit(("ding", "3", "s"), "m3", LATER, NOW)
    assert refused.value.status == 503
    with pytest.raises(Rejected):
        seen.admit(("ding", "1", "s"), "m9", LATER, NOW)  # still remembered
    seen.admit(("ding", "3", "s"), "m3", LATER, LATER + timedelta(milliseconds=1))
    assert len(seen) == 2  # the first was void by then
