"""The report page a unit opens from a reminder, through the served app: the link works for
its unit's item only, and until it expires; each form goes through the chat replies' flow
(the same permissions, audit events and answers, channel `web-form`) once; uploads over the
limit or of a type not allowed are refused and leave nothing behind."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import DirectorySettings, Settings
from bot.domain.lifecycle import Event, Status
from bot.evidence.attach import ATTACHED
from bot.store.models import Evidence
from bot.web.app import create_app
from bot.web.context import WebContext
from tests.support.evidence import exe, html, pdf, png
from tests.support.report import (
    MAX_FILE,
    evidence_rows,
    forged,
    form_token,
    forms,
    point_of,
    report_path,
    schedule,
    stored,
    with_reports,
)
from tests.support.web import NOW, Clock, assignment_of, assignments, audit, generic_reply

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what this project has
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow  # the app served by uvicorn, with a plan imported, for each test

NDRC = "市发改委"  # leads task 1
FINANCE = "市财政局"  # helps on task 1, leads task 11
LIAISON_FINANCE = "liaison3"


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def settings(settings: Settings, evidence_dir: Path) -> Settings:
    return with_reports(settings, evidence_dir)


@pytest.fixture
def item(planned: sessionmaker[Session]) -> tuple[int, int]:
    """(unit id, due point id): 市发改委's first due point on task 1."""
    schedule(planned, NOW)
    return point_of(planned, "1", NDRC)


@pytest.fixture
def link(item: tuple[int, int]) -> str:
    return report_path(*item, NOW)


@pytest.fixture
def page(client: httpx.Client, link: str) -> dict[str, str]:
    """The forms of the page the link opens."""
    response = client.get(link)
    assert response.status_code == 200, response.text
    return forms(response.text)


def submit(
    client: httpx.Client,
    link: str,
    form: str,
    action: str,
    *,
    files: list[tuple[str, bytes]] | None = None,
    **fields: str,
) -> httpx.Response:
    return post(client, link, form, action, fields, files)


def post(
    client: httpx.Client,
    link: str,
    form: str,
    action: str,
    fields: dict[str, str],
    files: list[tuple[str, bytes]] | None = None,
) -> httpx.Response:
    data = {"action": action, "form": form, **fields}
    sent = [("files", (name, content)) for name, content in files or []]
    return client.post(link, data=data, files=sent or None)


# --- the page -----------------------------------------------------------------------------


def test_the_link_opens_the_units_item_with_its_forms(client: httpx.Client, link: str) -> None:
    response = client.get(link)
    assert response.status_code == 200
    assert "第1项 · 市发改委" in response.text
    assert "<script" not in response.text
    assert 'name="viewport"' in response.text
    assert set(forms(response.text)) == {"progress", "complete", "extend", "blocker", "ack"}
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_co_unit_is_offered_no_closure(
    client: httpx.Client, planned: sessionmaker[Session], item: tuple[int, int]
) -> None:
    response = client.get(report_path(*point_of(planned, "1", FINANCE), NOW))
    assert response.status_code == 200
    assert "complete" not in forms(response.text)


# --- tokens that do not open it -----------------------------------------------------------


def denied_links(item: tuple[int, int], planned: sessionmaker[Session]) -> Iterator[str]:
    unit, point = item
    other_unit, other_point = point_of(planned, "1", FINANCE)
    yield "/r/" + forged("report", item, NOW)  # another key
    yield report_path(unit, point, NOW)[:-3] + "AAA"  # a signature changed
    yield report_path(other_unit, point, NOW)  # another unit, this item's due point
    yield report_path(unit, other_point, NOW)  # this unit, another unit's due point
    yield report_path(unit, point, NOW - timedelta(days=31))  # expired
    yield "/r/" + "x" * 600  # far too long
    yield "/r/not.a.token"


