"""Evidence sent in chat, through the running app: a Feishu image message posted to the
hook (sealed and signed), its file read from an emulator of Feishu's open API before the
batch's transaction, kept, and the answer sent through the app's reply API."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.sections import ReportSettings
from bot.replies.evidence import READ_AHEAD, RECEIVED
from bot.store.models import Evidence
from bot.web.context import WebContext
from tests.support.evidence import png
from tests.support.feishu_api import FeishuOpenApi
from tests.support.taps import FEISHU_APP, feishu_seal
from tests.support.web import FEISHU_KEY, NOW, FakeFeishuApi, feishu_event

SECRET = "feishu-app-secret"


@pytest.fixture
def feishu() -> Iterator[FeishuOpenApi]:
    with FeishuOpenApi(FEISHU_APP, SECRET) as api:
        yield api


@pytest.fixture
def settings(settings: Settings, feishu: FeishuOpenApi, tmp_path: Path) -> Settings:
    """The app's settings with the Feishu hook's open API on the emulator."""
    inbound = dict(settings.inbound)
    inbound["lark"] = inbound["lark"].model_copy(update={"api_base": feishu.base})
    report = ReportSettings(evidence_dir=tmp_path / "evidence")
    return settings.model_copy(update={"inbound": inbound, "report": report})


def image_event(message_id: str, key: str) -> dict[str, object]:
    event = feishu_event("ou_liaison2", "", f"ev-{message_id}", message_id)
    message = event["event"]["message"]  # type: ignore[index]
    message["message_type"] = "image"
    message["content"] = json.dumps({"image_key": key})
    return event


def post(client: httpx.Client, event: dict[str, object]) -> httpx.Response:
    body = json.dumps({"encrypt": feishu_seal(FEISHU_KEY, json.dumps(event))}).encode()
    timestamp, nonce = str(int(NOW.timestamp())), "n4x8"
    signature = hashlib.sha256((timestamp + nonce + FEISHU_KEY).encode() + body).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
    }
    return client.post("/hooks/feishu/lark", content=body, headers=headers)


def test_an_image_sent_to_the_app_is_kept_and_answered(
    client: httpx.Client,
    planned: sessionmaker[Session],
    feishu_api: FakeFeishuApi,
    feishu: FeishuOpenApi,
) -> None:
    feishu.add("om_7c1", "img_v3_7c1", "image", png())
    assert post(client, image_event("om_7c1", "img_v3_7c1")).status_code == 200
    assert feishu_api.arrived.wait(5)
    assert feishu_api.replies == [("om_7c1", RECEIVED.format(name="图片.png", task="1"))]
    with planned() as session:
        (row,) = session.scalars(select(Evidence))
        assert (row.name, row.channel, row.assignment.task.number) == ("图片.png", "lark", "1")


def test_more_images_than_are_read_ahead_are_all_kept_once(
    client: httpx.Client,
    ctx: WebContext,
    planned: sessionmaker[Session],
    feishu_api: FakeFeishuApi,
    feishu: FeishuOpenApi,
) -> None:
    count = READ_AHEAD * 2 + 1
    for n in range(count):
        feishu.add(f"om_8d{n}", f"img_v3_8d{n}", "image", png(2 + n))
        assert post(client, image_event(f"om_8d{n}", f"img_v3_8d{n}")).status_code == 200
    ctx.drain()
    assert sorted(feishu_api.replies) == sorted(
        (f"om_8d{n}", RECEIVED.format(name="图片.png", task="1")) for n in range(count)
    )
    with planned() as session:
        assert len(session.scalars(select(Evidence)).all()) == count


def test_a_slow_download_holds_up_no_acknowledgement(
    client: httpx.Client,
    ctx: WebContext,
    planned: sessionmaker[Session],
    feishu_api: FakeFeishuApi,
    feishu: FeishuOpenApi,
) -> None:
    feishu.delay = 1.5
    feishu.add("om_9e1", "img_v3_9e1", "image", png())
    assert post(client, image_event("om_9e1", "img_v3_9e1")).status_code == 200
    for _ in range(100):  # the processor has started reading the file
        if feishu.downloads():
            break
        time.sleep(0.01)
    assert feishu.downloads()
    started = time.monotonic()
    progress = feishu_event("ou_liaison2", "进展 #1 60% 已完成立项", "ev-9e2", "om_9e2")
    assert post(client, progress).status_code == 200
    assert time.monotonic() - started < 0.5  # acknowledged while the download still runs
    ctx.drain()
    assert ("om_9e1", RECEIVED.format(name="图片.png", task="1")) in feishu_api.replies
