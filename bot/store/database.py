"""Engines, sessions and migrations for the two backends: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import ConfigError, DubanError

MIGRATIONS = Path(__file__).resolve().parents[2] / "db"
RECONNECT_SECONDS = 60.0  # how long a unit of work waits for the database to come back
SERVER_GONE = frozenset({"57P01", "57P02", "57P03"})  # shut down, crashed, starting up

log = logging.getLogger("duban.database")
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs (WAL and a busy timeout on SQLite)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError("database.url", str(exc)) from None
    if not is_sqlite(url):
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _begin)
    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    event.listen(engine, "checkin", _released_at_checkin)  # a safety net: never leak it
    return engine


_WRITE_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    if mode != "IMMEDIATE":
        connection.exec_driver_sql(f"BEGIN {mode}")
        return
    # Writers of one process queue on a lock of their own: a thread waiting for SQLite's
    # lock sleeps in the busy handler's growing steps (up to 100 ms) and wakes late; one
    # waiting here wakes as soon as the writer before it commits. Other processes still
    # meet the busy timeout.
    with _LOCKS_LOCK:
        lock = _WRITE_LOCKS.setdefault(id(connection.engine.pool), threading.Lock())
    lock.acquire()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        lock.release()
        raise
    connection.info["duban_write_lock"] = lock


def _release(connection: Connection) -> None:
    lock = connection.info.pop("duban_write_lock", None)
    if lock is not None:
        lock.release()


def _released_at_checkin(_dbapi_connection: Any, record: Any) -> None:
    lock = record.info.pop("duban_write_lock", None)
    if lock is not None:
        lock.release()


def writer(engine: Engine) -> Engine:
    """The engine for flows that read then write (sweep, dispatch, import): on SQLite their
    transactions take the write lock at BEGIN, so two processes queue up (busy timeout)
    instead of one failing on a stale read snapshot. Readers keep deferred transactions."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # duban issues BEGIN itself (see _begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Temporary tables in memory: a statement's RETURNING rows (the hooks' group commit,
    # bot/store/bulk.py) otherwise go through a temporary file, created and removed each
    # time (one a batch: 6–7 KB written a request of the inbound bench, and five system calls).
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def insert_ignoring_duplicates(
    session: Session, model: type[Any], rows: list[dict[str, Any]], *, returning: str | None = None
) -> list[Any]:
    """INSERT … ON CONFLICT DO NOTHING; returns the `returning` column of the rows inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(model.__table__)
    statement = statement.on_conflict_do_nothing()
    if returning is None:
        session.execute(statement, rows)
        return []
    return list(session.scalars(statement.returning(model.__table__.c[returning]), rows))


BULK = 1000  # rows: a write this large refreshes the planner's statistics of its tables


def analyze_after_bulk(session: Session, rows: int, *models: type[Any]) -> None:
    """After writing `rows` rows (BULK or more) to the models' tables, PostgreSQL's planner
    statistics of those tables are refreshed in the same transaction. Until autovacuum gets
    to them (minutes) the planner has none, and a sweep's look for unscheduled assignments
    scanned every row (44 ms at 100,000 assignments, against under 5 ms with statistics).
    SQLite keeps no statistics unless asked and plans well without: nothing to do."""
    if rows < BULK or session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        session.execute(text(f'ANALYZE "{model.__tablename__}"'))


def pending_on(session: Session, model: type[Any]) -> bool:
    """Whether the session holds unflushed changes to `model`'s rows: a bulk UPDATE of that
    table needs them flushed first; one of another table does not (it may skip autoflush,
    so that a batch's other changes go to the database together at its commit)."""
    return any(isinstance(obj, model) for obj in (*session.new, *session.dirty, *session.deleted))


def connection_lost(exc: BaseException) -> bool:
    """Whether a database error is the connection's (the server restarting or gone, the
    connection cut) rather than the statement's: the same work may succeed once it is back."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, psycopg.OperationalError):
        state = exc.orig.sqlstate
        return state is None or state.startswith("08") or state in SERVER_GONE
    return False


def retry_while_unreachable(
    work: Callable[[], T], what: str, *, seconds: float = RECONNECT_SECONDS
) -> T:
    """Runs `work`, one whole transaction, again while the database cannot be reached (a
    restart, a failover), for up to `seconds`; pool_pre_ping then replaces the dead
    connections. The work must be safe to repeat: a commit whose answer was lost may have
    happened. Any other error is raised at once."""
    deadline = time.monotonic() + seconds
    delay = 0.1
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if not connection_lost(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("database unreachable while %s; trying again in %.1f s", what, delay)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Applies every pending migration."""
    _migrate(engine, command.upgrade, "head")


def downgrade(engine: Engine, revision: str) -> None:
    """Steps the schema back to `revision` (`-1`: one migration back)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def prepare(engine: Engine) -> None:
    """Makes the schema current: migrates SQLite itself, asks for `db upgrade` elsewhere."""
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise DubanError(f"无法连接数据库：{exc.orig}") from None
    if current == head_revision():
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise DubanError(
        f"数据库结构版本为 {current or '空'}，需要 {head_revision()}：请先运行 `duban db upgrade`"
    )
