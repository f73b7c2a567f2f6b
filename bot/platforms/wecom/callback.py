"""WeCom (企业微信) self-built app callback: signature, AES envelope, XML (PROTOCOLS.md §2).

Key = base64(EncodingAESKey + "="), AES-256-CBC with IV = key[:16] and PKCS#7 padding to
a 32-byte block. The plaintext is `random16 ‖ big-endian length ‖ message ‖ receiveid`;
the signature is sha1 over the sorted join of token, timestamp, nonce and ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import ssl
from collections.abc import Mapping
from datetime import datetime, timedelta
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

from bot.app.errors import Rejected
from bot.platforms.buttons import Tap, tap_of_key
from bot.platforms.inbound import (
    InboundMessage,
    check_fresh,
    epoch_number,
    from_epoch,
    hashed,
    same,
)

PLATFORM = "wecom"
TAP_EVENT = "template_card_event"  # a tap on an app template card's button
BLOCK_BITS = 256  # WeCom pads to 32 bytes, not to the AES block
WINDOW = timedelta(hours=1)
SECOND = timedelta(seconds=1)
MAX_DEPTH = 8  # nesting kept in `raw`; deeper elements keep only their text
# Characters XML 1.0 cannot carry at all, even in CDATA.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class WecomCrypto:
    """One app's callback settings: the token, the EncodingAESKey and the corp id."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ValueError("the WeCom EncodingAESKey must be 43 base64 characters")
        self._token, self._key, self._receive_id = token, key, receive_id.encode()

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """sha1 hex of the sorted, joined token, timestamp, nonce and ciphertext."""
        joined = "".join(sorted([self._token, timestamp, nonce, encrypt]))
        return hashed(hashlib.sha1(), joined.encode()).hexdigest()

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """`Rejected(401)` unless `msg_signature` signs the other three."""
        if not same(self.signature(timestamp, nonce, encrypt), msg_signature):
            raise Rejected(401, "bad signature")

    def decrypt(self, encrypt: str) -> str:
        """The message inside `encrypt`; a foreign receiveid is `Rejected(403)`."""
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(400, "ciphertext is not base64") from None
        if not data or len(data) % 16:
            raise Rejected(400, "ciphertext is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
        try:
            plain = unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise Rejected(400, "bad padding") from None
        if len(plain) < 20:
            raise Rejected(400, "plaintext too short")
        end = 20 + int.from_bytes(plain[16:20], "big")
        if end > len(plain):
            raise Rejected(400, "bad message length")
        if not hmac.compare_digest(plain[end:], self._receive_id):
            raise Rejected(403, "wrong receiveid")
        try:
            return plain[20:end].decode()
        except UnicodeDecodeError:
            raise Rejected(400, "message is not UTF-8") from None

    def encrypt(self, plaintext: str, random16: bytes | None = None) -> str:
        """The base64 envelope of `plaintext`, as WeCom sends it and expects replies."""
        # OpenSSL's generator, not os.urandom: that lets go of the interpreter lock for its
        # system call, and the web thread, answering inside the response, then waits to
        # get it back behind the hooks' other threads.
        prefix = ssl.RAND_bytes(16) if random16 is None else random16
        if len(prefix) != 16:
            raise ValueError("random16 must be 16 bytes")
        message = plaintext.encode()
        padder = padding.PKCS7(BLOCK_BITS).padder()
        body = prefix + len(message).to_bytes(4, "big") + message + self._receive_id
        padded = padder.update(body) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL check: the decrypted echostr, to answer as bare text/plain."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def parse_callback(
        self,
        msg_signature: str,
        timestamp: str,
        nonce: str,
        body: bytes,
        *,
        now: datetime | None = None,
        window: timedelta = WINDOW,
    ) -> InboundMessage:
        """The message in a POSTed callback; with `now`, a stale timestamp is `Rejected(403)`."""
        encrypt = _xml(body).findtext("Encrypt")
        if not encrypt:
            raise Rejected(400, "Encrypt is missing")
        self.verify(msg_signature, timestamp, nonce, encrypt)
        if now is not None:
            seconds = _seconds(timestamp)
            check_fresh(seconds, SECOND, now, window)
        fields = _flatten(_xml(self.decrypt(encrypt).encode()))
        sender = _leaf(fields, "FromUserName")
        if not sender:
            raise Rejected(400, "FromUserName is missing")
        created = _leaf(fields, "CreateTime")
        text = _leaf(fields, "Content").strip() if _leaf(fields, "MsgType") == "text" else ""
        event_id = _leaf(fields, "MsgId") or f"{sender}:{created}"
        tap = tap_in(fields)
        if tap is not None:
            # The tap's ResponseCode is good once: kept as its id, a replay is a repeat.
            text, event_id = tap.text, f"{TAP_EVENT}:{_leaf(fields, 'ResponseCode')}"
        return InboundMessage(
            platform=PLATFORM,
            event_id=event_id,
            sender=sender,
            text=text,
            sent_at=from_epoch(created, "CreateTime", unit=SECOND),
            conversation=None,
            reply_to=None,
            reply_expires=None,
            raw=fields,
        )

    def passive_reply(
        self,
        to_user: str,
        from_user: str,
        text: str,
        timestamp: str,
        nonce: str,
        random16: bytes | None = None,
    ) -> str:
        """The encrypted XML answer carrying a text reply to `to_user` (the sender)."""
        content = f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(text)}</Content>"
        return self._passive(to_user, from_user, content, timestamp, nonce, random16)

    def passive_button(
        self,
        to_user: str,
        from_user: str,
        words: str,
        timestamp: str,
        nonce: str,
        random16: bytes | None = None,
    ) -> str:
        """The encrypted XML answer to a tap on a template card's button (update_button):
        the tapped button, for the tapper, now reads `words` and cannot be tapped again."""
        content = (
            "<MsgType><![CDATA[update_button]]></MsgType>"
            f"<Button><ReplaceName>{_cdata(words)}</ReplaceName></Button>"
        )
        return self._passive(to_user, from_user, content, timestamp, nonce, random16)

    def _passive(
        self,
        to_user: str,
        from_user: str,
        content: str,
        timestamp: str,
        nonce: str,
        random16: bytes | None,
    ) -> str:
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise ValueError("timestamp must be epoch seconds")
        if not (nonce.isascii() and nonce.isprintable()):
            raise ValueError("nonce must be printable ASCII, as WeCom sends it")
        plain = (
            f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>"
            f"<FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime>{content}</xml>"
        )
        encrypt = self.encrypt(plain, random16)
        return (
            f"<xml><Encrypt>{_cdata(encrypt)}</Encrypt>"
            f"<MsgSignature>{_cdata(self.signature(timestamp, nonce, encrypt))}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce>{_cdata(nonce)}</Nonce></xml>"
        )

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))


