from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.tokens import InvalidTokenError, fingerprint, sign, verify

KEY = b"k" * 32
NOW = datetime(2020, 10, 12, 9, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def test_a_token_verifies_for_its_purpose_and_gives_back_its_subject() -> None:
    token = sign(KEY, "report", (12, 3456), LATER)
    claims = verify(KEY, token, "report", NOW)
    assert claims.subject == (12, 3456)
    assert claims.expires == LATER


def test_a_token_is_short_enough_for_a_chat_link() -> None:
    assert len(sign(KEY, "report", (12345, 1234567), LATER)) < 100


@pytest.mark.parametrize(
    ("token_of", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad signature"),
        (lambda t: sign(b"x" * 32, "report", (12, 3456), LATER), "bad signature"),
        (lambda t: sign(KEY, "review", (12, 3456), LATER), "bad signature"),
        (lambda t: "." + t, "malformed"),
        (lambda t: t.replace(".", "/"), "malformed"),
        (lambda t: "x" * 600, "malformed"),
        (lambda t: "漢字.漢字", "malformed"),
    ],
)
def test_a_forged_altered_or_foreign_token_is_refused(token_of: object, reason: str) -> None:
    token = sign(KEY, "report", (12, 3456), LATER)
    with pytest.raises(InvalidTokenError) as refused:
        verify(KEY, token_of(token), "report", NOW)  # type: ignore[operator]
    assert refused.value.reason == reason


def test_a_payload_changed_to_another_subject_does_not_verify() -> None:
    mine = sign(KEY, "report", (12, 3456), LATER)
    theirs = sign(KEY, "report", (13, 3456), LATER)
    forged = theirs.split(".")[0] + "." + mine.split(".")[1]
    with pytest.raises(InvalidTokenError, match="bad signature"):
        verify(KEY, forged, "report", NOW)


def test_an_expired_token_is_refused_from_its_expiry_on() -> None:
    token = sign(KEY, "report", (12, 3456), LATER)
    with pytest.raises(InvalidTokenError, match="expired"):
        verify(KEY, token, "report", LATER)


def test_no_key_signs_or_verifies_nothing() -> None:
    with pytest.raises(ValueError, match="no signing key"):
        sign(b"", "report", (1,), LATER)
    with pytest.raises(InvalidTokenError):
        verify(b"", sign(KEY, "report", (1,), LATER), "report", NOW)


def test_a_fingerprint_names_a_token_without_holding_it() -> None:
    token = sign(KEY, "report", (12, 3456), LATER)
    assert fingerprint(token) == fingerprint(token)
    assert token not in fingerprint(token)
    assert len(fingerprint(token)) == 32
