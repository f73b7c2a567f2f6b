"""A connection a writer thread keeps from one small transaction to the next.

The hooks' receiver and the dispatcher's recorder each write many small transactions in a
row (a batch of events, a group of sends). Checking a connection out of the pool for each,
with its ping, and an ORM session around it cost as much as the write itself: a third of
the receiver's time. `HeldConnection` checks one out at the first transaction and keeps it
until `close()`; a connection the database dropped (a restart) is let go as the error
passes (as are those whose error says the server went away: the pool's ping sorts them
out), and the next transaction checks out a new one, pinged as usual.

A holder whose every block is one statement (the receiver's insert of a batch) says so
(`single_statement`): on PostgreSQL its statements then go without BEGIN and COMMIT, each
atomic on its own (two round trips fewer: a third of a small batch's time). SQLite's still
begin and commit: its writers queue for the write lock at BEGIN (bot/store/database.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.pool import Pool

from bot.store.database import connection_lost


class HeldConnection:
    def __init__(self, engine: Engine, *, single_statement: bool = False) -> None:
        self.engine = engine
        self.autocommit = single_statement and engine.dialect.name == "postgresql"
        self._connection: Connection | None = None
        self._pool: Pool | None = None  # the engine's pool when the connection was taken

    @property
    def held(self) -> bool:
        """A connection is held: the next transaction runs on one checked out earlier."""
        return self._connection is not None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction on the held connection (checked out now if none is), committed as
        the block ends, rolled back if it raises; with `single_statement` on PostgreSQL,
        the block's one statement, committed as it runs."""
        if self._connection is None:
            self._pool = self.engine.pool
            self._connection = self.engine.connect()
            if self.autocommit:  # until it goes back to the pool, which resets it
                self._connection.execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        try:
            with connection.begin():
                yield connection
        except BaseException as exc:
            if connection.invalidated or connection_lost(exc):
                self.close()  # the next transaction checks out another, pinged first
            raise

    def close(self) -> None:
        """Gives the connection back to the pool; closes it if the engine has been disposed
        since it was taken (its old pool is no one's: the connection would stay open)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            if self.engine.pool is not self._pool:
                connection.invalidate()
            connection.close()

    def __enter__(self) -> HeldConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
