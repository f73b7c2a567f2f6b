"""The sections of the settings file, one class each ([database], [channels.NAME], …).

bot/app/config.py puts them together and loads the file; each class documents its keys,
and config.example.toml shows every one of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.platforms.dingtalk.callback import SESSION_WEBHOOK_ORIGINS
from bot.platforms.http import url_origin
from bot.platforms.registry import INBOUND, PLATFORMS

NAME = re.compile(r"[A-Za-z0-9_-]{1,30}")


def _one_of(known: Mapping[str, object]) -> AfterValidator:
    """A name `known` holds (a platform of the registry); else the names it may be."""

    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"应为以下之一：{'、'.join(known)}")
        return value

    return AfterValidator(check)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///duban.db"
    """SQLAlchemy URL: sqlite:///PATH (embedded default) or postgresql+psycopg://…"""

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("应为 sqlite:///路径 或 postgresql+psycopg://用户@主机/库名")
        return value


class DirectorySettings(_Section):
    path: Path | None = Path("examples/zhoushan-units.toml")


class PlanSettings(_Section):
    timezone: str = "Asia/Shanghai"
    sample: Path = Path("examples/zhoushan-2020-key-tasks.txt")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "America" is a folder
            raise ValueError(f"未知的时区「{value}」，如 Asia/Shanghai") from exc
        return value


class SchedulesSettings(_Section):
    rules: Path = Path("schedules/default.toml")
    calendar: Path = Path("schedules/calendar.toml")
    ranking: Path = Path("schedules/ranking.toml")


# What an app channel may need beyond a webhook and a secret, as a missing one is named.
APP_FIELDS = {
    "app_id": "app_id（应用 ID）",
    "chat_id": "chat_id（群 ID）",
    "corp_id": "corp_id（企业 ID）",
    "agent_id": "agent_id（应用 AgentId）",
    "robot_code": "robot_code（机器人 RobotCode）",
    "card_template_id": "card_template_id（互动卡片模板 ID）",
}


class ChannelSettings(_Section):
    """One chat channel. Secrets can come from the environment, for example
    DUBAN_CHANNELS__FGW__SECRET or DUBAN_CHANNELS__FGW__WEBHOOK."""

    # A name of bot/platforms/registry.py: console, jsonl, wecom, dingtalk …
    platform: Annotated[str, _one_of(PLATFORMS)]
    # Kept out of repr so that a logged setting never shows a key or a secret.
    webhook: str | None = Field(default=None, repr=False)
    secret: str | None = Field(default=None, repr=False)
    msgtype: Literal["text", "markdown"] | None = None
    path: Path | None = None
    timeout: float = 10.0
    # Reminders with report links as the platform's link card (WeCom template_card,
    # DingTalk actionCard, Feishu interactive card); off: text or markdown as before.
    cards: bool = False
    # A Feishu app channel (platform "feishu_app"): the app's id (its secret in `secret`,
    # the API's base in `webhook`) and the chat it posts to.
    app_id: str | None = None
    chat_id: str | None = None
    # A WeCom app channel (platform "wecom_app"): the corp id and the app's AgentId (its
    # Secret in `secret`, the API's base in `webhook`).
    corp_id: str | None = None
    agent_id: int | None = None
    # A DingTalk app robot channel (platform "dingtalk_app"): the AppKey in `app_id`, the
    # AppSecret in `secret`, the group's openConversationId in `chat_id`, the API's base in
    # `webhook`; the robot's code, the interactive card template, and the route key the card
    # callback (/hooks/dingtalk/NAME/card) was registered with.
    robot_code: str | None = None
    card_template_id: str | None = None
    callback_route_key: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ChannelSettings:
        found = PLATFORMS[self.platform]
        if "path" in found.needs and self.path is None:
            raise ValueError(f"{self.platform} 渠道需要 path（文件路径）")
        if "webhook" in found.needs and not self.webhook:
            raise ValueError(f"{self.platform} 渠道需要 webhook 地址")
        if "secret" in found.needs and not self.secret:
            raise ValueError(f"{self.platform} 渠道需要 secret（接收方校验签名）")
        for key, words in APP_FIELDS.items():
            if key in found.needs and not getattr(self, key):
                raise ValueError(f"{self.platform} 渠道需要 {words}")
        if self.webhook and not self.webhook.startswith(("https://", "http://")):
            raise ValueError("webhook 应为 http:// 或 https:// 地址")
        if self.msgtype is not None and self.msgtype not in found.markups:
            raise ValueError(f"{self.platform} 渠道的 msgtype 应为 {' 或 '.join(found.markups)}")
        if self.cards and not found.card_links:
            raise ValueError(f"{self.platform} 渠道不支持卡片，请删去 cards")
        if self.cards and found.card_markup not in (None, self.markup):
            raise ValueError(f"{self.platform} 渠道发送卡片需要 msgtype = {found.card_markup}")
        return self

    @property
    def markup(self) -> str:
        return self.msgtype or PLATFORMS[self.platform].default_markup


class DeliverySettings(_Section):
    default_channel: str = "console"
    office_channel: str = "console"
    dispatch_seconds: int = 10
    workers: int = 32

    @field_validator("dispatch_seconds", "workers")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("应不小于 1")
        return value


