"""What every CLI command module shares: consoles, error reporting, settings, sessions."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import Progress
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.errors import DubanError
from bot.intake.directory import Directory, load_directory
from bot.store import database

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON。")]
PlanId = Annotated[int | None, typer.Option("--plan", help="计划编号（默认最新）。")]
WIDE = 200  # columns when the output is a file or a pipe: tables are not cut at 80


class _Console(Console):
    """A terminal's own width; a file or a pipe gets WIDE columns, so nothing is cut."""

    @property
    def size(self) -> ConsoleDimensions:
        found = Console.size.fget(self)  # type: ignore[attr-defined]
        assert isinstance(found, ConsoleDimensions)
        return found if self.is_terminal else ConsoleDimensions(WIDE, found.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


out = _Console(highlight=False, soft_wrap=True)
err = _Console(stderr=True, highlight=False, soft_wrap=True)


def warn(*warnings: str) -> None:
    """Each warning on stderr, one line each: it does not stop the command."""
    for warning in warnings:
        err.print(f"警告：{warning}", markup=False)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Operator mistakes end with one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DubanError as exc:
            err.print(f"错误：{exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal (stdout), cleared when done; None for a file, a pipe or a
    log, which get nothing."""
    if not out.is_terminal:
        yield None
        return
    with Progress(console=out, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def settings_of(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


def engine_of(ctx: typer.Context) -> Engine:
    """The configured database, migrated if it is SQLite; closed when the command ends."""
    engine = database.make_engine(settings_of(ctx).database.url)
    ctx.call_on_close(engine.dispose)
    database.prepare(engine)
    return engine


def sessions_of(ctx: typer.Context, *, write: bool = False) -> sessionmaker[Session]:
    engine = engine_of(ctx)
    return database.session_factory(database.writer(engine) if write else engine)


def directory_of(settings: Settings) -> Directory:
    return load_directory(settings.directory.path)


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def show_listing(
    ctx: typer.Context,
    read: Callable[[Session], T],
    *,
    as_json: bool,
    json_of: Callable[[T], Any],
    show: Callable[[T], None],
) -> None:
    """A command group's own listing (`duban plans`, `duban units`, `duban outbox`): nothing
    when one of its subcommands runs; else what `read` finds in one session, as JSON or shown."""
    if ctx.invoked_subcommand is not None:
        return
    with sessions_of(ctx)() as session:
        found = read(session)
    if as_json:
        print_json(json_of(found))
    else:
        show(found)
