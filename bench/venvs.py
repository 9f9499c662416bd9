"""The peers' virtualenvs and the tools the benchmark needs (wrk, valgrind, matplotlib).

Each peer gets its own virtualenv under bench/.venvs/, made from the interpreter that runs the
project, with the project's own versions of Flask, Werkzeug, gunicorn, pycryptodome and xmltodict
wherever the peer uses them, so that only the code under test differs.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.catalog import VENVS

MARKER = ".bench-requirements"


def _project(name: str) -> str:
    return f"{name}=={importlib.metadata.version(name)}"


def requirements() -> dict[str, list[str]]:
    """What each bench virtualenv holds."""
    shared = [_project("gunicorn"), _project("xmltodict")]
    return {
        # wechatpy 1.8.18 uses cryptography when it is importable, else pycryptodome; only
        # pycryptodome is installed: the AES library wxserver uses.
        "wechatpy": [
            "wechatpy==1.8.18",
            _project("pycryptodome"),
            _project("flask"),
            _project("werkzeug"),
            *shared,
        ],
        # WeRoBot 1.13.1 requires cryptography for AES and serves with Bottle.
        "werobot": ["werobot==1.13.1", "cryptography", *shared],
        "tools": ["matplotlib"],
    }


def ensure(name: str, log: Path | None = None) -> Path:
    """Create or update bench/.venvs/``name``; return its interpreter."""
    wanted = requirements()[name]
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / MARKER
    if python.exists() and marker.exists() and marker.read_text().split("\n") == wanted:
        return python
    print(f"setting up {venv} with {' '.join(wanted)}", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    try:
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *wanted,
            ],
            check=True,
            stdout=output,
            stderr=subprocess.STDOUT if log is not None else None,
        )
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]
    marker.write_text("\n".join(wanted))
    return python


def versions(python: Path, names: list[str]) -> dict[str, str]:
    """Installed versions of ``names`` in the environment of ``python``."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=True
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


def ensure_program(program: str, package: str) -> None:
    """Install ``package`` with apt-get when ``program`` is not on the PATH (needs root)."""
    if shutil.which(program):
        return
    if os.geteuid() != 0:
        raise SystemExit(f"{program} is missing; install it: apt-get install -y {package}")
    print(f"installing {package} with apt-get", flush=True)
    subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", package],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
