"""Logs: text or JSON lines, and no configured secret ever appears in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from bot.app.config import (
    ChannelSettings,
    DatabaseSettings,
    InboundSettings,
    Settings,
    WebSettings,
)
from bot.app.logs import secrets_of, setup_logging
from tests.support.logs import root_logging_restored

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK_TOKEN = "d1n6t4lk0cc3sst0k3n"
DINGTALK_SECRET = "SECb7e1c0ffee"
APP_SECRET = "dd-app-secret-42"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WEB_TOKEN = "dashboard-token-99"
DB_PASSWORD = "pgpass-31337"


def configured() -> Settings:
    return Settings(
        database=DatabaseSettings(url=f"postgresql+psycopg://duban:{DB_PASSWORD}@db.local/duban"),
        channels={
            "console": ChannelSettings(platform="console"),
            "fgw": ChannelSettings(
                platform="wecom",
                webhook=f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}",
            ),
            "office": ChannelSettings(
                platform="dingtalk",
                webhook=f"https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}",
                secret=DINGTALK_SECRET,
            ),
        },
        inbound={
            "dd": InboundSettings(platform="dingtalk", app_secret=APP_SECRET),
            "wx": InboundSettings(
                platform="wecom", token="QDG6eK", encoding_aes_key=AES_KEY, corp_id="ww1"
            ),
        },
        web=WebSettings(token=WEB_TOKEN),
    )


SECRETS = (WECOM_KEY, DINGTALK_TOKEN, DINGTALK_SECRET, APP_SECRET, AES_KEY, WEB_TOKEN, DB_PASSWORD)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with root_logging_restored():
        yield io.StringIO()


def log_everything(settings: Settings) -> None:
    log = logging.getLogger("duban.test")
    for channel in settings.channels.values():
        log.warning("posting to %s failed", channel.webhook)
    log.info("inbound settings: %r", settings.inbound)
    log.error("secrets: %s %s %s", DINGTALK_SECRET, APP_SECRET, WEB_TOKEN)
    try:
        raise RuntimeError(f"connect to {settings.database.url} refused")
    except RuntimeError:
        log.exception("database down")


def test_every_configured_secret_is_known_to_the_redactor() -> None:
    assert set(SECRETS) <= set(secrets_of(configured()))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_configured_secret_appears_in_the_logs(captured: io.StringIO, fmt: str) -> None:
    settings = Settings.model_validate({**configured().model_dump(), "log": {"format": fmt}})
    setup_logging(settings, stream=captured)
    log_everything(settings)
    output = captured.getvalue()
    assert "posting to" in output
    assert "database down" in output
    assert "***" in output
    for secret in SECRETS:
        assert secret not in output, secret


def test_json_logs_are_one_object_per_line(captured: io.StringIO) -> None:
    settings = Settings.model_validate({**configured().model_dump(), "log": {"format": "json"}})
    setup_logging(settings, stream=captured)
    logging.getLogger("duban.test").warning("第%s项 发送失败", 12)
    (line,) = captured.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "duban.test"
    assert entry["message"] == "第12项 发送失败"
    assert entry["time"].endswith("+00:00")


AWKWARD = ('pa"ss\\word/+&=', "tok en%2f/ü?&")


def awkward(fmt: str) -> Settings:
    hooks = {
        "oa": InboundSettings(platform="generic", secret=AWKWARD[0]),
        "dd": InboundSettings(platform="dingtalk", app_secret=AWKWARD[1]),
    }
    fields = {**configured().model_dump(), "inbound": hooks, "log": {"format": fmt}}
    return Settings.model_validate(fields)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_with_quotes_backslashes_or_url_encoding_are_redacted(
    captured: io.StringIO, fmt: str
) -> None:
    setup_logging(awkward(fmt), stream=captured)
    log = logging.getLogger("duban.test")
    for secret in AWKWARD:
        log.warning("as is: %s", secret)
        log.warning("in a query: https://example.com/?k=%s", quote(secret, safe=""))
        log.warning("in a form: k=%s", quote_plus(secret).lower())
        log.warning("in a path: /hooks/%s/", quote(secret))
        log.warning("in a repr: %r", {"secret": secret})
    output = captured.getvalue()
    assert output.count("***") == 10, output
    for line in output.splitlines():
        message = json.loads(line)["message"] if fmt == "json" else line
        for secret in AWKWARD:
            for form in (secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]):
                assert form.lower() not in message.lower(), (form, message)
