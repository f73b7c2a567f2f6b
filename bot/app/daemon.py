"""`duban run`: APScheduler as the clock only.

A handful of fixed jobs — sweep every minute, dispatch every few seconds, rankings, digests
and accountability rules every few minutes (each produced once per period) — with coalescing
and a misfire grace time. Every due point and reminder state lives in the database, so the
jobs are rebuilt at start and an in-memory job store is enough; a restart continues where
the last process stopped, without re-sending or losing anything.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app.runtime import Runtime
from bot.web.context import WebContext
from bot.web.serve import start_server, stop_server

log = logging.getLogger("duban.daemon")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_scheduler(
    runtime: Runtime, dispatch_seconds: int, clock: Clock = utc_now
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    jobs: list[tuple[str, Callable[[datetime], object], timedelta]] = [
        ("sweep", runtime.sweep, timedelta(minutes=1)),
        ("dispatch", runtime.dispatch, timedelta(seconds=dispatch_seconds)),
    ]
    if runtime.ranking is not None:
        jobs.append(("ranking", runtime.publish_rankings, timedelta(minutes=5)))
    if runtime.digest is not None:
        jobs.append(("digest", runtime.send_digests, timedelta(minutes=5)))
    if runtime.ranking is not None:
        jobs.append(("accountability", runtime.raise_accountability, timedelta(minutes=15)))
    for name, job, every in jobs:
        scheduler.add_job(
            _guarded(name, functools.partial(_at_now, job, clock)),
            IntervalTrigger(seconds=every.total_seconds()),
            id=name,
            name=name,
            next_run_time=clock(),
        )
    return scheduler


def _at_now(job: Callable[[datetime], object], clock: Clock) -> object:
    return job(clock())


def _guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
    """A job that fails logs and waits for its next run; the daemon keeps going."""

    def run() -> None:
        try:
            result = job()
            log.debug("%s: %s", name, result)
        except Exception:
            log.exception("%s job failed; it runs again at its next interval", name)

    return run


def run_daemon(
    runtime: Runtime,
    dispatch_seconds: int,
    stop: threading.Event | None = None,
    *,
    server: uvicorn.Server | None = None,
    web: WebContext | None = None,
    on_hangup: Callable[[], object] | None = None,
) -> None:
    """Runs until SIGINT/SIGTERM (or `stop` is set), then lets running jobs finish. With a
    `server`, the web app is served beside the scheduler; SIGHUP calls `on_hangup` (the unit
    directory read again) from the main loop, never from the signal handler."""
    scheduler = build_scheduler(runtime, dispatch_seconds)
    if web is not None:
        web.scheduler = scheduler  # /readyz reports it
    stop = _stop_on_signals(stop or threading.Event())
    hangup = _flag_on_hangup(threading.Event())
    scheduler.start()
    serving = start_server(server) if server is not None else None
    log.info("duban is running (sweep every minute, dispatch every %ss)", dispatch_seconds)
    try:
        while not stop.wait(1.0):
            if serving is not None and not serving.is_alive():
                log.error("the web server stopped; stopping")
                break
            if hangup.is_set():
                hangup.clear()
                _reload(on_hangup)
    finally:
        if server is not None and serving is not None:
            stop_server(server, serving)
        scheduler.shutdown(wait=True)
        log.info("duban stopped")


def run_web(server: uvicorn.Server) -> None:
    """`duban serve`: the web app alone, until SIGINT/SIGTERM (exit 0) or until the server
    stops by itself."""
    stop = _stop_on_signals(threading.Event())
    serving = start_server(server)
    while not stop.wait(0.5) and serving.is_alive():
        pass
    stop_server(server, serving)


def _reload(on_hangup: Callable[[], object] | None) -> None:
    log.info("received SIGHUP, reading the unit directory again")
    try:
        if on_hangup is not None:
            on_hangup()
    except Exception:
        log.exception("SIGHUP: reloading failed; running on as before")


def _flag_on_hangup(flag: threading.Event) -> threading.Event:
    """SIGHUP sets `flag` (from the main thread only, where signals arrive)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda _signum, _frame: flag.set())
    return flag


def _stop_on_signals(stop: threading.Event) -> threading.Event:
    """SIGINT and SIGTERM set `stop` (from the main thread only, where signals arrive)."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    return stop
