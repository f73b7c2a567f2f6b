"""The delivery commands: `preview`, `send-test`, `outbox`, `outbox retry`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from bot.app.errors import DubanError
from bot.app.runtime import build_runtime
from bot.cli.support import JsonFlag, out, reports_errors, sessions_of, settings_of, show_listing
from bot.delivery.admin import STATES, list_messages, retry
from bot.delivery.preview import PLATFORM_MARKUP, preview
from bot.delivery.render import KINDS, render
from bot.platforms import DeliveryError, Outgoing
from bot.present.labels import MESSAGE_KINDS, MESSAGE_STATES

JSON_KEYS = ("id", "channel", "kind", "state", "attempts", "last_error")
outbox_app = typer.Typer(help="发件箱：查看与重发消息。", invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.command("preview")(preview_command)
    app.command("send-test")(send_test_command)
    app.add_typer(outbox_app, name="outbox")


@reports_errors
def preview_command(
    kind: Annotated[str, typer.Argument(help=f"消息类型：{'、'.join(KINDS)}。")],
    platform: Annotated[
        str, typer.Option("--platform", help="平台：text、markdown、wecom、dingtalk、feishu。")
    ] = "text",
) -> None:
    """用示例数据预览某类消息。"""
    if kind not in KINDS:
        raise DubanError(f"未知的消息类型「{kind}」，可选：{'、'.join(KINDS)}")
    if platform not in PLATFORM_MARKUP:
        raise DubanError(f"未知的平台「{platform}」，可选：{'、'.join(PLATFORM_MARKUP)}")
    out.print(preview(kind, platform), markup=False)


@reports_errors
def send_test_command(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(help="渠道名称：config.toml 中 channels 下的名称，如 console。")
    ],
) -> None:
    """向某个渠道发送一条测试消息，并显示平台的应答。"""
    settings = settings_of(ctx)
    if channel not in settings.channels:
        raise DubanError(f"没有名为「{channel}」的渠道，已配置：{'、'.join(settings.channels)}")
    markup = settings.channels[channel].markup
    text = render("test", markup, channel=channel)
    with httpx.Client() as http:  # closed when done: no connection left open behind
        runtime = build_runtime(settings, sessions_of(ctx), http)
        try:
            receipt = runtime.channels[channel].send(Outgoing(0, channel, "test", text))
        except DeliveryError as exc:
            what = "永久错误，请检查配置" if exc.permanent else "暂时错误，可稍后重试"
            raise DubanError(f"发送失败（{what}）：{exc}") from None
    out.print(f"发送成功。平台应答：{receipt.detail}", markup=False)


@outbox_app.callback()
@reports_errors
def outbox_command(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="按状态筛选："
            + "、".join(f"{s} {MESSAGE_STATES.get(s, s)}" for s in STATES)
            + "。",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多显示条数。")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """列出发件箱中的消息（最新在前）。"""
    show_listing(
        ctx,
        lambda session: list_messages(session, state, limit),
        as_json=as_json,
        json_of=lambda rows: [{k: r[k] for k in JSON_KEYS} for r in rows],
        show=_show_messages,
    )


def _show_messages(rows: list[dict[str, Any]]) -> None:
    table = Table("编号", "渠道", "接收方", "类型", "状态", "次数", "最近错误")
    for r in rows:
        shown = {
            **r,
            "state": MESSAGE_STATES.get(r["state"], r["state"]),
            "kind": MESSAGE_KINDS.get(r["kind"], r["kind"]),
        }
        keys = ("id", "channel", "recipient", "kind", "state", "attempts", "last_error")
        table.add_row(*(str(shown[k] or "") for k in keys))
    out.print(table)


@outbox_app.command("retry")
@reports_errors
def outbox_retry_command(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(help="消息编号。")],
) -> None:
    """把一条失败（dead）的消息重新放回待发送队列，并重新启用其渠道。"""
    with sessions_of(ctx, write=True).begin() as session:
        reopened = retry(session, message_id, datetime.now(UTC))
    note = "，并已重新启用该渠道" if reopened else ""
    out.print(f"消息 {message_id} 已重新排队{note}。")
