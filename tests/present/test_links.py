from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.tokens import InvalidTokenError, verify
from bot.present.links import REPORT, REVIEW, Links

KEY = b"s" * 32
NOW = datetime(2020, 10, 12, 1, tzinfo=UTC)
LINKS = Links("https://duban.example.gov.cn", KEY, 30)


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_a_report_link_is_the_units_page_for_one_due_point_for_the_configured_days() -> None:
    link = LINKS.report(7, 1234, NOW)
    assert link is not None
    assert link.startswith("https://duban.example.gov.cn/r/")
    claims = verify(KEY, token_of(link), REPORT, NOW)
    assert claims.subject == (7, 1234)
    assert claims.expires == NOW + timedelta(days=30)


def test_a_review_link_names_the_office_or_one_supervisor() -> None:
    office, leader = LINKS.review("office", None, NOW), LINKS.review("supervisor", 3, NOW)
    assert office is not None
    assert leader is not None
    assert verify(KEY, token_of(office), REVIEW, NOW).subject == ("office",)
    assert verify(KEY, token_of(leader), REVIEW, NOW).subject == ("supervisor", 3)


def test_a_report_link_does_not_open_a_review_page() -> None:
    link = LINKS.report(7, 1234, NOW)
    assert link is not None
    with pytest.raises(InvalidTokenError):
        verify(KEY, token_of(link), REVIEW, NOW)


@pytest.mark.parametrize("links", [Links("", KEY), Links("https://duban.example.gov.cn", b"")])
def test_without_an_address_and_a_key_no_link_is_made(links: Links) -> None:
    assert links.report(7, 1234, NOW) is None
    assert links.evidence(1, NOW) is None