def callback_body(encrypt: str, to_user: str, agent_id: str) -> bytes:
    """The outer XML of a callback POST, as WeCom sends it (for tests and emulators)."""
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<Encrypt>{_cdata(encrypt)}</Encrypt>"
        f"<AgentID>{_cdata(agent_id)}</AgentID></xml>"
    ).encode()


def tap_in(fields: Mapping[str, object]) -> Tap | None:
    """The tap a template_card_event stands for (its button's key, bot/platforms/buttons.py);
    None for other messages. A tap without a ResponseCode or with a foreign key is refused."""
    if fields.get("MsgType") != "event" or fields.get("Event") != TAP_EVENT:
        return None
    if not fields.get("ResponseCode"):
        raise Rejected(400, "ResponseCode is missing")
    key = fields.get("EventKey")
    return tap_of_key(key if isinstance(key, str) else "")


def _xml(data: bytes) -> Element:
    """`data` parsed with DTDs, entities and external references forbidden."""
    try:
        return ElementTree.fromstring(data, forbid_dtd=True)
    except (ParseError, ValueError, LookupError):  # defusedxml's refusals are ValueErrors
        raise Rejected(400, "body is not acceptable XML") from None


def _flatten(element: Element, depth: int = 0) -> dict[str, object]:
    """The children of `element` as a JSON-able dict: text for leaves, dicts for branches."""
    fields: dict[str, object] = {}
    for child in element:
        if len(child) and depth < MAX_DEPTH:
            value: object = _flatten(child, depth + 1)
        else:
            value = child.text or ""
        previous = fields.setdefault(child.tag, value)
        if previous is not value:  # repeated elements (lists of items) become a list
            items = previous if isinstance(previous, list) else [previous]
            fields[child.tag] = [*items, value]
    return fields


def _leaf(fields: dict[str, object], key: str) -> str:
    value = fields.get(key, "")
    if not isinstance(value, str):
        raise Rejected(400, f"{key} is not text")
    return value


def _seconds(timestamp: str) -> int:
    seconds = epoch_number(timestamp, "timestamp")
    if seconds is None:
        raise Rejected(401, "timestamp is missing")
    return seconds


def _cdata(text: str) -> str:
    """`text` as CDATA that any XML parser reads back (bar line ends, which XML normalizes)."""
    safe = NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{safe}]]>"
