"""Meta-tests that keep the architecture's rules true."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import wxserver

PACKAGE = Path(wxserver.__file__).parent
PROTOCOL = [
    "signature",
    "crypto",
    "parsing",
    "fields",
    "builders",
    "events",
    "messages",
    "replies",
    "routing",
    "errors",
]
SERVICES = [
    "settings",
    "accounts",
    "defaults",
    "plugins",
    "endpoint",
    "context",
    "store",
    "sessions",
    "api",
    "api_transport",
    "api_errors",
    "tokens",
    "metrics",
    "addresses",
    "allowlist",
    "deferred",
    "jobs",
    "answering",
    "oauth",
    "menu",
    "netcheck",
    "doctor",
]


@pytest.mark.parametrize("module", PROTOCOL)
def test_layers_protocol_modules_load_without_flask_or_network(module: str) -> None:
    code = (
        "import sys\n"
        f"import wxserver.{module}\n"
        "bad = [m for m in ('flask', 'werkzeug', 'httpx', 'requests', 'sqlite3', 'lmdb')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    # wxserver/__init__ pulls in the app; load the module file alone by path instead.
    code = code.replace(
        f"import wxserver.{module}\n",
        "import importlib.util, types\n"
        f"pkg = types.ModuleType('wxserver'); pkg.__path__ = [{str(PACKAGE)!r}]\n"
        "sys.modules['wxserver'] = pkg\n"
        f"importlib.import_module('wxserver.{module}')\n",
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("module", SERVICES)
def test_layers_services_do_not_import_the_web_layer(module: str) -> None:
    path = PACKAGE / module
    files = list(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    for file in files:
        imported = _imports(file)
        assert not {"flask", "wxserver.app", "wxserver.views", "wxserver.cli"} & imported, file


def test_public_api_all_is_sorted_and_documented() -> None:
    names = wxserver.__all__
    assert len(set(names)) == len(names)  # the order itself is kept by ruff (RUF022)
    tree = ast.parse((PACKAGE / "__init__.py").read_text("utf-8"))
    imported = {
        a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
    }
    assert imported == set(names)
    for name in names:
        obj = getattr(wxserver, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_public_api_init_only_reexports() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text("utf-8"))
    for node in tree.body:
        assert isinstance(node, ast.ImportFrom | ast.Assign | ast.Expr), ast.dump(node)[:80]