def test_a_forged_foreign_or_expired_link_is_refused_and_changes_nothing(
    client: httpx.Client, planned: sessionmaker[Session], item: tuple[int, int], link: str
) -> None:
    form = forms(client.get(link).text)["progress"]
    before = assignments(planned)
    for path in denied_links(item, planned):
        shown = client.get(path)
        assert shown.status_code == 403, path
        assert "链接无效或已过期" in shown.text
        posted = submit(client, path, form, "progress", percent="60", text="已开工")
        assert posted.status_code == 403, path
    assert assignments(planned) == before
    assert audit(planned) == []


def test_a_form_of_another_items_page_is_refused(
    client: httpx.Client, planned: sessionmaker[Session], link: str
) -> None:
    other = report_path(*point_of(planned, "1", FINANCE), NOW)
    form = forms(client.get(other).text)["progress"]
    assert submit(client, link, form, "progress", percent="60").status_code == 403
    assert submit(client, link, form, "ack").status_code == 403  # nor for another action
    assert audit(planned) == []


def test_the_links_stop_working_when_they_expire(
    client: httpx.Client, clock: Clock, link: str
) -> None:
    clock.now = NOW + timedelta(days=30, seconds=1)
    assert client.get(link).status_code == 403


def test_an_unknown_due_point_is_not_found(client: httpx.Client, item: tuple[int, int]) -> None:
    response = client.get(report_path(item[0], 999_999, NOW))
    assert response.status_code == 404
    assert "事项不存在" in response.text


# --- the forms, as the chat replies -------------------------------------------------------


FORMS: list[tuple[str, dict[str, str], str]] = [
    ("progress", {"percent": "60", "text": "已完成选址"}, "进展 #{n} 60% 已完成选址"),
    (
        "extend",
        {"date": "2020-12-31", "text": "用地审批未完成"},
        "延期 #{n} 2020-12-31 用地审批未完成",
    ),
    ("blocker", {"text": "资金缺口较大"}, "困难 #{n} 资金缺口较大"),
    ("ack", {}, "收到 #{n}"),
]


@pytest.mark.parametrize(("action", "fields", "chat"), FORMS, ids=[f[0] for f in FORMS])
def test_each_form_does_what_the_same_chat_reply_does(
    client: httpx.Client,
    planned: sessionmaker[Session],
    page: dict[str, str],
    link: str,
    action: str,
    fields: dict[str, str],
    chat: str,
) -> None:
    response = post(client, link, page[action], action, fields)
    assert response.status_code == 200, response.text
    # The same command by chat, from the lead of task 11.
    said = generic_reply(client, LIAISON_FINANCE, chat.format(n="11"), "m-1", NOW)
    assert said.replace("11", "1") in response.text
    web, by_chat = audit(planned)[0], audit(planned)[-1]
    assert (web.action, web.actor, web.channel) == (by_chat.action, NDRC, "web-form")
    assert web.detail == {**by_chat.detail, "task": "1"}
    assert web.subject_type == by_chat.subject_type == "assignment"


def test_a_second_submit_of_the_same_form_changes_nothing(
    client: httpx.Client, planned: sessionmaker[Session], page: dict[str, str], link: str
) -> None:
    assert submit(client, link, page["progress"], "progress", percent="40").status_code == 200
    again = submit(client, link, page["progress"], "progress", percent="90")
    assert again.status_code == 409
    assert "已提交过" in again.text
    assert assignment_of(planned, "1", NDRC)[1] == 40
    assert len(audit(planned, Event.PROGRESS)) == 1


def test_a_refused_form_may_be_sent_again_once_put_right(
    client: httpx.Client, planned: sessionmaker[Session], page: dict[str, str], link: str
) -> None:
    early = submit(client, link, page["extend"], "extend", date="2020-03-01", text="来不及")
    assert early.status_code == 409
    assert "延期日期应晚于今天" in early.text
    right = submit(client, link, page["extend"], "extend", date="2020-06-30", text="来不及")
    assert right.status_code == 200
    assert assignment_of(planned, "1", NDRC)[0] == Status.EXTENSION_REQUESTED


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"percent": "120"}, "0 到 100"),
        ({"percent": "六十"}, "0 到 100"),
        ({"date": "明年"}, "日期有误"),
    ],
)
def test_bad_fields_get_a_clear_400(
    client: httpx.Client,
    planned: sessionmaker[Session],
    page: dict[str, str],
    link: str,
    fields: dict[str, str],
    shown: str,
) -> None:
    action = "extend" if "date" in fields else "progress"
    response = post(client, link, page[action], action, fields)
    assert response.status_code == 400
    assert shown in response.text
    assert audit(planned) == []


