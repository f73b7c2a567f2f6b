"""The platforms' card-button callbacks, emulated from their documentation and signed with
their real algorithms — written here independently of bot/platforms, so that a mistake
there is not repeated here. Each sends real HTTP to the app on 127.0.0.1 (the `client`
fixture of tests/web).

- Feishu `card.action.trigger` (卡片回传交互, schema 2.0 event): the body
  `{"encrypt": base64(iv ‖ AES-256-CBC(key = SHA-256(encrypt_key), PKCS#7))}` and
  `X-Lark-Signature` = SHA-256 hex of timestamp + nonce + encrypt_key + body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.support.web import FEISHU_KEY, FEISHU_TOKEN

FEISHU_APP = "cli_9f5343c580712013"
CARD_MESSAGE = "om_dc13264520392913993dd051dba21dcf"
CARD_CHAT = "oc_5ce6d572455d361153b7cb51da133945"


def feishu_tap(
    operator: str,
    value: Mapping[str, object],
    event_id: str,
    moment: datetime,
    *,
    token: str = FEISHU_TOKEN,
) -> dict[str, object]:
    """A tap on a callback button, as Feishu documents card.action.trigger."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "token": token,
            "create_time": str(int(moment.timestamp() * 1_000_000)),  # microseconds
            "event_type": "card.action.trigger",
            "tenant_key": "2ca1d211f64f6438",
            "app_id": FEISHU_APP,
        },
        "event": {
            "operator": {"tenant_key": "2ca1d211f64f6438", "open_id": operator},
            "token": "c-295ee57216a5dc9de90fefd0aadb4b1d7d337bc7",  # for a delayed update
            "action": {"value": dict(value), "tag": "button"},
            "host": "im_message",
            "context": {"open_message_id": CARD_MESSAGE, "open_chat_id": CARD_CHAT},
        },
    }


def feishu_seal(encrypt_key: str, plaintext: str) -> str:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def feishu_post_tap(
    client: httpx.Client,
    event: dict[str, object],
    moment: datetime,
    *,
    key: str = FEISHU_KEY,
    signing_key: str | None = None,
    hook: str = "lark",
) -> httpx.Response:
    """POSTs the tap to the app's Feishu hook, encrypted and signed (with `signing_key`, a
    wrong key, when given)."""
    body = json.dumps({"encrypt": feishu_seal(key, json.dumps(event))}).encode()
    timestamp, nonce = str(int(moment.timestamp())), "f3k9q2"
    signed = (timestamp + nonce + (signing_key or key)).encode() + body
    headers = {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": hashlib.sha256(signed).hexdigest(),
    }
    return client.post(f"/hooks/feishu/{hook}", content=body, headers=headers)
