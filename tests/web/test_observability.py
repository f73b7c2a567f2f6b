"""/healthz, /readyz and /metrics: what an operator's monitoring reads."""

from __future__ import annotations

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.compose import message_rows
from bot.store.models import RateBucket
from bot.web.context import WebContext
from tests.support.web import NOW, generic_post


def samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_healthz_says_the_process_is_up(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers_and_no_scheduler_is_expected(
    client: httpx.Client,
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "scheduler": "not run here"}


def test_readyz_is_not_ready_while_the_daemons_scheduler_is_stopped(
    client: httpx.Client, ctx: WebContext
) -> None:
    scheduler = BackgroundScheduler()
    ctx.scheduler = scheduler
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").json()["scheduler"] == "stopped"
    scheduler.start()
    try:
        assert client.get("/readyz").json() == {
            "status": "ready",
            "database": "ok",
            "scheduler": "running",
        }
    finally:
        scheduler.shutdown(wait=False)


def test_metrics_count_inbound_requests_by_outcome(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    key = ("duban_inbound_requests_total", (("outcome", "accepted"), ("platform", "generic")))
    refused = (
        "duban_inbound_requests_total",
        (("outcome", "rejected_401"), ("platform", "generic")),
    )
    before = samples(client)
    assert generic_post(client, "13800000002", "进展 #1 60%", "m-metrics-1", NOW).status_code == 200
    bad = client.post("/hooks/generic/oa", content=b"{}", headers={"X-Duban-Timestamp": "1"})
    assert bad.status_code == 401
    after = samples(client)
    assert after[key] - before.get(key, 0.0) == 1
    assert after[refused] - before.get(refused, 0.0) == 1


def test_metrics_show_the_outbox_by_state_and_platform_and_the_resting_webhooks(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        for state in ("pending", "pending", "dead"):
            unit = ("unit", None, "市发改委")
            [message] = message_rows(unit, None, "urge", ["【催办通知】"], NOW)
            message.state = state
            session.add(message)
        session.add(
            RateBucket(
                key="channel:x", sent=[], updated_at=NOW, paused_until=NOW.replace(year=2099)
            )
        )
    figures = samples(client)
    assert figures[("duban_messages", (("platform", "console"), ("state", "pending")))] == 2
    assert figures[("duban_messages", (("platform", "console"), ("state", "dead")))] == 1
    assert figures[("duban_messages", (("platform", "console"), ("state", "sent")))] == 0
    assert figures[("duban_webhooks_paused", ())] == 1
    assert figures[("duban_webhooks_disabled", ())] == 0


@pytest.mark.slow  # 3,000 requests: seconds
def test_requests_to_made_up_hooks_leave_the_metrics_small(client: httpx.Client) -> None:
    before = len(client.get("/metrics").content)
    for n in range(3000):
        path = f"/hooks/x{n:04d}{'y' * 40}/name" if n % 2 else f"/hooks/{n}"
        assert client.post(path, content=b"{}").status_code == 404
    after = client.get("/metrics")
    assert len(after.content) < before + 2_000
    found = samples(client)
    labels = {dict(key[1]).get("platform") for key in found if key[0].startswith("duban_inbound")}
    assert labels <= {"wecom", "dingtalk", "feishu", "generic", "unknown", "web"}
    assert (
        found[
            ("duban_inbound_requests_total", (("outcome", "rejected_404"), ("platform", "unknown")))
        ]
        >= 3000
    )