# --- closure with evidence ----------------------------------------------------------------


def test_closure_with_a_photo_and_a_pdf_keeps_both_as_evidence(
    client: httpx.Client,
    planned: sessionmaker[Session],
    page: dict[str, str],
    link: str,
    evidence_dir: Path,
) -> None:
    files = [("现场照片.png", png()), ("验收报告.pdf", pdf())]
    response = submit(client, link, page["complete"], "complete", files=files, text="已建成")
    assert response.status_code == 200, response.text
    assert "办结申请已收到" in response.text
    assert assignment_of(planned, "1", NDRC)[0] == Status.CLOSURE_REQUESTED
    assert [e.detail["name"] for e in audit(planned, ATTACHED)] == ["现场照片.png", "验收报告.pdf"]
    assert {p.name for p in stored(evidence_dir)} == {
        e.detail["sha256"] for e in audit(planned, ATTACHED)
    }
    shown = client.get(link).text
    assert "现场照片.png" in shown
    assert "待审核" in shown


def test_closure_without_evidence_is_refused(
    client: httpx.Client, planned: sessionmaker[Session], page: dict[str, str], link: str
) -> None:
    response = submit(client, link, page["complete"], "complete", text="已建成")
    assert response.status_code == 400
    assert "佐证材料" in response.text
    assert audit(planned) == []


def test_a_co_units_closure_keeps_no_file(
    client: httpx.Client,
    planned: sessionmaker[Session],
    item: tuple[int, int],
    evidence_dir: Path,
) -> None:
    unit, point = point_of(planned, "1", FINANCE)
    link = report_path(unit, point, NOW)
    assert "complete" not in forms(client.get(link).text)  # its page shows no closure form
    form = form_token(unit, point, "complete", NOW)  # but were one sent all the same
    response = submit(client, link, form, "complete", files=[("a.png", png())], text="已完成")
    assert response.status_code == 409
    assert "办结申请由牵头单位提出" in response.text  # the chat reply's answer
    assert stored(evidence_dir) == []
    assert evidence_rows(planned) == 0
    assert audit(planned) == []


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ([("大文件.png", png() + b"\0" * MAX_FILE)], 413),  # one file over the limit
        ([("a.png", png()), ("b.png", png()), ("c.png", png())], 413),  # more files than allowed
        ([("照片.jpg", exe())], 415),  # a program named as a photo
        ([("报告.pdf", html())], 415),  # a page named as a PDF
        ([("a.png", png()), ("报告.pdf", html())], 415),  # one bad file spoils the lot
    ],
    ids=["too-large", "too-many", "exe-as-jpg", "html-as-pdf", "one-bad-of-two"],
)
def test_a_refused_upload_leaves_nothing_stored(
    client: httpx.Client,
    planned: sessionmaker[Session],
    page: dict[str, str],
    link: str,
    evidence_dir: Path,
    files: list[tuple[str, bytes]],
    status: int,
) -> None:
    response = submit(client, link, page["complete"], "complete", files=files)
    assert response.status_code == status
    assert "未予接收" in response.text or "最多上传" in response.text
    assert stored(evidence_dir) == []
    assert evidence_rows(planned) == 0
    assert audit(planned) == []


