"""The layout holds: modules stay small, rules are not spelled out twice, tests stand alone."""

from __future__ import annotations

import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
TESTS = Path(__file__).resolve().parent
LIMIT = 400


def sources(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def test_no_module_of_bot_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(BOT)): n
        for p in sources(BOT)
        if (n := len(p.read_text().splitlines())) > LIMIT
    }
    assert long == {}


def test_the_offices_name_is_written_only_as_the_directorys_default() -> None:
    files = [
        *sources(BOT),
        *(BOT.parent / "messages").rglob("*.j2"),
        *(BOT / "web").rglob("*.html"),
    ]
    found = [
        str(p.relative_to(BOT.parent)) for p in files if "督查室" in p.read_text(encoding="utf-8")
    ]
    assert found == ["bot/intake/directory.py"]


def test_modules_are_imported_without_tricks() -> None:
    assert [str(p) for p in sources(BOT) if "noqa: E402" in p.read_text()] == []


def test_the_domain_reads_no_database_network_or_other_layer() -> None:
    banned = re.compile(r"^(?:from|import) (?:sqlalchemy|httpx|bot\.(?!domain|app\.errors))", re.M)
    found = [str(p.name) for p in sources(BOT / "domain") if banned.search(p.read_text())]
    assert found == []


def test_no_test_module_imports_another() -> None:
    imports = re.compile(r"^\s*from tests\.(?:\w+\.)*test_\w+ import", re.M)
    found = [str(p.relative_to(TESTS)) for p in sources(TESTS) if imports.search(p.read_text())]
    assert found == []


def test_make_install_upgrades_pip_alone_and_never_setuptools() -> None:
    # The venv's setuptools stays as Python made it: the build gets its own (pyproject's
    # build-system), and an upgrade in the venv changes what other tools there run on.
    makefile = (BOT.parent / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert installs
    for line in installs:
        assert "setuptools" not in line, line
        if re.search(r"(--upgrade|\s-U)\b", line):
            assert line.split()[-1] == "pip", line
