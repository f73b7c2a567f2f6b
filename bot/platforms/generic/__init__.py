"""The generic signed JSON webhook: outbound to any receiver (`robot`), inbound from any
system (`callback`), both signed with HMAC-SHA256."""

from __future__ import annotations

import httpx

from bot.platforms.generic.robot import MAX_BYTES, WebhookChannel
from bot.platforms.spec import ChannelSpec, Platform


def _build(spec: ChannelSpec, client: httpx.Client) -> WebhookChannel:
    return WebhookChannel(
        spec.name, spec.webhook, client, secret=spec.secret or "", timeout=spec.timeout
    )


PLATFORM = Platform(
    name="webhook",
    build=_build,
    budgets={"text": MAX_BYTES},
    needs=("webhook", "secret"),
    inbound="generic",
    inbound_needs=("secret",),
)