def test_a_body_over_the_pages_limit_is_cut_off_while_it_streams(
    client: httpx.Client, planned: sessionmaker[Session], link: str, evidence_dir: Path
) -> None:
    def endless() -> Iterator[bytes]:  # no Content-Length: chunked, as a slow phone sends
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'
        for _ in range(10_000):
            yield b"\0" * 1024

    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = client.post(link, content=endless(), headers=headers)
    assert response.status_code == 413
    assert stored(evidence_dir) == []
    assert evidence_rows(planned) == 0


def test_a_path_in_a_file_name_changes_nothing_but_the_name_shown(
    client: httpx.Client,
    planned: sessionmaker[Session],
    page: dict[str, str],
    link: str,
    evidence_dir: Path,
    tmp_path: Path,
) -> None:
    files = [("../../etc/passwd.png", png()), ("..\\..\\x\x01y.pdf", pdf())]
    response = client.post(link, content=multipart(page["complete"], files), headers=MULTIPART)
    assert response.status_code == 200, response.text
    with planned() as session:
        rows = session.query(Evidence).order_by(Evidence.id).all()
        assert [e.name for e in rows] == ["passwd.png", "xy.pdf"]
        hashes = {e.sha256 for e in rows}
    assert {p.relative_to(evidence_dir).parts[-1] for p in stored(evidence_dir)} == hashes
    assert not (tmp_path / "etc").exists()


MULTIPART = {"content-type": "multipart/form-data; boundary=b0undary"}


def multipart(form: str, files: list[tuple[str, bytes]]) -> bytes:
    """A closure form with `files`, their names sent as they are (httpx would escape them)."""
    parts = [
        b'--b0undary\r\nContent-Disposition: form-data; name="action"\r\n\r\ncomplete\r\n',
        b'--b0undary\r\nContent-Disposition: form-data; name="form"\r\n\r\n'
        + form.encode()
        + b"\r\n",
    ]
    for name, content in files:
        parts.append(
            b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="'
            + name.encode()
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + content
            + b"\r\n"
        )
    return b"".join(parts) + b"--b0undary--\r\n"


# --- evidence files -----------------------------------------------------------------------


def evidence_link(client: httpx.Client, link: str) -> str:
    page = client.get(link).text
    start = page.index('href="/e/') + len('href="')
    return page[start : page.index('"', start)]


def test_an_evidence_link_serves_the_file_as_an_attachment(
    client: httpx.Client, page: dict[str, str], link: str
) -> None:
    submit(client, link, page["complete"], "complete", files=[("现场照片.png", png())])
    response = client.get(evidence_link(client, link))
    assert response.status_code == 200
    assert response.content == png()
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87.png" in disposition


def test_a_forged_evidence_link_is_refused(client: httpx.Client) -> None:
    response = client.get("/e/" + forged("evidence", (1,), NOW))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"--b0undary\r\nContent-Disposition: form-data\r\n\r\nx", MULTIPART["content-type"]),
        (b"\xff\xfe garbage", "multipart/form-data"),  # no boundary
        (b"action=ack", "application/x-www-form-urlencoded"),  # no form token
        (b"", "application/json"),
    ],
    ids=["cut-off", "no-boundary", "no-form-token", "not-a-form"],
)
def test_a_malformed_submission_is_a_400_and_changes_nothing(
    client: httpx.Client,
    planned: sessionmaker[Session],
    link: str,
    content: bytes,
    content_type: str,
) -> None:
    response = client.post(link, content=content, headers={"content-type": content_type})
    assert response.status_code in (400, 403)
    assert "<html" in response.text  # a page, not a traceback
    assert audit(planned) == []


def test_without_a_secret_the_pages_are_off(
    sessions: sessionmaker[Session], directory_file: Path, item: tuple[int, int]
) -> None:
    plain = Settings(directory=DirectorySettings(path=directory_file))
    with httpx.Client() as http:
        app = create_app(WebContext(plain, sessions, clock=Clock(), http=http))
        client = TestClient(app)
        link = report_path(*item, NOW)
        assert client.get(link).status_code == 404
        assert client.post(link, data={"action": "ack"}).status_code == 404
        assert "未启用" in client.get("/e/" + forged("evidence", (1,), NOW)).text
