"""WeCom self-built app callbacks: PROTOCOLS.md §2 vectors, replies, and what is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree
from hypothesis import given
from hypothesis import strategies as st

from bot.app.errors import Rejected
from bot.platforms.wecom.callback import WecomCrypto, callback_body
from tests.support.strategies import only_rejected, xml_documents

# Vector A: the official sample.
A_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
A_CORP = "wx5823bf96d3bd56c7"
A = WecomCrypto("QDG6eK", A_KEY, A_CORP)
A_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
A_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
# Vector B.
B_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
B_CORP = "wx49f0ab532d5d035a"
B = WecomCrypto("123456", B_KEY, B_CORP)
B_ECHOSTR = (
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
)
B_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
    "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
    "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
    "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
    "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)

NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
TIMESTAMP = "1700000000"
NONCE = "5y7q"
RANDOM16 = bytes(range(16))
TEXT_MESSAGE = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    "<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ 进展 #12 60% ]]></Content>"
    "<MsgId>7301</MsgId><AgentID>1000002</AgentID></xml>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><Encrypt>&lol3;</Encrypt></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<xml><Encrypt>&e;</Encrypt></xml>"
)
BARE_DTD = '<?xml version="1.0"?><!DOCTYPE xml><xml><Encrypt>abc</Encrypt></xml>'


def raw_plaintext(encoding_aes_key: str, encrypt: str) -> bytes:
    """The padded plaintext, decrypted independently of the module under test."""
    key = base64.b64decode(encoding_aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    return decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()


def sealed(plaintext: bytes) -> str:
    """`plaintext` encrypted with A's key as-is (no envelope, no padding): malformed messages."""
    key = base64.b64decode(A_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


def signed_call(crypto: WecomCrypto, encrypt: str) -> tuple[str, str, str, bytes]:
    """Arguments for `parse_callback` of a properly signed body carrying `encrypt`."""
    signature = crypto.signature(TIMESTAMP, NONCE, encrypt)
    return signature, TIMESTAMP, NONCE, callback_body(encrypt, A_CORP, "1000002")


def rejection(crypto: WecomCrypto, encrypt: str) -> Rejected:
    with pytest.raises(Rejected) as caught:
        crypto.parse_callback(*signed_call(crypto, encrypt))
    return caught.value


def test_wecom_vector_a_url_check_is_signed_as_documented() -> None:
    signature = A.signature("1409659589", "263014780", A_ECHOSTR)
    assert signature == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"


def test_wecom_vector_a_url_check_gives_the_echostr() -> None:
    signature = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert A.verify_url(signature, "1409659589", "263014780", A_ECHOSTR) == "1616140317555161061"


def test_wecom_vector_a_url_check_pads_to_32_bytes_with_7() -> None:
    plain = raw_plaintext(A_KEY, A_ECHOSTR)
    assert plain[-7:] == bytes([7]) * 7
    assert plain[:-7].endswith(A_CORP.encode())


def test_wecom_vector_a_message_is_parsed() -> None:
    body = callback_body(A_ENCRYPT, A_CORP, "218")
    message = A.parse_callback(
        "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", body
    )
    assert message.platform == "wecom"
    assert (message.event_id, message.sender, message.text) == (
        "4561255354251345929",
        "mycreate",
        "hello",
    )
    assert message.sent_at == datetime(2014, 9, 2, 12, 10, 13, tzinfo=UTC)
    assert (message.conversation, message.reply_to, message.reply_expires) == (None, None, None)
    assert message.raw["AgentID"] == "218"
    assert message.raw["ToUserName"] == A_CORP


def test_wecom_vector_a_message_is_284_bytes_padded_with_30() -> None:
    plain = raw_plaintext(A_KEY, A_ENCRYPT)
    assert plain[-30:] == bytes([30]) * 30
    assert int.from_bytes(plain[16:20], "big") == 284
    assert len(A.decrypt(A_ENCRYPT).encode()) == 284


def test_wecom_vector_a_is_refused_by_a_16_byte_unpadder() -> None:
    unpadder = padding.PKCS7(128).unpadder()
    with pytest.raises(ValueError, match="padding"):
        unpadder.update(raw_plaintext(A_KEY, A_ENCRYPT)) + unpadder.finalize()


def test_wecom_vector_b_url_check_gives_the_echostr() -> None:
    signature = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    assert B.verify_url(signature, "1411443780", "437374425", B_ECHOSTR) == "5927782489442352469"


def test_wecom_vector_b_url_check_with_the_wrong_nonce_is_rejected() -> None:
    signature = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    with pytest.raises(Rejected) as caught:
        B.verify_url(signature, "1411443780", "437374424", B_ECHOSTR)
    assert caught.value.status == 401


def test_wecom_vector_b_message_is_parsed_and_padded_with_1() -> None:
    body = callback_body(B_ENCRYPT, B_CORP, "1")
    signature = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
    message = B.parse_callback(signature, "1411525903", "461056294", body)
    assert (message.event_id, message.sender, message.text) == (
        "4363689963896700987",
        "messense",
        "test",
    )
    assert raw_plaintext(B_KEY, B_ENCRYPT)[-1] == 1


def test_wecom_a_signed_text_message_is_parsed_with_its_content_stripped() -> None:
    message = A.parse_callback(*signed_call(A, A.encrypt(TEXT_MESSAGE)), now=NOW)
    assert (message.event_id, message.sender, message.text) == ("7301", "zhangsan", "进展 #12 60%")
    assert message.sent_at == NOW


def test_wecom_a_non_text_message_has_empty_text() -> None:
    image = TEXT_MESSAGE.replace("[text]", "[image]")
    assert A.parse_callback(*signed_call(A, A.encrypt(image))).text == ""


def test_wecom_an_event_without_msgid_is_identified_by_sender_and_time() -> None:
    event = (
        "<xml><ToUserName>wx5823bf96d3bd56c7</ToUserName><FromUserName>lisi</FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
        "<Event>click</Event><EventKey>help</EventKey>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo>"
        "<Item>1</Item><Item>2</Item><Item>3</Item></xml>"
    )
    message = A.parse_callback(*signed_call(A, A.encrypt(event)))
    assert (message.event_id, message.text) == ("lisi:1700000000", "")
    assert message.raw["ScanCodeInfo"] == {"ScanType": "qrcode", "ScanResult": "1"}
    assert message.raw["Item"] == ["1", "2", "3"]


@given(st.text(), st.binary(min_size=16, max_size=16))
def test_wecom_encrypt_then_decrypt_gives_the_plaintext_back(text: str, random16: bytes) -> None:
    encrypt = A.encrypt(text, random16)
    assert A.decrypt(encrypt) == text
    assert raw_plaintext(A_KEY, encrypt)[:16] == random16


def test_wecom_encryption_is_fresh_each_time_unless_random16_is_given() -> None:
    assert A.encrypt("hello") != A.encrypt("hello")
    assert A.encrypt("hello", RANDOM16) == A.encrypt("hello", RANDOM16)
    with pytest.raises(ValueError, match="16 bytes"):
        A.encrypt("hello", b"short")


def xml_safe(text: str) -> str:
    """What XML can carry of `text`: no control characters, line ends as `\\n`."""
    kept = "".join(
        c
        for c in text
        if c in "\t\n\r"
        or 0x20 <= ord(c) <= 0xD7FF
        or 0xE000 <= ord(c) <= 0xFFFD
        or ord(c) >= 0x10000
    )
    return kept.replace("\r\n", "\n").replace("\r", "\n")


def opened_reply(crypto: WecomCrypto, reply: str) -> dict[str, str]:
    """A passive reply checked and opened as WeCom would: the inner fields."""
    envelope = ElementTree.fromstring(reply, forbid_dtd=True)
    encrypt = envelope.findtext("Encrypt") or ""
    timestamp = envelope.findtext("TimeStamp") or ""
    nonce = envelope.findtext("Nonce") or ""
    crypto.verify(envelope.findtext("MsgSignature") or "", timestamp, nonce, encrypt)
    inner = ElementTree.fromstring(crypto.decrypt(encrypt), forbid_dtd=True)
    return {child.tag: child.text or "" for child in inner}


@given(st.text(), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20))
def test_wecom_a_passive_reply_opens_to_the_text_it_carries(text: str, nonce: str) -> None:
    reply = A.passive_reply("zhangsan", A_CORP, text, TIMESTAMP, nonce, RANDOM16)
    fields = opened_reply(A, reply)
    assert fields == {
        "ToUserName": "zhangsan",
        "FromUserName": A_CORP,
        "CreateTime": TIMESTAMP,
        "MsgType": "text",
        "Content": xml_safe(text),
    }


