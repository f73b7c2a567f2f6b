"""/healthz (the process is up), /readyz (the database answers and, under `duban run`,
the scheduler runs) and /metrics (Prometheus text format, bot/metrics.py)."""

from __future__ import annotations

from collections import Counter

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from bot.app.metrics import DISABLED_WEBHOOKS, MESSAGES, PAUSED_WEBHOOKS, REGISTRY
from bot.store.models import Message, RateBucket
from bot.web.context import WebContext

STATES = ("pending", "sending", "sent", "failed", "dead", "split")


def add_observability(app: FastAPI, ctx: WebContext) -> None:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        checks = await run_in_threadpool(_readiness, ctx)
        ready = all(value in ("ok", "running", "not run here") for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **checks},
            status_code=200 if ready else 503,
        )

    async def metrics(_request: Request) -> Response:
        await run_in_threadpool(_refresh, ctx)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/healthz", healthz, methods=["GET"])
    app.add_route("/readyz", readyz, methods=["GET"])
    app.add_route("/metrics", metrics, methods=["GET"])


def _readiness(ctx: WebContext) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with ctx.sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    scheduler = ctx.scheduler
    if scheduler is None:
        checks["scheduler"] = "not run here"  # `duban serve`: the hooks only
    else:
        checks["scheduler"] = "running" if scheduler.running else "stopped"
    return checks


def _refresh(ctx: WebContext) -> None:
    """The shared state, read from the database: the outbox by state and platform, and the
    webhooks resting or disabled."""
    settings = ctx.settings
    default = settings.delivery.default_channel

    def platform(channel: str | None) -> str:
        found = settings.channels.get(channel or default) or settings.channels.get(default)
        return found.platform if found is not None else "unknown"

    now = ctx.clock()
    with ctx.sessions() as session:
        rows = session.execute(
            select(Message.state, Message.channel, func.count()).group_by(
                Message.state, Message.channel
            )
        ).all()
        paused = session.scalar(
            select(func.count()).select_from(RateBucket).where(RateBucket.paused_until > now)
        )
        disabled = session.scalar(
            select(func.count())
            .select_from(RateBucket)
            .where(RateBucket.disabled_reason.is_not(None))
        )
    counts: Counter[tuple[str, str]] = Counter()
    for state, channel, count in rows:
        counts[(state, platform(channel))] += count
    platforms = {c.platform for c in settings.channels.values()} | {p for _, p in counts}
    for state in STATES:
        for name in platforms:
            MESSAGES.labels(state, name).set(counts.get((state, name), 0))
    PAUSED_WEBHOOKS.set(paused or 0)
    DISABLED_WEBHOOKS.set(disabled or 0)