class InboundSettings(_Section):
    """One chat platform's callback, served at /hooks/PLATFORM/NAME. Secrets can come from
    the environment, for example DUBAN_INBOUND__WECOM__ENCODING_AES_KEY."""

    # wecom, dingtalk, feishu or generic (bot/platforms/registry.py)
    platform: Annotated[str, _one_of(INBOUND)]
    # WeCom self-built app: the callback's Token and EncodingAESKey, and the corp id.
    token: str | None = Field(default=None, repr=False)
    encoding_aes_key: str | None = Field(default=None, repr=False)
    corp_id: str | None = None  # DingTalk too: when set, a callback's chatbotCorpId must match
    # DingTalk app robot: the app's AppSecret (it signs callbacks). Feishu: with app_id,
    # the credentials that send replies through the Feishu API.
    app_id: str | None = None
    app_secret: str | None = Field(default=None, repr=False)
    # DingTalk: when set, a callback's robotCode must match; the origins (scheme://host[:port])
    # a sessionWebhook may point to — replies go nowhere else.
    robot_code: str | None = None
    session_webhook_origins: tuple[str, ...] = SESSION_WEBHOOK_ORIGINS
    # Feishu event subscription: Encrypt Key and Verification Token. Without an encrypt key
    # events come unsigned: refused unless allow_unsigned is true.
    encrypt_key: str | None = Field(default=None, repr=False)
    verification_token: str | None = Field(default=None, repr=False)
    allow_unsigned: bool = False
    api_base: str = "https://open.feishu.cn"
    # Generic JSON hook: the HMAC-SHA256 key of X-Duban-Signature.
    secret: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _complete(self) -> InboundSettings:
        needs = INBOUND[self.platform].inbound_needs
        missing = [key for key in needs if not getattr(self, key)]
        if missing:
            raise ValueError(f"{self.platform} 回调需要 {'、'.join(missing)}")
        if self.platform == "wecom" and len(self.encoding_aes_key or "") != 43:
            raise ValueError("encoding_aes_key 应为企业微信后台显示的 43 个字符")
        if not self.api_base.startswith(("https://", "http://")):
            raise ValueError("api_base 应为 http:// 或 https:// 地址")
        if self.platform == "feishu" and not self.encrypt_key and not self.allow_unsigned:
            raise ValueError(
                "未设 encrypt_key 的飞书回调收到的事件没有签名：请设置 encrypt_key，"
                "或写明 allow_unsigned = true 接受无签名事件"
            )
        return self

    @field_validator("session_webhook_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != url_origin(origin):
                raise ValueError(f"{origin!r} 不是形如 https://oapi.dingtalk.com 的来源地址")
        return value


class WebSettings(_Section):
    """The web app (inbound hooks, health) that `duban run` and `duban serve` serve."""

    enabled: bool = True  # `duban run` serves it beside the scheduler
    host: str = "127.0.0.1"
    port: int = 8000
    max_body: int = 65536  # bytes; a larger request gets 413
    # Slow clients (bot/web/timeouts.py): a request's headers must arrive within
    # header_seconds, its body within body_seconds after them, else the connection is
    # closed; an idle keep-alive connection is closed after keep_alive_seconds. Beyond
    # max_connections open connections, new requests get 503 (keep it under the process's
    # descriptor limit, LimitNOFILE in docs/deploy/duban.service).
    header_seconds: float = Field(default=10.0, gt=0)
    body_seconds: float = Field(default=30.0, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=1000, ge=1)
    # When set, the dashboard asks for it (?token=… once, then a cookie, or a Bearer
    # header); the hooks keep their platforms' own checks and /healthz stays open.
    token: str = Field(default="", repr=False)
    # The dashboard's address as readers reach it (behind the proxy), linked from the
    # escalations and digests; "" links nothing.
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(
                "must be the dashboard's http(s) address, e.g. https://duban.example.gov.cn"
            )
        return value.rstrip("/")

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("应为 TCP 端口（0–65535）")
        return value


class ReportSettings(_Section):
    """The report pages (/r/…) linked from reminders, the review links of the supervisors
    and the office, and the evidence files units attach (佐证材料)."""

    # The key that signs every link (HMAC-SHA256); "" turns the links and pages off. Keep it
    # secret and stable: changing it voids every link already sent.
    secret: str = Field(default="", repr=False)
    link_days: int = Field(default=30, ge=1, le=366)  # a link works this many days
    # Where evidence is kept: this folder (files named by their SHA-256), or an
    # S3-compatible bucket when s3_bucket is set.
    evidence_dir: Path = Path("evidence")
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_files: int = Field(default=10, ge=1, le=50)  # files in one submission
    # Types accepted, as read from a file's first bytes (its name is not trusted).
    allowed_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
    )
    s3_endpoint: str = ""  # e.g. https://oss-cn-hangzhou.aliyuncs.com; "" is AWS itself
    s3_bucket: str = ""
    s3_region: str = ""
    s3_access_key: str = Field(default="", repr=False)
    s3_secret_key: str = Field(default="", repr=False)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("签名密钥至少 16 个字符（可用 `openssl rand -hex 32` 生成）")
        return value

    @property
    def key(self) -> bytes:
        return self.secret.encode()


class LogSettings(_Section):
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class DigestSettings(_Section):
    """The supervisors' and the office's digest of escalated items and open blockers."""

    enabled: bool = True
    time: str = "08:30"  # local time on working days

    @field_validator("time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError("应为时刻，如 08:30")
        if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
            raise ValueError("应为时刻，如 08:30")
        return value


class RepliesSettings(_Section):
    ack_followup_days: int = 3
    """Working days after 「收到」 without progress before the unit is asked again."""
