"""The report of a failed start: key, value masked, fix, at most a few lines, no secret."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import TOKEN
from wxserver.protocol.errors import ConfigError, PluginError, WxServerError
from wxserver.services.config import load_settings
from wxserver.services.plugins import load_handler_sets
from wxserver.services.startup import debug_requested, failure_report


def _config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings({"WX_ENV": "test", **environ})
    return caught.value


def test_startup_report_names_key_value_and_fix() -> None:
    environ = {"WX_MODE": "plian"}
    report = failure_report(_config_error({"WX_TOKEN": TOKEN, **environ}), environ)
    first, fix, hint = report.splitlines()
    assert first.startswith("wxserver cannot start: WX_MODE (accounts.default.mode) is 'plian'")
    assert first.endswith("its value: 'plian'.")
    assert fix == "Fix: Use plain, compat or secure."
    assert "WX_DEBUG=1" in hint


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        (None, "its value: not set in the environment."),
        ("", "its value: '' (empty)."),
        ("bad-token!", "its value: set, 10 characters (hidden)."),
    ],
    ids=["unset", "empty", "set"],
)
def test_startup_report_masks_a_secret(token: str | None, shown: str) -> None:
    environ = {} if token is None else {"WX_TOKEN": token}
    report = failure_report(_config_error(environ), environ)
    assert report.splitlines()[0].endswith(shown)
    assert "bad-token" not in report


def test_startup_report_masks_a_secret_set_by_path() -> None:
    environ = {
        "WX_TOKEN": TOKEN,
        "WX__ACCOUNTS__SHOP__PATH": "/shop",
        "WX__ACCOUNTS__SHOP__TOKEN": "x!",
    }
    report = failure_report(_config_error(environ), environ)
    assert "accounts.shop.token" in report
    assert "set, 2 characters (hidden)" in report
    assert "x!" not in report


def test_startup_report_adds_the_misspelled_variable() -> None:
    environ = {"WX_TOKNE": TOKEN}
    report = failure_report(_config_error(environ), environ)
    assert "Note: WX_TOKNE is set but is not a wxserver setting: did you mean WX_TOKEN?" in report
    assert len(report.splitlines()) == 4


def _plugin_error(tmp_path: Path, source: str) -> PluginError:
    (tmp_path / "wxplug_broken.py").write_text(textwrap.dedent(source))
    sys.modules.pop("wxplug_broken", None)
    try:
        with pytest.raises(PluginError) as caught:
            load_handler_sets(["wxplug_broken:handlers"], search_path=[str(tmp_path)])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wxplug_broken", None)
    return caught.value


@pytest.mark.parametrize(
    ("source", "found", "fix"),
    [
        ("x = (\n", "SyntaxError", "Fix the error in the plugin's code"),
        ("import os\nraise RuntimeError('no db')\n", "wxplug_broken.py, line 2", "Fix the error"),
        ("import wxplug_absent\n", "No module named 'wxplug_absent'", "WX_PLUGIN_PATH"),
    ],
    ids=["syntax-error", "raises-on-import", "missing-module"],
)
def test_startup_report_of_a_plugin(tmp_path: Path, source: str, found: str, fix: str) -> None:
    environ = {"WX_PLUGINS": "wxplug_broken:handlers"}
    report = failure_report(_plugin_error(tmp_path, source), environ)
    first, fix_line, _ = report.splitlines()
    assert "handler set 'wxplug_broken:handlers' could not be imported" in first
    assert found in first
    assert first.endswith("WX_PLUGINS: 'wxplug_broken:handlers'.")
    assert fix_line.startswith("Fix: ")
    assert fix in fix_line


def test_startup_plugin_path_makes_a_plugin_importable(tmp_path: Path) -> None:
    (tmp_path / "wxplug_found.py").write_text(
        "from wxserver import HandlerSet\nhandlers = HandlerSet('found')\n"
    )
    try:
        (found,) = load_handler_sets(
            ["wxplug_found:handlers"], use_entry_points=False, search_path=[str(tmp_path)]
        )
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wxplug_found", None)
    assert found.name == "found"


def test_startup_report_of_another_error() -> None:
    assert failure_report(WxServerError("the store is gone"), {}).splitlines()[0] == (
        "wxserver cannot start: the store is gone"
    )


@pytest.mark.parametrize(
    ("value", "asked"),
    [(None, False), ("", False), ("0", False), ("false", False), ("1", True), ("yes", True)],
    ids=["unset", "empty", "zero", "false", "one", "yes"],
)
def test_startup_debug_requested(value: str | None, asked: bool) -> None:
    assert debug_requested({} if value is None else {"WX_DEBUG": value}) is asked


UNCAUGHT = """
from wxserver import create_app
create_app({"accounts": {"default": {"token": "no!"}}}, environ={"WX_ENV": "test"})
"""


@pytest.mark.parametrize("debug", [False, True], ids=["report", "traceback-when-asked"])
def test_startup_uncaught_factory_failure_ends_with_the_report(debug: bool) -> None:
    environ = {"WX_DEBUG": "1"} if debug else {}
    done = subprocess.run(
        [sys.executable, "-c", UNCAUGHT],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", **environ},
    )
    assert done.returncode == 1
    assert ("Traceback" in done.stderr) is debug
    assert "accounts.default.token" in done.stderr
    if not debug:
        assert done.stderr.startswith("wxserver cannot start: WX_TOKEN (accounts.default.token)")
