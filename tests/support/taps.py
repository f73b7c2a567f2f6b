"""The platforms' card-button callbacks, emulated from their documentation and signed with
their real algorithms — written here independently of bot/platforms, so that a mistake
there is not repeated here. Each sends real HTTP to the app on 127.0.0.1 (the `client`
fixture of tests/web).

- Feishu `card.action.trigger` (卡片回传交互, schema 2.0 event): the body
  `{"encrypt": base64(iv ‖ AES-256-CBC(key = SHA-256(encrypt_key), PKCS#7))}` and
  `X-Lark-Signature` = SHA-256 hex of timestamp + nonce + encrypt_key + body.
- WeCom `template_card_event` (模板卡片事件推送) through the app's callback: the XML event
  in `random16 ‖ big-endian length ‖ xml ‖ corp id`, PKCS#7-padded to 32 bytes, AES-256-CBC
  with key = base64(EncodingAESKey + "=") and IV = its first 16 bytes; `msg_signature` =
  SHA-1 hex of the sorted, joined token, timestamp, nonce and ciphertext.
- DingTalk interactive card callback (互动卡片 HTTP 回调, `actionCallback`): JSON, with the
  `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key = app secret, timestamp + "\n" +
  app secret)) headers of its robot callbacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import datetime

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

from tests.support.web import (
    DINGTALK_CORP,
    DINGTALK_SECRET,
    FEISHU_KEY,
    FEISHU_TOKEN,
    NONCE,
    WECOM_CORP,
    WECOM_KEY,
    WECOM_TOKEN,
)

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


def wecom_tap(sender: str, key: str, response_code: str, moment: datetime) -> str:
    """A tap on an app template card's button, as WeCom documents template_card_event."""
    return (
        f"<xml><ToUserName><![CDATA[{WECOM_CORP}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(moment.timestamp())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[duban-7-1]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode>"
        "<AgentID>1000002</AgentID></xml>"
    )


def wecom_key() -> bytes:
    return base64.b64decode(WECOM_KEY + "=")


def wecom_seal(xml: str) -> str:
    key, data = wecom_key(), xml.encode()
    plain = os.urandom(16) + len(data).to_bytes(4, "big") + data + WECOM_CORP.encode()
    padder = padding.PKCS7(256).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def wecom_open(encrypt: str) -> str:
    key = wecom_key()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    unpadder = padding.PKCS7(256).unpadder()
    plain = unpadder.update(padded) + unpadder.finalize()
    size = int.from_bytes(plain[16:20], "big")
    assert plain[20 + size :] == WECOM_CORP.encode()
    return plain[20 : 20 + size].decode()


def wecom_signature(timestamp: str, nonce: str, encrypt: str, token: str = WECOM_TOKEN) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def wecom_post_tap(
    client: httpx.Client, xml: str, moment: datetime, *, token: str = WECOM_TOKEN
) -> httpx.Response:
    """POSTs the tap to the app's WeCom hook, encrypted and signed (with `token`)."""
    encrypt, timestamp = wecom_seal(xml), str(int(moment.timestamp()))
    params = {
        "msg_signature": wecom_signature(timestamp, NONCE, encrypt, token),
        "timestamp": timestamp,
        "nonce": NONCE,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{WECOM_CORP}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    )
    return client.post("/hooks/wecom/qywx", params=params, content=body.encode())


def wecom_answer(response: httpx.Response, moment: datetime) -> dict[str, str]:
    """The fields of the app's encrypted passive answer, once its signature is checked."""
    outer = ElementTree.fromstring(response.content)
    encrypt = outer.findtext("Encrypt") or ""
    timestamp = str(int(moment.timestamp()))
    assert outer.findtext("MsgSignature") == wecom_signature(timestamp, NONCE, encrypt)
    inner = ElementTree.fromstring(wecom_open(encrypt))
    return {child.tag: (child.findtext("ReplaceName") or child.text or "") for child in inner}


def dingtalk_tap(
    user: str, params: Mapping[str, object], card: str = "duban-7-1", corp: str = DINGTALK_CORP
) -> dict[str, object]:
    """A tap on an interactive card's 回传请求 button, as DingTalk documents the callback."""
    private = {"cardPrivateData": {"actionIds": ["tap"], "params": dict(params)}}
    return {
        "type": "actionCallback",
        "outTrackId": card,
        "corpId": corp,
        "userId": user,
        "content": json.dumps(private, ensure_ascii=False),
    }


def dingtalk_sign(timestamp: str, secret: str = DINGTALK_SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def dingtalk_post_tap(
    client: httpx.Client,
    event: Mapping[str, object],
    moment: datetime,
    *,
    secret: str = DINGTALK_SECRET,
    timestamp: str | None = None,
) -> httpx.Response:
    """POSTs the tap to the app's DingTalk card callback, signed with `secret`."""
    stamp = timestamp or str(int(moment.timestamp() * 1000))
    headers = {
        "timestamp": stamp,
        "sign": dingtalk_sign(stamp, secret),
        "Content-Type": "application/json",
    }
    body = json.dumps(event, ensure_ascii=False).encode()
    return client.post("/hooks/dingtalk/ding/card", content=body, headers=headers)
