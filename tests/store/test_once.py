"""Once keys: a key is taken by the first transaction that asks for it, and by no other."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.store import once

NOW = datetime(2020, 10, 12, 2, 0, tzinfo=UTC)


def test_a_free_key_is_taken_and_a_taken_one_is_not_taken_again(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        assert once.take(session, ["digest:2020-10-12:office"], NOW) == {"digest:2020-10-12:office"}
    with sessions.begin() as session:
        assert once.take(session, ["digest:2020-10-12:office"], NOW) == set()


def test_of_several_keys_only_the_free_ones_are_returned(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        once.take(session, ["a"], NOW)
    with sessions.begin() as session:
        assert once.take(session, ["a", "b", "c", "b"], NOW) == {"b", "c"}


def test_more_keys_than_one_query_holds_are_looked_up_in_chunks(
    sessions: sessionmaker[Session],
) -> None:
    keys = [f"k{i}" for i in range(once.CHUNK * 2 + 1)]
    with sessions.begin() as session:
        once.take(session, keys[::2], NOW)
    with sessions.begin() as session:
        assert once.take(session, keys, NOW) == set(keys[1::2])


def test_nothing_asked_takes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert once.take(session, [], NOW) == set()