@pytest.mark.parametrize(
    ("text", "carried"),
    [
        ("已收到]]>请勿<script>&amp;", "已收到]]>请勿<script>&amp;"),
        ("]]]>]]>", "]]]>]]>"),
        ("第一行\r\n第二行\r第三行", "第一行\n第二行\n第三行"),
        ("a\x00b\x1bc\ufffed", "abcd"),
    ],
)
def test_wecom_a_passive_reply_survives_awkward_text(text: str, carried: str) -> None:
    reply = A.passive_reply("zhangsan", A_CORP, text, TIMESTAMP, NONCE)
    assert opened_reply(A, reply)["Content"] == carried


def test_wecom_a_passive_reply_reads_back_through_parse_callback() -> None:
    reply = A.passive_reply("zhangsan", A_CORP, "已登记进展。", TIMESTAMP, NONCE)
    envelope = ElementTree.fromstring(reply)
    signature = envelope.findtext("MsgSignature") or ""
    message = A.parse_callback(signature, TIMESTAMP, NONCE, reply.encode())
    assert (message.sender, message.text) == (A_CORP, "已登记进展。")


def test_wecom_a_passive_reply_needs_a_numeric_timestamp_and_a_printable_nonce() -> None:
    with pytest.raises(ValueError, match="epoch seconds"):
        A.passive_reply("zhangsan", A_CORP, "x", "soon", NONCE)
    with pytest.raises(ValueError, match="nonce"):
        A.passive_reply("zhangsan", A_CORP, "x", TIMESTAMP, "a\r\nb")


