"""Many rows in one statement: the hooks' group commit (bot/web/workers.py) and the
dispatcher's record of its sends (bot/delivery/confirmations.py).

`insert_new` is `INSERT … ON CONFLICT DO NOTHING RETURNING …` for a list of rows;
`insert_rows` and `update_rows` insert, or update by a key column, a list of rows. Each row's
values pass through their column's own bind processing (the table's types stay the one
place that says how a value is stored), and on PostgreSQL the statement is sent as the
driver's own:

- PostgreSQL: the rows as one JSON document, `json_to_recordset`. The text is the same
  whatever the number of rows, with one parameter, so psycopg parses it once (it caches a
  statement's parse only below 50 parameters and 4,096 characters: SQLAlchemy's VALUES list
  of a batch of 30 rows is neither, and its parse was a fifth of the hooks' CPU time), and
  the values are serialized by `json` in C, not dumped one by one (psycopg's arrays are
  dumped element by element in Python: a sixth of the hooks' CPU time for `unnest`; its
  pipelined executemany goes through Python for each row: recording the dispatcher's sends
  that way was a sixth of its CPU time). JSON columns go serialized, as strings in the
  document.
- SQLite: `insert_new` sends a VALUES list with positional parameters (sqlite3 keeps a
  prepared statement for each text it has seen); `insert_rows` and `update_rows` are
  SQLAlchemy's executemany (sqlite3 runs it in C).

SQLAlchemy's executemany of `insert_new`'s statement costs several times as much a row: its
rendering of the VALUES list and its parameter dictionaries were a third of the receiver's
time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    CursorResult,
    Row,
    String,
    Table,
    Update,
    bindparam,
    insert,
    update,
)
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None


def insert_new(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
) -> list[Row[Any]]:
    """Inserts `rows` (each with the same keys, the table's column names), skipping any
    that would break a unique constraint; the `returning` columns of those inserted."""
    if not rows:
        return []
    dialect = connection.dialect
    names = tuple(rows[0])
    if dialect.name == "postgresql":
        sql = _recordset(table, names, tuple(returning), dialect)
        return list(_send_document(connection, sql, table, names, rows))
    processors = _processors(table, names, dialect)
    values: list[Any] = []
    for row in rows:
        values += _processed(row, processors)
    sql = _values(table, names, tuple(returning), dialect, len(rows))
    return list(connection.exec_driver_sql(sql, tuple(values)))


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts `rows` (each with the same keys, the table's column names)."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    _send_document(connection, _recordset(table, names, (), dialect), table, names, rows)


def update_rows(
    connection: Connection, table: Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Updates the row whose `key` column has each row's `key` value to that row's other
    values (each row with the same keys, the table's column names)."""
    if not rows:
        return
    dialect = connection.dialect
    names = tuple(rows[0])
    if dialect.name != "postgresql":
        statement = _update(table, key, names)
        connection.execute(statement, [{_bound(n): v for n, v in row.items()} for row in rows])
        return
    _send_document(connection, _recordset_update(table, key, names, dialect), table, names, rows)


def _send_document(
    connection: Connection,
    sql: str,
    table: Table,
    names: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
) -> CursorResult[Any]:
    """Runs `sql` (PostgreSQL) on the rows as the one JSON document `json_to_recordset`
    reads, each value bind-processed."""
    processors = _processors(table, names, connection.dialect)
    if any(processors):
        rows = [dict(zip(names, _processed(row, processors), strict=True)) for row in rows]
    document = json.dumps(rows, default=_iso, separators=(",", ":"))
    return connection.exec_driver_sql(sql, (document,))


def _processed(row: Mapping[str, Any], processors: tuple[Processor, ...]) -> list[Any]:
    """The row's values, each through its column's bind processing."""
    return [
        value if process is None else process(value)
        for process, value in zip(processors, row.values(), strict=True)
    ]


def _bound(name: str) -> str:
    """A column's parameter in `_update` (SQLAlchemy keeps a column's own name for itself)."""
    return f"{name}_"


@functools.lru_cache(maxsize=64)
def _update(table: Table, key: str, names: tuple[str, ...]) -> Update:
    return (
        update(table)
        .where(table.c[key] == bindparam(_bound(key)))
        .values({name: bindparam(_bound(name)) for name in names if name != key})
    )


@functools.lru_cache(maxsize=64)
def _processors(table: Table, names: tuple[str, ...], dialect: Dialect) -> tuple[Processor, ...]:
    """Each column's bind processing; on PostgreSQL JSON goes serialized, as a string."""
    return tuple(
        _serialized
        if dialect.name == "postgresql" and _is_json(table.c[name])
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    )


def _serialized(value: object) -> str:
    """A JSON column's value as SQLAlchemy's JSON type serializes it (psycopg's default;
    None as JSON's null, as the type's default `none_as_null=False` has it)."""
    return json.dumps(value)


def _iso(value: object) -> str:
    """Dates and times in the JSON document as PostgreSQL reads them (ISO 8601)."""
    if isinstance(value, date):  # also datetime, with its UTC offset
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value bot/store/bulk.py can send")


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _head(table: Table, names: tuple[str, ...], dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    return f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({columns})"


def _tail(returning: tuple[str, ...], dialect: Dialect) -> str:
    """`insert_new`'s ending; none for `insert_rows` (no `returning`)."""
    if not returning:
        return ""
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in returning)
    return f" ON CONFLICT DO NOTHING RETURNING {columns}"


@functools.lru_cache(maxsize=64)
def _recordset(
    table: Table, names: tuple[str, ...], returning: tuple[str, ...], dialect: Dialect
) -> str:
    quote = dialect.identifier_preparer.quote
    values = ", ".join(
        f"{quote(name)}::json" if _is_json(table.c[name]) else quote(name) for name in names
    )
    return (
        f"{_head(table, names, dialect)} SELECT {values} FROM json_to_recordset(%s::json) "
        f"AS rows({_record(table, names, dialect)}){_tail(returning, dialect)}"
    )


@functools.lru_cache(maxsize=64)
def _recordset_update(table: Table, key: str, names: tuple[str, ...], dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    name = dialect.identifier_preparer.format_table(table)
    values = ", ".join(
        f"{quote(column)} = rows.{quote(column)}" + ("::json" if _is_json(table.c[column]) else "")
        for column in names
        if column != key
    )
    record = _record(table, names, dialect)
    return (
        f"UPDATE {name} SET {values} FROM json_to_recordset(%s::json) AS rows({record}) "
        f"WHERE {name}.{quote(key)} = rows.{quote(key)}"
    )


def _record(table: Table, names: tuple[str, ...], dialect: Dialect) -> str:
    """The columns `json_to_recordset` reads, with their types."""
    quote = dialect.identifier_preparer.quote
    return ", ".join(f"{quote(name)} {_record_type(table.c[name], dialect)}" for name in names)


def _record_type(column: Column[Any], dialect: Dialect) -> str:
    """The type a column is read from the JSON document as: strings as text (its length is
    checked by the insert, as any value's: an explicit cast would cut it), JSON as text too
    (then cast: read as json, a NUL escaped in it would be refused as the document is read)."""
    if isinstance(column.type, String) or _is_json(column):
        return "text"
    return column.type.compile(dialect=dialect)


@functools.lru_cache(maxsize=1024)
def _values(
    table: Table, names: tuple[str, ...], returning: tuple[str, ...], dialect: Dialect, count: int
) -> str:
    row = f"({', '.join('?' * len(names))})"
    rows = ", ".join([row] * count)
    return f"{_head(table, names, dialect)} VALUES {rows}{_tail(returning, dialect)}"
