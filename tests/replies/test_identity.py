"""Who sent a reply: platform user ids and names → contacts → units, supervisors, the office;
and whom a person acts as for each command."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.intake.directory import Directory, OfficeEntry, load_directory
from bot.intake.importing import import_file
from bot.replies.apply import APPROVALS, Actor
from bot.replies.identity import Identity, People
from bot.replies.keywords import CommandKind
from tests.support import factories
from tests.support.engine import PLAN
from tests.support.factories import make_directory
from tests.support.web import IMPORTED, write_directory, write_plan

UNIT_COMMANDS = [kind for kind in CommandKind if kind not in APPROVALS]


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    """The sample directory, cut to the units of the plan."""
    return load_directory(write_directory(tmp_path, everywhere=False))


@pytest.fixture
def people(sessions: sessionmaker[Session], directory: Directory, tmp_path: Path) -> People:
    import_file(sessions, write_plan(tmp_path), directory, timezone="Asia/Shanghai", now=IMPORTED)
    with sessions() as session:
        return People.load(session, directory.office)


def test_a_unit_contact_is_found_by_the_user_id_of_the_platform_they_write_from(
    people: People,
) -> None:
    liaison = people.find("wecom", "liaison2")
    assert liaison is not None
    assert liaison.name == "联络员2"
    assert [name for _, name in liaison.units] == ["市发改委"]
    assert (liaison.supervisors, liaison.office) == ((), None)


def test_a_user_id_counts_only_on_its_own_platform(people: People) -> None:
    assert people.find("dingtalk", "liaison2") is None  # a WeCom id, not a DingTalk one
    assert people.find("feishu", "liaison2") is None
    assert people.find("wecom", "13800000002") is None  # a mobile is no WeCom user id


def test_the_generic_hook_may_name_a_sender_by_any_of_their_ids(people: People) -> None:
    by_mobile = people.find("generic", "13800000002")
    by_wecom = people.find("generic", "liaison2")
    assert by_mobile is not None
    assert by_mobile == by_wecom
    assert people.find("generic", "ou_liming") == people.find("feishu", "ou_liming")


def test_the_supervisor_and_the_office_are_found_by_their_contacts(people: People) -> None:
    supervisor = people.find("dingtalk", "liming")
    office = people.find("feishu", "ou_ducha")
    assert supervisor is not None
    assert office is not None
    assert [name for _, name in supervisor.supervisors] == ["李明"]
    assert supervisor.units == ()
    assert (office.name, office.office) == ("督查员", "督查室")


def test_an_unknown_user_id_is_nobody(people: People) -> None:
    unknown = [("wecom", "nobody"), ("wecom", ""), ("teams", "liaison2"), ("generic", "139")]
    for platform, user_id in unknown:
        assert people.find(platform, user_id) is None


NAMED = {  # name: (units, supervisors, office)
    "联络员2": (["市发改委"], [], None),
    "市发改委": (["市发改委"], [], None),
    "发改委": (["市发改委"], [], None),  # an alias
    "市发展改革委": (["市发改委"], [], None),
    "李明": ([], ["李明"], None),
    "督查室": ([], [], "督查室"),
    "督查员": ([], [], "督查室"),
}


def test_a_person_a_unit_a_supervisor_or_the_office_is_found_by_name(people: People) -> None:
    for name, (units, supervisors, office) in NAMED.items():
        identity = people.named(name)
        assert identity is not None, name
        assert [n for _, n in identity.units] == units
        assert [n for _, n in identity.supervisors] == supervisors
        assert identity.office == office


def test_names_are_matched_whatever_their_spacing_or_width(people: People) -> None:
    assert people.named(" 联络员2 ") == people.named("联络员2")
    assert people.named("联络员２") == people.named("联络员2")
    assert people.named("不存在") is None


def test_a_unit_contact_acts_as_the_unit_for_every_command(people: People) -> None:
    liaison = people.find("wecom", "liaison2")
    assert liaison is not None
    [(unit_id, _)] = liaison.units
    for kind in CommandKind:  # approvals too: apply_command refuses them from a unit
        assert liaison.actor(kind) == Actor("unit", "市发改委", (unit_id,)), kind


def test_the_supervisor_acts_as_the_supervisor_for_every_command(people: People) -> None:
    supervisor = people.find("wecom", "liming")
    assert supervisor is not None
    [(supervisor_id, _)] = supervisor.supervisors
    for kind in CommandKind:
        assert supervisor.actor(kind) == Actor(
            "supervisor", "李明", supervisor_ids=(supervisor_id,)
        )


def test_the_office_acts_as_the_office_for_every_command(people: People) -> None:
    office = people.find("wecom", "ducha")
    assert office is not None
    for kind in CommandKind:
        assert office.actor(kind) == Actor("office", "督查室"), kind


def test_a_unit_contact_in_the_office_reports_as_the_unit_and_approves_as_the_office() -> None:
    both = Identity("王五", units=((7, "市发改委"),), office="督查室")
    for kind in UNIT_COMMANDS:
        assert both.actor(kind) == Actor("unit", "市发改委", (7,))
    for kind in APPROVALS:
        assert both.actor(kind) == Actor("office", "督查室")


def test_someone_who_is_a_unit_contact_and_a_supervisor_approves_as_the_supervisor() -> None:
    both = Identity("赵华", units=((3, "市住建局"),), supervisors=((2, "赵华"),))
    assert both.actor(CommandKind.COMPLETE) == Actor("unit", "市住建局", (3,))
    assert both.actor(CommandKind.APPROVE_EXTENSION) == Actor(
        "supervisor", "赵华", supervisor_ids=(2,)
    )


def test_an_identity_with_no_role_acts_as_nobody() -> None:
    assert Identity("路人").actor(CommandKind.PROGRESS) == Actor("unknown", "路人")


def test_a_contact_of_two_units_acts_for_both(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    shared = {"name": "综合联络员", "wecom_userid": "shared"}
    directory = make_directory(
        units={
            "市住建局": {"supervisor": "赵华", "contacts": [shared]},
            "市财政局": {"supervisor": "李明", "contacts": [shared]},
            "市发改委": {"supervisor": "李明"},
        },
        supervisors={"赵华": {}, "李明": {}},
    )
    import_file(
        sessions,
        factories.write_plan(tmp_path, PLAN),  # the engine factories' plan: those three units
        directory,
        timezone="Asia/Shanghai",
        now=IMPORTED,
    )
    with sessions() as session:
        people = People.load(session, OfficeEntry())
    person = people.find("wecom", "shared")
    assert person is not None
    assert sorted(name for _, name in person.units) == ["市住建局", "市财政局"]
    actor = person.actor(CommandKind.PROGRESS)
    assert actor.kind == "unit"
    assert set(actor.name.split("、")) == {"市住建局", "市财政局"}
    assert len(actor.unit_ids) == 2
    assert people.named("综合联络员") == person