def test_wecom_a_tampered_ciphertext_is_rejected_as_unsigned() -> None:
    signature, timestamp, nonce, _ = signed_call(A, A_ENCRYPT)
    tampered = callback_body("S" + A_ENCRYPT[1:], A_CORP, "218")
    with pytest.raises(Rejected) as caught:
        A.parse_callback(signature, timestamp, nonce, tampered)
    assert caught.value.status == 401


def test_wecom_a_wrong_token_is_rejected_as_unsigned() -> None:
    other = WecomCrypto("another", A_KEY, A_CORP)
    with pytest.raises(Rejected) as caught:
        A.parse_callback(*signed_call(other, A.encrypt(TEXT_MESSAGE)))
    assert caught.value.status == 401


def test_wecom_a_message_for_another_corp_is_rejected() -> None:
    foreign = WecomCrypto("QDG6eK", A_KEY, "wwanothercorp")
    assert rejection(A, foreign.encrypt(TEXT_MESSAGE)).status == 403
    with pytest.raises(Rejected) as caught:
        A.decrypt(foreign.encrypt("x"))
    assert (caught.value.status, caught.value.reason) == (403, "wrong receiveid")


@pytest.mark.parametrize("encrypt", ["not base64!", "QUJD", "QUJDRA==" * 3, ""])
def test_wecom_signed_ciphertext_that_is_not_base64_blocks_is_malformed(encrypt: str) -> None:
    with pytest.raises(Rejected) as caught:
        A.decrypt(encrypt)
    assert caught.value.status == 400


