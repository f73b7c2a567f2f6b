"""The command line's configuration (bot/cli/__init__.py): --config, $DUBAN_CONFIG and a bad
value, each a clean exit with code 2."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import fails_with_one_line, make_duban


def test_a_bad_config_value_exits_with_code_two_naming_the_key(tmp_path: Path) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}", DUBAN_PLAN__TIMEZONE="Mars/Base")
    line = fails_with_one_line(duban("tasks"), code=2)
    assert "plan.timezone" in line
    assert "DUBAN_PLAN__TIMEZONE" in line
    assert not (tmp_path / "duban.db").exists()


def test_the_config_option_wins_over_duban_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[plan]\ntimezone = "Mars/Base"\n', encoding="utf-8")
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}")
    line = fails_with_one_line(duban("--config", config, "units"), code=2)
    assert "plan.timezone" in line
    assert str(config) in line


def test_a_missing_config_file_exits_with_code_two(tmp_path: Path) -> None:
    duban = make_duban(f"sqlite:///{tmp_path / 'duban.db'}")
    line = fails_with_one_line(duban("--config", tmp_path / "absent.toml", "units"), code=2)
    assert "absent.toml" in line
