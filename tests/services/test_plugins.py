"""Loading handler sets from specs and entry points, and how failures are reported."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tests.support import HERMETIC_ENV, config_with
from wxserver import create_app
from wxserver.protocol.errors import PluginError
from wxserver.protocol.handlers import HandlerSet
from wxserver.services.plugins import GROUP, load_handler_sets, load_spec


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path where a test writes plugin modules."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("wxplug_")]:
        del sys.modules[name]


def write(folder: Path, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(source))


GOOD = """
    from wxserver import HandlerSet
    handlers = HandlerSet("{name}")
    @handlers.text()
    def hello(message):
        return "{name}"
"""


def test_plugins_load_spec_returns_the_handler_set(plugin_dir: Path) -> None:
    write(plugin_dir, "wxplug_good", GOOD.format(name="good"))
    handler_set = load_spec("wxplug_good:handlers")
    assert isinstance(handler_set, HandlerSet)
    assert handler_set.name == "good"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("wxplug_good", "not of the form 'module:attr'"),
        ("wxplug_missing:handlers", "could not be imported: ModuleNotFoundError"),
        ("wxplug_good:nothing", "has no nothing"),
        ("wxplug_good:hello_text", "is a str, not a wxserver.HandlerSet"),
        ("wxplug_broken:handlers", "could not be imported: ZeroDivisionError"),
    ],
    ids=["no-colon", "no-module", "no-attr", "wrong-type", "raises-on-import"],
)
def test_plugins_failure_names_the_plugin(plugin_dir: Path, spec: str, fragment: str) -> None:
    write(
        plugin_dir, "wxplug_good", textwrap.dedent(GOOD.format(name="good")) + "hello_text = 'x'\n"
    )
    write(plugin_dir, "wxplug_broken", "x = 1 / 0\n")
    with pytest.raises(PluginError) as caught:
        load_spec(spec)
    assert spec.split(":", maxsplit=1)[0] in str(caught.value)
    assert fragment in str(caught.value)


def test_plugins_order_is_specs_then_entry_points_by_name(plugin_dir: Path) -> None:
    for name in ("a", "b", "c", "d"):
        write(plugin_dir, f"wxplug_{name}", GOOD.format(name=name))
    installed = [
        EntryPoint("zeta", "wxplug_c:handlers", GROUP),
        EntryPoint("alpha", "wxplug_d:handlers", GROUP),
        EntryPoint("named", "wxplug_a:handlers", GROUP),
    ]
    sets = load_handler_sets(["wxplug_b:handlers", "named"], installed=installed)
    assert [s.name for s in sets] == ["b", "a", "d", "c"]
    only_specs = load_handler_sets(
        ["wxplug_b:handlers"], installed=installed, use_entry_points=False
    )
    assert [s.name for s in only_specs] == ["b"]


def test_plugins_same_set_twice_loads_once(plugin_dir: Path) -> None:
    write(plugin_dir, "wxplug_a", GOOD.format(name="a"))
    sets = load_handler_sets(["wxplug_a:handlers", "wxplug_a:handlers"], installed=[])
    assert len(sets) == 1


def test_plugins_broken_entry_point_names_it(plugin_dir: Path) -> None:
    write(plugin_dir, "wxplug_broken", "raise RuntimeError('no config')\n")
    installed = [EntryPoint("brokenplug", "wxplug_broken:handlers", GROUP)]
    with pytest.raises(PluginError, match=r"entry point 'brokenplug'.*RuntimeError: no config"):
        load_handler_sets([], installed=installed)


def test_plugins_failure_stops_create_app(plugin_dir: Path) -> None:
    config = config_with()
    config["plugins"] = ["wxplug_nowhere:handlers"]
    with pytest.raises(PluginError, match="wxplug_nowhere"):
        create_app(config, environ=HERMETIC_ENV)


def test_plugins_per_account_handler_sets(plugin_dir: Path) -> None:
    write(plugin_dir, "wxplug_a", GOOD.format(name="a"))
    write(plugin_dir, "wxplug_b", GOOD.format(name="b"))
    config = config_with(plugins=["wxplug_a:handlers"])
    config["accounts"]["shop"] = {
        "path": "/shop",
        "token": "shoptoken",
        "plugins": ["wxplug_b:handlers"],
    }
    app = create_app(config, environ=HERMETIC_ENV)
    endpoints = app.extensions["wxserver"].accounts
    assert [hs.name for hs in endpoints["default"].router.handler_sets] == ["a"]
    assert [hs.name for hs in endpoints["shop"].router.handler_sets] == ["b"]
