"""The environment layer: values typed like TOML values, unknown names, which file is read, and
the refusal of a queue the job worker cannot reach."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.services.config import load_settings
from wxserver.services.config.environment import typed_value, unknown_names

GOOD_ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "secure",
}


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("10", "int", 10),
        (" 64_000 ", "int", 64000),
        ("4.5", "float", 4.5),
        ("4", "float", 4.0),
        ("true", "bool", True),
        ("off", "bool", False),
        ("a:b, c:d", "list", ["a:b", "c:d"]),
        ('["a:b", "c:d"]', "list", ["a:b", "c:d"]),
        (f"/srv/a{os.pathsep}/srv/b", "paths", ["/srv/a", "/srv/b"]),
        ("1e5", "str", "1e5"),
        ("0123", "str", "0123"),
        ("12", "", 12),
        ("shop", "", "shop"),
    ],
    ids=[
        "int",
        "int-underscores",
        "float",
        "int-as-float",
        "bool-toml",
        "bool-word",
        "list-commas",
        "list-toml-array",
        "paths",
        "text-that-looks-like-a-number",
        "text-with-leading-zero",
        "unknown-kind-number",
        "unknown-kind-text",
    ],
)
def test_environment_values_are_typed_like_toml(text: str, kind: str, value: Any) -> None:
    assert typed_value("WX_X", text, kind) == value


@pytest.mark.parametrize(
    ("text", "kind", "problem"),
    [
        ("10s", "int", "whole number"),
        ("true", "int", "whole number"),
        ("soon", "float", "number of seconds"),
        ("maybe", "bool", "true or false"),
        ("[1, 2", "list", "must be a list"),
    ],
    ids=["int-with-unit", "bool-for-int", "word-for-float", "word-for-bool", "broken-array"],
)
def test_environment_bad_values_name_the_variable(text: str, kind: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        typed_value("WX_SOMETHING", text, kind)
    assert caught.value.key == "WX_SOMETHING"


def test_environment_account_path_variable_is_typed() -> None:
    settings = load_settings({**GOOD_ENV, "WX__ACCOUNTS__DEFAULT__TIMESTAMP_TOLERANCE": "10"})
    assert settings.account("default").timestamp_tolerance == 10


def test_environment_account_path_variable_keeps_text_settings_as_text() -> None:
    env = {**GOOD_ENV, "WX__ACCOUNTS__SHOP__PATH": "/shop", "WX__ACCOUNTS__SHOP__TOKEN": "1e5"}
    env["WX__ACCOUNTS__SHOP__MODE"] = "plain"
    assert load_settings(env).account("shop").token.reveal() == "1e5"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("WX_MDOE", "WX_MODE"), ("WX_TOKNE", "WX_TOKEN"), ("WX_STORE", "WX_STORE_URL")],
    ids=["swapped-letters", "typo", "shortened"],
)
def test_environment_unknown_name_suggests_the_closest(name: str, suggestion: str) -> None:
    notes = unknown_names({**GOOD_ENV, name: "plain"})
    assert notes == [f"{name} is set but is not a wxserver setting: did you mean {suggestion}?"]


def test_environment_known_and_path_names_are_not_reported() -> None:
    env = {**GOOD_ENV, "WX_DEBUG": "1", "WX_CONFIG_DIR": "config", "WX__ACCOUNTS__X__TOKEN": "t"}
    assert unknown_names({**env, "WXSOMETHING": "1", "PATH": "/bin"}) == []


def test_environment_far_unknown_name_points_at_the_list() -> None:
    (note,) = unknown_names({"WX_QQQQQQQQQQQQQ": "1"})
    assert note.endswith("the README lists the settings.")


# --- which file is read --------------------------------------------------------------------------


def test_config_file_missing_explicit_file_names_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"tried {tmp_path / 'wxserver.tmol'}"):
        load_settings({**GOOD_ENV, "WX_CONFIG": "wxserver.tmol"})


def test_config_file_required_environment_names_the_path_tried(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD_ENV, "WX_CONFIG_DIR": str(tmp_path / "config")}, require_file=True)
    assert caught.value.key == "WX_ENV"
    assert f"tried {tmp_path / 'config' / 'test.toml'}" in caught.value.problem
    assert "--config" in caught.value.fix


def test_config_file_misspelled_environment_suggests_the_file(tmp_path: Path) -> None:
    (tmp_path / "development.toml").write_text("")
    env = {**GOOD_ENV, "WX_ENV": "developmnet", "WX_CONFIG_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="environments there: development") as caught:
        load_settings(env)
    assert caught.value.fix.startswith("did you mean development?")


def test_config_file_environment_without_a_file_reads_the_environment_only(
    tmp_path: Path,
) -> None:
    (tmp_path / "development.toml").write_text('[accounts.default]\ntoken = "fromfile"\n')
    settings = load_settings({**GOOD_ENV, "WX_CONFIG_DIR": str(tmp_path)})
    assert settings.account("default").token.reveal() == TOKEN


# --- the worker's queue ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "platform",
    [{"DYNO": "web.1"}, {"WX_WORKER_ELSEWHERE": "true"}],
    ids=["procfile-platform", "declared"],
)
@pytest.mark.parametrize("store", ["lmdb:///instance/s.lmdb", "sqlite:///instance/s.db"])
def test_worker_elsewhere_refuses_a_local_store(platform: dict[str, str], store: str) -> None:
    with pytest.raises(ConfigError, match="job worker runs on another host") as caught:
        load_settings({**GOOD_ENV, **platform, "WX_STORE_URL": store})
    assert caught.value.key.startswith("WX_STORE_URL")
    assert "redis://" in caught.value.fix


def test_worker_elsewhere_accepts_redis() -> None:
    env = {**GOOD_ENV, "DYNO": "web.1", "WX_STORE_URL": "redis://127.0.0.1:6379/0"}
    assert load_settings(env).worker_elsewhere is True


def test_worker_elsewhere_can_be_declared_off_on_a_platform() -> None:
    env = {**GOOD_ENV, "DYNO": "web.1", "WX_WORKER_ELSEWHERE": "false"}
    assert load_settings(env).worker_elsewhere is False


def test_plugin_path_is_split_like_pythonpath() -> None:
    settings = load_settings({**GOOD_ENV, "WX_PLUGIN_PATH": f"/srv/a{os.pathsep}plugins"})
    assert settings.plugin_path == ("/srv/a", "plugins")
