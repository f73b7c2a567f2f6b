"""Once keys: a job that must happen once, across runs and daemons, takes its key first.

Whoever inserts a key (INSERT … ON CONFLICT DO NOTHING) does the job in the same
transaction; every other run or daemon finds the key taken and does nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.database import insert_ignoring_duplicates
from bot.store.models import OnceKey

CHUNK = 500  # keys a query: databases cap the parameters of one statement


def take(session: Session, keys: Sequence[str], now: datetime) -> set[str]:
    """The keys this transaction took: those nobody held, inserted now. A key taken before,
    or by another daemon between the look and the insert, is not among them."""
    wanted = list(dict.fromkeys(keys))
    held = _held(session, wanted)
    rows = [{"key": key, "created_at": now} for key in wanted if key not in held]
    return set(insert_ignoring_duplicates(session, OnceKey, rows, returning="key"))


def _held(session: Session, keys: list[str]) -> set[str]:
    """A look first: taking keys that are mostly taken writes nothing."""
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found.update(session.scalars(select(OnceKey.key).where(OnceKey.key.in_(chunk))))
    return found
