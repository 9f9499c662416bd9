"""The targets: what each one is, which virtualenv serves it and how to check its replies."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.targets import credentials

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / "work"
VENVS = BENCH / ".venvs"
PROJECT_VENV = ROOT / ".venv"

MODES = ("secure", "plain")


@dataclass(frozen=True, slots=True)
class Target:
    """One WSGI app, served by gunicorn from ``venv`` as ``spec`` with ``env`` set."""

    name: str
    label: str
    spec: str
    venv: Path
    echoes: bool  # True: the reply echoes the text; False: a constant ``success``
    env: dict[str, str] = field(default_factory=dict)
    secure_env: dict[str, str] = field(default_factory=dict)
    plain_env: dict[str, str] = field(default_factory=dict)
    # Whether the target keeps files (a store, metrics): they go to a folder emptied per start.
    stateful: bool = False
    # The embedded store a stateful target keeps in that folder (unless its env names another).
    store: str = "lmdb"
    # wxserver itself: the shipped gunicorn settings apply to it.
    project: bool = False

    def state_dir(self, mode: str) -> Path:
        """The folder this target keeps its files in for ``mode``; emptied before each start."""
        return WORK / "state" / f"{self.name}-{mode}"

    def environment(self, mode: str) -> dict[str, str]:
        """The variables this target is started with in ``mode``."""
        extra = self.secure_env if mode == "secure" else self.plain_env
        env = {**self.env, **extra}
        if self.stateful:
            state = self.state_dir(mode)
            name = "store.lmdb" if self.store == "lmdb" else "store.db"
            env.setdefault("WX_STORE_URL", f"{self.store}:///{state.relative_to(ROOT)}/{name}")
            # As config/gunicorn.conf.py does in production: prometheus-client's multiprocess
            # mode, every worker writing its counters to files in this folder.
            env["PROMETHEUS_MULTIPROC_DIR"] = str(state / "metrics")
        return env

    def reset_state(self, mode: str) -> None:
        """Empty the state folder: a fresh store and no metric files from an earlier start."""
        if not self.stateful:
            return
        state = self.state_dir(mode)
        shutil.rmtree(state, ignore_errors=True)
        (state / "metrics").mkdir(parents=True)

    @property
    def python(self) -> Path:
        """The interpreter of this target's virtualenv."""
        return self.venv / "bin" / "python"

    @property
    def gunicorn(self) -> Path:
        """The gunicorn of this target's virtualenv."""
        return self.venv / "bin" / "gunicorn"


_WXSERVER_ENV = {
    # No config/bench.toml exists, so only the embedded defaults and these variables apply.
    "WX_ENV": "bench",
    "WX_TOKEN": credentials.TOKEN,
    "WX_APPID": credentials.APP_ID,
    "WX_ENCODING_AES_KEY": credentials.ENCODING_AES_KEY,
    "WX_PLUGINS": "bench.targets.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
    "WX_PATH": credentials.PATH,
    # The corpus is signed once per run, which may last longer than the default 300 s; the check
    # still runs on every request, only its window is wider.
    "WX_TIMESTAMP_TOLERANCE": "86400",
}

_WXSERVER = Target(
    "wxserver",
    "wxserver (echo handler, LMDB store)",
    "wsgi:app",
    PROJECT_VENV,
    echoes=True,
    env=_WXSERVER_ENV,
    secure_env={"WX_MODE": "secure"},
    plain_env={"WX_MODE": "plain"},
    stateful=True,
    project=True,
)

TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        _WXSERVER,
        # Not measured unless named: wxserver on its other single-machine store, and on the
        # in-process one.
        replace(_WXSERVER, name="wxserver-sqlite", label="wxserver, SQLite store", store="sqlite"),
        replace(
            _WXSERVER,
            name="wxserver-memory",
            label="wxserver, memory:// store",
            env={**_WXSERVER_ENV, "WX_STORE_URL": "memory://"},
        ),
        Target(
            "werobot",
            "WeRoBot 1.13.1 (Bottle + cryptography)",
            "bench.targets.werobot_app:app",
            VENVS / "werobot",
            echoes=True,
        ),
        Target(
            "wechatpy",
            "wechatpy 1.8.18 + Flask + pycryptodome",
            "bench.targets.wechatpy_app:app",
            VENVS / "wechatpy",
            echoes=True,
        ),
        Target(
            "plain-flask",
            "plain Flask + pycryptodome + xmltodict",
            "bench.targets.plain_flask:app",
            PROJECT_VENV,
            echoes=True,
        ),
        Target(
            "flask-constant",
            "Flask view returning a constant",
            "bench.targets.flask_constant:app",
            PROJECT_VENV,
            echoes=False,
        ),
        Target(
            "bare-wsgi",
            "bare WSGI function",
            "bench.targets.bare_wsgi:app",
            PROJECT_VENV,
            echoes=False,
        ),
    )
}

PEERS = ("werobot", "wechatpy", "plain-flask")
CEILINGS = ("flask-constant", "bare-wsgi")
DEFAULT_TARGETS = ("wxserver", *PEERS, *CEILINGS)