@pytest.mark.parametrize("last", [0, 5, 33, 255])
def test_wecom_signed_ciphertext_with_bad_padding_is_malformed(last: int) -> None:
    envelope = RANDOM16 + (5).to_bytes(4, "big") + b"hello" + A_CORP.encode()
    assert rejection(A, sealed(envelope.ljust(63, b"x") + bytes([last]))).status == 400


def test_wecom_a_length_beyond_the_plaintext_is_malformed() -> None:
    body = RANDOM16 + (1000).to_bytes(4, "big") + b"hello" + A_CORP.encode()
    padder = padding.PKCS7(256).padder()
    assert rejection(A, sealed(padder.update(body) + padder.finalize())).status == 400


def test_wecom_a_message_that_is_not_utf8_is_malformed() -> None:
    body = RANDOM16 + (2).to_bytes(4, "big") + b"\xff\xfe" + A_CORP.encode()
    padder = padding.PKCS7(256).padder()
    assert rejection(A, sealed(padder.update(body) + padder.finalize())).status == 400


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DTD, "not xml", ""])
def test_wecom_an_outer_body_with_a_dtd_or_no_xml_is_malformed(body: str) -> None:
    with pytest.raises(Rejected) as caught:
        A.parse_callback("0" * 40, TIMESTAMP, NONCE, body.encode())
    assert caught.value.status == 400


@pytest.mark.parametrize("inner", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DTD, "not xml"])
def test_wecom_a_signed_inner_message_with_a_dtd_or_no_xml_is_malformed(inner: str) -> None:
    assert rejection(A, A.encrypt(inner)).status == 400


def test_wecom_an_outer_body_without_encrypt_is_malformed() -> None:
    with pytest.raises(Rejected) as caught:
        A.parse_callback("0" * 40, TIMESTAMP, NONCE, b"<xml><ToUserName>x</ToUserName></xml>")
    assert caught.value.status == 400


def test_wecom_a_message_without_a_sender_is_malformed() -> None:
    anonymous = TEXT_MESSAGE.replace("<![CDATA[zhangsan]]>", "")
    assert rejection(A, A.encrypt(anonymous)).status == 400


@pytest.mark.parametrize("offset", [timedelta(hours=-2), timedelta(hours=2)])
def test_wecom_a_stale_or_future_timestamp_is_rejected_when_now_is_given(
    offset: timedelta,
) -> None:
    call = signed_call(A, A.encrypt(TEXT_MESSAGE))
    A.parse_callback(*call, now=NOW + timedelta(minutes=59))
    with pytest.raises(Rejected) as caught:
        A.parse_callback(*call, now=NOW + offset)
    assert caught.value.status == 403


@pytest.mark.parametrize("key", ["short", A_KEY + "A", "!" * 43])
def test_wecom_a_malformed_encoding_aes_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        WecomCrypto("token", key, A_CORP)


@given(st.binary(), st.text(max_size=50))
def test_wecom_parse_callback_on_arbitrary_bytes_only_rejects(body: bytes, signature: str) -> None:
    only_rejected(lambda: A.parse_callback(signature, TIMESTAMP, NONCE, body))


@given(xml_documents(["ToUserName", "Encrypt", "AgentID"]))
def test_wecom_parse_callback_on_arbitrary_outer_xml_only_rejects(body: str) -> None:
    only_rejected(lambda: A.parse_callback("0" * 40, TIMESTAMP, NONCE, body.encode()))


FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "AgentID"]


@given(xml_documents(FIELDS))
def test_wecom_parse_callback_on_arbitrary_signed_plaintext_only_rejects(inner: str) -> None:
    call = signed_call(A, A.encrypt(inner))
    only_rejected(lambda: A.parse_callback(*call, now=NOW))
