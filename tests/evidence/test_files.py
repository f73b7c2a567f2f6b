from __future__ import annotations

import io

import pytest

from bot.app.sections import ReportSettings
from bot.evidence.files import FileRefusedError, check, clean_name, read_limited, sniff
from tests.support.evidence import docx, exe, html, legacy, office, pdf, plain_zip, png

ALLOWED = ReportSettings().allowed_types


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png(), "image/png"),
        (pdf(), "application/pdf"),
        (docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (
            office("/xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            office("/ppt/presentation.xml"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (legacy("WordDocument"), "application/msword"),
        (legacy("Workbook"), "application/vnd.ms-excel"),
        (legacy("PowerPoint Document"), "application/vnd.ms-powerpoint"),
        (plain_zip(), "application/zip"),
        (html(), None),
    ],
)
def test_a_file_is_known_by_its_first_bytes(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


@pytest.mark.parametrize(("data", "name"), [(exe(), "照片.jpg"), (html(), "报告.pdf")])
def test_a_disallowed_file_is_refused_whatever_it_is_called(data: bytes, name: str) -> None:
    with pytest.raises(FileRefusedError) as refused:
        check(data, name, ALLOWED)
    assert refused.value.status == 415
    assert name in refused.value.message


def test_a_zip_that_is_no_office_file_is_refused() -> None:
    with pytest.raises(FileRefusedError):
        check(plain_zip(), "材料.docx", ALLOWED)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(FileRefusedError) as refused:
        check(b"", "a.png", ALLOWED)
    assert refused.value.status == 400


def test_an_allowed_file_keeps_its_type_and_a_clean_name() -> None:
    checked = check(png(), "../../etc/passwd.png", ALLOWED)
    assert (checked.name, checked.content_type) == ("passwd.png", "image/png")


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\现场照片.jpg", "现场照片.jpg"),
        ("a\x00b\x1f\u202ec.png", "abc.png"),
        ("/", "附件"),
        ("..", "附件"),
        (None, "附件"),
        (".bashrc", "bashrc"),
    ],
)
def test_the_shown_name_is_the_last_part_printable(sent: str | None, shown: str) -> None:
    assert clean_name(sent) == shown


def test_a_long_name_is_cut_to_200_characters_keeping_its_extension() -> None:
    name = clean_name("佐" * 300 + ".pdf")
    assert len(name) == 200
    assert name.endswith("佐.pdf")


class Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk


def test_an_over_limit_file_is_refused_before_it_is_all_read() -> None:
    source = Counting(b"x" * (10 * 1024 * 1024))
    with pytest.raises(FileRefusedError) as refused:
        read_limited(source, 100 * 1024, "大文件.pdf")
    assert refused.value.status == 413
    assert "100 KB" in refused.value.message
    assert source.read_bytes < 200 * 1024


def test_a_file_within_the_limit_is_read_whole() -> None:
    assert read_limited(io.BytesIO(b"x" * 1000), 1000, "a") == b"x" * 1000
