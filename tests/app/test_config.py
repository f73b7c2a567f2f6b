"""Settings: the documented example file, environment overrides, file selection, bad values."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot.app.config import Settings, load_settings
from bot.app.errors import ConfigError
from tests.support.paths import ROOT

EXAMPLE = ROOT / "config.example.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DUBAN_ variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("DUBAN_"):
            monkeypatch.delenv(name)


def setting_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf setting as a dotted key ("plan.timezone"), sections included as "plan"."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        yield key
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from setting_keys(field.annotation, f"{key}.")


def toml_keys(data: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, value in data.items():
        key = f"{prefix}{name}"
        yield key
        if isinstance(value, dict):
            yield from toml_keys(value, f"{key}.")


def write_config(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value


def test_the_walk_finds_sections_and_their_keys() -> None:
    keys = set(setting_keys(Settings))
    assert {"database", "database.url", "plan", "plan.timezone", "plan.sample"} <= keys


def test_the_example_file_documents_every_setting() -> None:
    documented = set(toml_keys(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))))
    undocumented = sorted(set(setting_keys(Settings)) - documented)
    assert undocumented == []


def test_the_example_file_is_valid_and_holds_the_built_in_defaults() -> None:
    assert load_settings(EXAMPLE) == Settings()


def test_environment_variables_win_over_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_config(
        tmp_path,
        '[database]\nurl = "sqlite:///file.db"\n'
        '[plan]\ntimezone = "Asia/Tokyo"\nsample = "s.txt"\n',
    )
    monkeypatch.setenv("DUBAN_DATABASE__URL", "postgresql+psycopg://duban@db.example/duban")
    monkeypatch.setenv("DUBAN_PLAN__TIMEZONE", "Europe/Berlin")
    settings = load_settings(path)
    assert settings.database.url == "postgresql+psycopg://duban@db.example/duban"
    assert settings.plan.timezone == "Europe/Berlin"
    # The rest of the overridden section still comes from the file.
    assert settings.plan.sample == Path("s.txt")


def test_without_a_file_or_variable_the_built_in_defaults_apply(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings() == Settings()


def test_config_example_toml_is_read_when_there_is_no_config_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, '[plan]\ntimezone = "Asia/Tokyo"\n', "config.example.toml")
    assert load_settings().plan.timezone == "Asia/Tokyo"


def test_config_toml_is_preferred_over_the_example(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, '[plan]\ntimezone = "Asia/Tokyo"\n', "config.example.toml")
    write_config(tmp_path, '[plan]\ntimezone = "Europe/Paris"\n', "config.toml")
    assert load_settings().plan.timezone == "Europe/Paris"


def test_duban_config_is_preferred_over_the_default_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, '[plan]\ntimezone = "Europe/Paris"\n', "config.toml")
    chosen = write_config(tmp_path, '[plan]\ntimezone = "America/Lima"\n', "chosen.toml")
    monkeypatch.setenv("DUBAN_CONFIG", str(chosen))
    assert load_settings().plan.timezone == "America/Lima"


def test_an_explicit_path_is_preferred_over_duban_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    other = write_config(tmp_path, '[plan]\ntimezone = "America/Lima"\n', "other.toml")
    chosen = write_config(tmp_path, '[plan]\ntimezone = "Africa/Cairo"\n', "chosen.toml")
    monkeypatch.setenv("DUBAN_CONFIG", str(other))
    assert load_settings(chosen).plan.timezone == "Africa/Cairo"


@pytest.mark.parametrize("zone", ["Mars/Base", "America", ""])
def test_an_unknown_time_zone_names_plan_timezone(tmp_path: Path, zone: str) -> None:
    error = config_error(write_config(tmp_path, f'[plan]\ntimezone = "{zone}"\n'))
    assert error.key == "plan.timezone"
    assert "plan.timezone" in str(error)


def test_an_unknown_time_zone_from_the_environment_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUBAN_PLAN__TIMEZONE", "Mars/Base")
    error = config_error(EXAMPLE)
    assert error.key == "plan.timezone"
    assert "$DUBAN_PLAN__TIMEZONE" in error.problem


def test_an_unknown_database_backend_names_database_url(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, '[database]\nurl = "mysql://duban@db/duban"\n'))
    assert error.key == "database.url"
    assert str(tmp_path / "config.toml") in error.problem


def test_an_unknown_backend_in_the_environment_names_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUBAN_DATABASE__URL", "oracle://scott@db/orcl")
    assert config_error(EXAMPLE).key == "database.url"


def test_an_unknown_key_in_a_section_is_named(tmp_path: Path) -> None:
    error = config_error(write_config(tmp_path, '[plan]\ntimezon = "Asia/Shanghai"\n'))
    assert error.key == "plan.timezon"


def test_an_unknown_section_is_named(tmp_path: Path) -> None:
    assert config_error(write_config(tmp_path, '[plans]\nsample = "x.txt"\n')).key == "plans"


def test_a_value_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    assert config_error(write_config(tmp_path, "[plan]\ntimezone = 8\n")).key == "plan.timezone"


@pytest.mark.parametrize("url", ["duban.example.gov.cn", "ftp://duban.example.gov.cn", "https://"])
def test_a_dashboard_address_that_is_not_an_http_url_is_named(tmp_path: Path, url: str) -> None:
    error = config_error(write_config(tmp_path, f'[web]\npublic_url = "{url}"\n'))
    assert error.key == "web.public_url"


def test_the_dashboard_address_loses_its_trailing_slash(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[web]\npublic_url = "https://duban.example.gov.cn/"\n')
    assert load_settings(path).web.public_url == "https://duban.example.gov.cn"


def test_a_section_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    assert config_error(write_config(tmp_path, 'plan = "Asia/Shanghai"\n')).key == "plan"


def test_a_section_variable_that_is_not_json_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUBAN_PLAN", "Asia/Shanghai")
    error = config_error(EXAMPLE)
    assert error.key == "环境变量"
    assert '"plan"' in error.problem


@pytest.mark.parametrize(
    "content",
    [b"[plan\ntimezone = 1\n", b'[plan]\ntimezone = "\xff\xfe"\n'],
    ids=["syntax", "bytes"],
)
def test_a_file_that_is_not_toml_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    error = config_error(path)
    assert error.key == str(path)
    assert "不是有效的 TOML" in error.problem


def test_a_missing_explicit_file_is_reported(tmp_path: Path) -> None:
    error = config_error(tmp_path / "absent.toml")
    assert error.key == "--config"
    assert "absent.toml" in error.problem


def test_a_missing_file_named_by_duban_config_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "absent.toml"))
    error = config_error()
    assert error.key == "--config"
    assert "absent.toml" in error.problem


DINGTALK_HOOK = '[inbound.dd]\nplatform = "dingtalk"\napp_secret = "s"\n'


@pytest.mark.parametrize(
    "origin",
    ["https://oapi.dingtalk.com/robot", "oapi.dingtalk.com", "ftp://oapi.dingtalk.com"],
)
def test_a_session_webhook_origin_with_a_path_or_another_scheme_is_named(
    tmp_path: Path, origin: str
) -> None:
    text = f'{DINGTALK_HOOK}session_webhook_origins = ["{origin}"]\n'
    error = config_error(write_config(tmp_path, text))
    assert error.key == "inbound.dd.session_webhook_origins"


def test_dingtalk_session_webhooks_go_to_dingtalks_hosts_over_https_by_default(
    tmp_path: Path,
) -> None:
    hook = load_settings(write_config(tmp_path, DINGTALK_HOOK)).inbound["dd"]
    assert hook.session_webhook_origins == (
        "https://oapi.dingtalk.com",
        "https://api.dingtalk.com",
    )


def test_a_feishu_hook_without_an_encrypt_key_is_refused_unless_unsigned_is_allowed(
    tmp_path: Path,
) -> None:
    hook = '[inbound.lark]\nplatform = "feishu"\nverification_token = "vt"\n'
    error = config_error(write_config(tmp_path, hook))
    assert error.key == "inbound.lark"
    assert "allow_unsigned" in str(error)
    allowed = load_settings(write_config(tmp_path, hook + "allow_unsigned = true\n"))
    assert allowed.inbound["lark"].allow_unsigned is True


@pytest.mark.parametrize(
    ("section", "key", "choices"),
    [
        (
            "channels.chat",
            "channels.chat.platform",
            "wecom、wecom_app、dingtalk、dingtalk_app、feishu、feishu_app",
        ),
        ("inbound.chat", "inbound.chat.platform", "wecom、dingtalk、feishu、generic"),
    ],
)
def test_an_unknown_platform_is_named_with_the_platforms_there_are(
    tmp_path: Path, section: str, key: str, choices: str
) -> None:
    error = config_error(write_config(tmp_path, f'[{section}]\nplatform = "slack"\n'))
    assert error.key == key
    assert f"应为以下之一：{choices}" in str(error)


@pytest.mark.parametrize(
    ("channel", "problem"),
    [
        ('platform = "console"\n', "不支持卡片"),
        (
            'platform = "dingtalk"\nwebhook = "https://oapi.dingtalk.com/r"\nmsgtype = "text"\n',
            "markdown",
        ),
    ],
)
def test_cards_on_a_channel_that_cannot_send_them_are_named(
    tmp_path: Path, channel: str, problem: str
) -> None:
    error = config_error(write_config(tmp_path, f"[channels.x]\n{channel}cards = true\n"))
    assert error.key == "channels.x"
    assert problem in str(error)


def test_cards_are_off_unless_a_channel_turns_them_on(tmp_path: Path) -> None:
    hook = '[channels.console]\nplatform = "console"\n'
    hook += '[channels.x]\nplatform = "feishu"\nwebhook = "https://open.feishu.cn/h"\n'
    assert load_settings(write_config(tmp_path, hook)).channels["x"].cards is False
    on = load_settings(write_config(tmp_path, hook + "cards = true\n"))
    assert on.channels["x"].cards is True


def test_a_feishu_app_channel_needs_its_app_id_and_chat(tmp_path: Path) -> None:
    app = '[channels.x]\nplatform = "feishu_app"\nwebhook = "https://open.feishu.cn"\n'
    app += 'secret = "s"\n'
    error = config_error(write_config(tmp_path, app + 'chat_id = "oc_1"\n'))
    assert "app_id" in str(error)
    error = config_error(write_config(tmp_path, app + 'app_id = "cli_1"\n'))
    assert "chat_id" in str(error)


def test_a_wecom_app_channel_needs_its_corp_and_agent(tmp_path: Path) -> None:
    app = '[channels.x]\nplatform = "wecom_app"\nwebhook = "https://qyapi.weixin.qq.com"\n'
    app += 'secret = "s"\n'
    assert "agent_id" in str(config_error(write_config(tmp_path, app + 'corp_id = "ww1"\n')))
    assert "corp_id" in str(config_error(write_config(tmp_path, app + "agent_id = 1000002\n")))


DINGTALK_APP = {
    "app_id": '"dingkey"',
    "secret": '"s"',
    "chat_id": '"cid=="',
    "robot_code": '"dingrobot"',
    "card_template_id": '"tmpl.schema"',
}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("app_id", "app_id（应用 ID）"),
        ("secret", "secret"),
        ("chat_id", "chat_id（群 ID）"),
        ("robot_code", "robot_code（机器人 RobotCode）"),
        ("card_template_id", "card_template_id（互动卡片模板 ID）"),
    ],
)
def test_a_dingtalk_app_channel_names_the_setting_it_lacks_in_chinese(
    tmp_path: Path, missing: str, named: str
) -> None:
    app = '[channels.x]\nplatform = "dingtalk_app"\nwebhook = "https://api.dingtalk.com"\n'
    app += "".join(f"{key} = {value}\n" for key, value in DINGTALK_APP.items() if key != missing)
    error = config_error(write_config(tmp_path, app))
    assert error.key == "channels.x"
    assert f"dingtalk_app 渠道需要 {named}" in str(error)


def test_a_complete_dingtalk_app_channel_loads_with_its_optional_route_key(tmp_path: Path) -> None:
    app = '[channels.console]\nplatform = "console"\n'
    app += '[channels.x]\nplatform = "dingtalk_app"\nwebhook = "https://api.dingtalk.com"\n'
    app += "".join(f"{key} = {value}\n" for key, value in DINGTALK_APP.items())
    channel = load_settings(write_config(tmp_path, app + 'callback_route_key = "duban"\n'))
    found = channel.channels["x"]
    assert (found.robot_code, found.card_template_id) == ("dingrobot", "tmpl.schema")
    assert found.callback_route_key == "duban"
    assert found.markup == "markdown"
