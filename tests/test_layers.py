"""Meta-tests that keep the architecture true: layers as folders, no circles, small modules.

The layers, bottom up, are folders of the package; a module may import its own layer and the ones
below it, never one above. Each module is imported alone in a fresh interpreter, so what it loads
through other modules counts too, not only the imports written in it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import wxserver
from wxserver.protocol import events
from wxserver.protocol.errors import WxServerError
from wxserver.services.context import HandlerContext, current_context
from wxserver.web.app import create_app

PACKAGE = Path(wxserver.__file__).parent
ROOT = PACKAGE.parent
# Folder -> height. builtin holds the handler sets shipped with the server: plugin code, which
# uses the services a handler can reach and nothing of the web.
LAYERS = {"protocol": 0, "services": 1, "builtin": 2, "web": 3, "cli": 4}
# The public surface at the top of the package: re-exports only, each at the height it reaches.
SURFACE = {"wxserver": 0, "wxserver.testing": 3}
# What the protocol layer never loads: web frameworks, network, disk-backed stores, metrics, CLI.
IO_LIBRARIES = (
    "flask",
    "werkzeug",
    "httpx",
    "huey",
    "lmdb",
    "redis",
    "prometheus_client",
    "click",
    "sqlite3",
)
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _height(module: str) -> int:
    if module in SURFACE:
        return SURFACE[module]
    folder = module.split(".")[1]
    return LAYERS[folder]


def test_layers_every_module_lives_in_a_layer_folder() -> None:
    stray = [name for name in MODULES if name not in SURFACE and name.split(".")[1] not in LAYERS]
    assert stray == []


def _loaded_by(module: str) -> tuple[str, list[str]]:
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return module, json.loads(done.stdout)


@pytest.fixture(scope="module")
def loaded() -> dict[str, list[str]]:
    """What importing each module alone, in a fresh interpreter, puts in ``sys.modules``."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(_loaded_by, MODULES))


def test_layers_no_module_loads_a_layer_above_its_own(loaded: dict[str, list[str]]) -> None:
    above = {
        module: [
            name
            for name in names
            if name in MODULES and name != "wxserver" and _height(name) > _height(module)
        ]
        for module, names in loaded.items()
    }
    assert {module: names for module, names in above.items() if names} == {}


def test_layers_protocol_loads_no_io_library(loaded: dict[str, list[str]]) -> None:
    protocol = [name for name in MODULES if name == "wxserver.protocol" or _height(name) == 0]
    assert "wxserver.protocol.crypto" in protocol
    heavy = {
        module: sorted({name.split(".")[0] for name in loaded[module]} & set(IO_LIBRARIES))
        for module in protocol
    }
    assert {module: names for module, names in heavy.items() if names} == {}


def test_layers_import_wxserver_alone_builds_no_app(loaded: dict[str, list[str]]) -> None:
    assert "flask" not in loaded["wxserver"]
    assert "wxserver.web.app" not in loaded["wxserver"]


# --- circles ------------------------------------------------------------------------------------


def _imported(module: str, path: Path) -> set[str]:
    """The package's modules ``module`` imports, type-checking-only imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from a.b import c`` imports the module a.b.c when there is one, else a.b.
            targets = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in MODULES
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(target for target in targets if target in MODULES and target != module)
    return found


def _circles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                yield from visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in sorted(graph):
        if node not in index:
            yield from visit(node)


def test_layers_no_import_circles() -> None:
    graph = {module: _imported(module, path) for module, path in MODULES.items()}
    assert sum(len(targets) for targets in graph.values()) > 100  # the graph was read
    assert list(_circles(graph)) == []


def test_layers_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert list(_circles(graph)) == [["a", "b", "c"]]


def test_layers_no_module_over_400_lines() -> None:
    files = [
        *PACKAGE.rglob("*.py"),
        *(ROOT / "bench").glob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
    ]
    long = {
        str(path.relative_to(ROOT)): count
        for path in files
        if (count := len(path.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


# --- the public surface -------------------------------------------------------------------------


def test_public_api_all_is_sorted_and_documented() -> None:
    names = wxserver.__all__
    assert len(set(names)) == len(names)  # the order itself is kept by ruff (RUF022)
    for name in names:
        obj = getattr(wxserver, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_public_api_init_only_reexports() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text("utf-8"))
    for node in tree.body:
        assert isinstance(
            node, ast.ImportFrom | ast.Import | ast.Assign | ast.Expr | ast.If | ast.FunctionDef
        ), ast.dump(node)[:80]
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert functions == ["__getattr__"]  # the lazy re-export, nothing else


def test_public_api_lazy_names_are_the_real_objects() -> None:
    assert wxserver.create_app is create_app
    assert wxserver.HandlerContext is HandlerContext
    assert wxserver.current_context is current_context
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = wxserver.nothing_here


def test_public_api_exports_every_event_and_deferred() -> None:
    exported = set(wxserver.__all__)
    event_classes = {
        name
        for name, obj in vars(events).items()
        if inspect.isclass(obj) and obj.__module__ == events.__name__
    }
    assert event_classes <= exported
    assert {"Deferred", "ApiError", "ApiUnavailableError", "WxServerError"} <= exported


def test_errors_every_exception_derives_from_the_one_base() -> None:
    outside = []
    for name in MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and obj.__module__ == name
                and issubclass(obj, BaseException)
                and not issubclass(obj, WxServerError)
            ):
                outside.append(f"{name}.{obj.__name__}")
    assert outside == []
