"""The HTTP channels' client: each concurrent caller (a dispatcher worker) has a pool of its
own; webhook URLs are parsed once and no cookies are kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.app.errors import DeliveryError
from bot.platforms.http import TOKEN_EARLY, CachedToken, ClientPerWorker, Robot, parsed_url
from tests.support.emulator import PlatformEmulator


@pytest.fixture
def emu() -> Iterator[PlatformEmulator]:
    with PlatformEmulator(latency=0.2) as emulator:
        yield emulator


def post(client: httpx.Client, url: str) -> int:
    return client.post(url, json={"msgtype": "text", "text": {"content": "测试"}}).status_code


@pytest.mark.slow  # a real server on 127.0.0.1, answering after 0.2 s
def test_callers_at_once_each_go_through_a_client_of_their_own_and_reuse_it_after(
    emu: PlatformEmulator,
) -> None:
    url = emu.add_wecom("k1")
    opened: list[int] = []
    lock = threading.Lock()

    def connected(request: httpx.Request) -> None:
        with lock:
            opened.append(threading.get_ident())

    with ClientPerWorker(event_hooks={"request": [connected]}) as client:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda _: post(client, url), range(4))) == [200] * 4
        assert len(client.clients) == 4  # four at once: four clients
        assert post(client, url) == 200
        assert len(client.clients) == 4  # one caller later: an idle one, its connection open
        inner = client.clients
    assert len(opened) == 5  # the settings (here a hook) hold for every client
    assert all(each.is_closed for each in inner)


class Chooser(Robot):
    platform = "demo"
    msgtypes = ("markdown", "text")


def test_a_robot_sends_its_first_message_type_unless_told_and_refuses_one_it_lacks() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200)))
    assert Chooser("ops", "https://robot.example/send", client).msgtype == "markdown"
    assert Chooser("ops", "https://robot.example/send", client, msgtype="text").msgtype == "text"
    with pytest.raises(ValueError, match="demo msgtype must be 'markdown' or 'text', not 'news'"):
        Chooser("ops", "https://robot.example/send", client, msgtype="news")


def test_a_robot_keeps_its_webhook_key_out_of_a_failed_post() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    robot = Chooser("ops", "https://robot.example/send?key=K3Y", client)
    with pytest.raises(DeliveryError) as caught:
        robot._post(b"{}")
    assert str(caught.value).startswith("demo ops: ConnectError")
    assert "K3Y" not in str(caught.value)


def answer_setting_a_cookie(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"errcode": 0}, headers={"set-cookie": "session=1"})


def test_a_workers_client_keeps_no_cookie_a_robot_answers_with() -> None:
    seen: list[str | None] = []

    def robot(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return answer_setting_a_cookie(request)

    with ClientPerWorker(transport=httpx.MockTransport(robot)) as client:
        for _ in range(2):
            assert client.post("https://robot.example/send?key=k", content=b"{}").json() == {
                "errcode": 0
            }
        assert [len(each.cookies) for each in client.clients] == [0]
    assert seen == [None, None]  # the second send carries nothing the first answer set


def test_a_webhook_url_is_parsed_once_and_a_bad_one_fails_as_httpx_says() -> None:
    url = "https://robot.example/send?key=parsed-once"
    assert parsed_url(url) is parsed_url(url)
    assert parsed_url(parsed_url(url)) is parsed_url(url)
    with ClientPerWorker(transport=httpx.MockTransport(answer_setting_a_cookie)) as client:
        assert client.post(url, content=b"{}").status_code == 200
        with pytest.raises(httpx.InvalidURL):
            client.post("https://robot.example:no-port/send", content=b"{}")


class Issuer:
    """A platform's token endpoint: a new token each time it is asked, lasting `lifetime`."""

    def __init__(self, lifetime: object = 7200) -> None:
        self.lifetime, self.issued, self.now = lifetime, 0, 0.0

    def fetch(self) -> tuple[str, object]:
        self.issued += 1
        return f"t{self.issued}", self.lifetime

    def clock(self) -> float:
        return self.now


def test_an_apps_token_is_kept_until_shortly_before_it_expires_and_dropped_when_refused() -> None:
    issuer = Issuer()
    token = CachedToken(issuer.fetch, issuer.clock)
    assert token.get() == token.get() == "t1"
    issuer.now = 7200 - TOKEN_EARLY + 1
    assert token.get() == "t2"
    token.forget()
    assert token.get() == "t3"


def test_a_token_that_says_no_lifetime_lives_two_hours_and_a_failed_fetch_keeps_nothing() -> None:
    issuer = Issuer(lifetime=None)
    token = CachedToken(issuer.fetch, issuer.clock)
    token.get()
    issuer.now = 7200 - TOKEN_EARLY - 1
    assert token.get() == "t1"

    def refuse() -> tuple[str, object]:
        raise DeliveryError("refused", permanent=True)

    failing = CachedToken(refuse, issuer.clock)
    with pytest.raises(DeliveryError):
        failing.get()
