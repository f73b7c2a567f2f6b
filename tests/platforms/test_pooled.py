"""The daemon's client: a robot's post of bytes goes through urllib3's pool and reads as it did
through httpx (answer, rate limit, failures with the key scrubbed, timeouts); anything else
still goes through httpx."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from bot.app.config import ChannelSettings
from bot.app.errors import DeliveryError
from bot.app.runtime import make_channel
from bot.platforms import Channel, Outgoing
from bot.platforms.pooled import PooledClient
from tests.support.emulator import PlatformEmulator


@pytest.fixture
def emu() -> Iterator[PlatformEmulator]:
    with PlatformEmulator(slow_seconds=1.0) as emulator:
        yield emulator


@pytest.fixture
def client() -> Iterator[PooledClient]:
    with PooledClient(4) as pooled:
        assert pooled._pool is not None  # no proxy in the tests' environment
        yield pooled


def wecom(url: str, client: httpx.Client, timeout: float = 10.0) -> Channel:
    settings = ChannelSettings(platform="wecom", webhook=url, msgtype="text", timeout=timeout)
    return make_channel("w", settings, client)


def message(text: str = "测试") -> Outgoing:
    return Outgoing(message_id=1, recipient="市第1局", kind="urge", text=text)


def test_a_robots_post_goes_through_the_pool_and_is_read_as_before(
    emu: PlatformEmulator, client: PooledClient
) -> None:
    robot = wecom(emu.add_wecom("k1"), client)
    robot.send(message())
    robot.send(message("第二条"))
    assert [r.body["text"]["content"] for r in emu.accepted()] == ["测试", "第二条"]
    assert client.clients == []  # no httpx client was needed


def test_a_robots_url_is_looked_up_once_and_again_after_its_pool_was_let_go(
    emu: PlatformEmulator, client: PooledClient
) -> None:
    url = emu.add_wecom("k5")
    robot = wecom(url, client)
    robot.send(message())
    robot.send(message("第二条"))
    assert client._target.cache_info().hits == 1  # the second post: no parsing, no lookup
    pool, _ = client._target(url)
    assert client._pool is not None
    client._pool.clear()  # the manager lets go of the host's pool (past HOSTS hosts)…
    pool.close()  # …and closes it, as a manager may
    robot.send(message("第三条"))
    assert client._target(url)[0] is not pool
    assert [r.body["text"]["content"] for r in emu.accepted()] == ["测试", "第二条", "第三条"]


def test_a_rate_limit_answer_and_a_server_error_read_as_through_httpx(
    emu: PlatformEmulator, client: PooledClient
) -> None:
    robot = wecom(emu.add_wecom("k2"), client)
    emu.fail_next(1, "rate_limit")
    with pytest.raises(DeliveryError) as limited:
        robot.send(message())
    assert limited.value.retry_after is not None
    emu.fail_next(1, "http502")
    with pytest.raises(DeliveryError) as failed:
        robot.send(message())
    assert not failed.value.permanent
    assert failed.value.retry_after is None
    assert "502" in str(failed.value)


def test_a_refused_connection_is_httpxs_connect_error_with_the_key_scrubbed(
    client: PooledClient,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    robot = wecom(f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=S3CRET", client)
    with pytest.raises(DeliveryError) as caught:
        robot.send(message())
    assert str(caught.value).startswith("wecom w: ConnectError")
    assert "S3CRET" not in str(caught.value)


@pytest.mark.slow  # waits out a half-second read timeout
def test_the_robots_timeout_holds_and_reads_as_httpxs_read_timeout(
    emu: PlatformEmulator, client: PooledClient
) -> None:
    robot = wecom(emu.add_wecom("k3"), client, timeout=0.5)
    emu.fail_next(1, "slow")
    with pytest.raises(DeliveryError) as caught:
        robot.send(message())
    assert str(caught.value).startswith("wecom w: ReadTimeout")


def test_a_json_body_still_goes_through_httpx(emu: PlatformEmulator, client: PooledClient) -> None:
    url = emu.add_wecom("k4")
    answer = client.post(url, json={"msgtype": "text", "text": {"content": "令牌"}})
    assert answer.status_code == 200
    assert len(client.clients) == 1
