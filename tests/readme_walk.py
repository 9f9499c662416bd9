"""README.md's "Deploying" section, followed line by line as root on a machine of its own.

``python -m tests.readme_walk`` re-runs itself in new mount and network namespaces: /etc, /srv,
/var and /run are overlays whose changes vanish with it, and the loopback is its own, so ports
80, 443 and 8000 are free. There every command of the section runs as written, in bash, with
``your.domain`` read as 127.0.0.1 in URLs (no DNS here) and ``<this repository>`` as this
checkout. Five programs are stood in for by commands of
this module, first on the PATH, each doing in the sandbox what the real one does on a server:

- ``apt-get install``: checks that the packages' programs are here (the machine has no mirror);
- ``git clone``: copies this checkout's files, committed or not;
- ``python3 -m venv``: makes the virtualenv, and lets its pip find the packages of the test run's
  virtualenv instead of the package index (the sandbox has no network); the app itself is built
  and installed by the README's own pip command;
- ``systemctl``: starts a unit's ExecStart as its User, with its EnvironmentFile and
  WorkingDirectory, waits for gunicorn's READY=1 on NOTIFY_SOCKET (Type=notify); reloads nginx;
- ``certbot``: the CA. It fetches a challenge file over port 80 as Let's Encrypt does, issues a
  certificate for the domain (and 127.0.0.1) into /etc/letsencrypt/live/, and runs the deploy
  hook; after the walk it renews once, and the walk checks that nginx then serves the new one.

Exit status 0 when every line ran and the handshake through nginx succeeded.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers import ROOT
from tests.support import AES_KEY, APP_ID, TOKEN
from tests.walk_standins import STANDINS, STATE, SYSTEMD_PATH, issue, nginx_master, run, started

README = ROOT / "README.md"
OVERLAID = ("etc", "srv", "var", "run")


def deployment_lines(text: str) -> list[str]:
    """Every command of the "Deploying" section's sh blocks, in order."""
    section = text.split("\n## Deploying", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


# --- the sandbox -------------------------------------------------------------------------------


def _sandbox(scratch: Path) -> None:
    """Overlays on /etc, /srv, /var and /run, and the loopback up (inside the new namespaces)."""
    run(["mount", "-t", "tmpfs", "tmpfs", str(scratch)])
    for name in OVERLAID:
        upper, work = scratch / "upper" / name, scratch / "work" / name
        upper.mkdir(parents=True)
        work.mkdir(parents=True)
        options = f"lowerdir=/{name},upperdir={upper},workdir={work}"
        run(["mount", "-t", "overlay", "overlay", "-o", options, f"/{name}"])
    run(["ip", "link", "set", "lo", "up"])


def _install_shims(folder: Path) -> None:
    folder.mkdir()
    for name in STANDINS:
        shim = folder / name
        shim.write_text(
            f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} "
            f'-P -m tests.readme_walk --shim {name} "$@"\n'
        )
        shim.chmod(0o755)


def _walk_env(shims: Path) -> dict[str, str]:
    return {
        "PATH": f"{shims}:{SYSTEMD_PATH}",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "WXWALK_STATE": str(STATE),
        # The package index is the test run's virtualenv (see the python3 stand-in).
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        # The walk's CA (see the certbot stand-in) is the one curl and httpx trust.
        "SSL_CERT_FILE": str(STATE / "ca.pem"),
        "CURL_CA_BUNDLE": str(STATE / "ca.pem"),
    }


def _inside() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="wxserver-walk-"))
    _sandbox(scratch)
    STATE.mkdir(parents=True, exist_ok=True)
    shims = scratch / "shims"
    _install_shims(shims)
    env = _walk_env(shims)
    cwd = "/root"
    try:
        for line in deployment_lines(README.read_text("utf-8")):
            command = line.replace("https://your.domain", "https://127.0.0.1").replace(
                "<this repository>", str(ROOT)
            )
            print(f"$ {line}", flush=True)
            script = (
                f"cd {shlex.quote(cwd)}\n{command}\nstatus=$?\npwd > {STATE}/cwd\nexit $status\n"
            )
            done = subprocess.run(
                ["bash", "-c", script], env=env, capture_output=True, text=True, check=False
            )
            print(done.stdout + done.stderr, end="", flush=True)
            if done.returncode != 0:
                print(f"FAILED ({done.returncode}): {line}")
                return 1
            cwd = (STATE / "cwd").read_text().strip()
            if "# then fill in" in line:
                _fill_in(Path("/etc/wxserver.env"))
        return _after_walk(env)
    finally:
        _stop_everything()


def _fill_in(path: Path) -> None:
    """The admin's edit: the MP console's values (the tests' public ones) into the file."""
    values = {
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_ENCODING_AES_KEY": AES_KEY,
        "WX_MODE": "secure",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    }
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        key = line.split("=", 1)[0]
        if key in values:
            lines[index] = f"{key}={values.pop(key)}"
    assert values == {}, f"config/example.env has no line for {sorted(values)}"
    path.write_text("\n".join(lines) + "\n")
    print(f"(filled in {path}: the account's Token, AppID, EncodingAESKey, mode and plugins)")


def _after_walk(env: dict[str, str]) -> int:
    """The services are still up, and a renewal's deploy hook makes nginx serve the new one."""
    for pid in started():
        if not Path(f"/proc/{pid}").exists():
            print(f"FAILED: a started service (pid {pid}) is no longer running")
            return 1
    before = _served_certificate()
    hook, lineage = json.loads((STATE / "certbot.json").read_text())
    issue(Path(lineage), Path(lineage).name)
    subprocess.run(["bash", "-c", hook], env={**env, "RENEWED_LINEAGE": lineage}, check=True)
    after = _served_certificate()
    if after == before or after != ssl.PEM_cert_to_DER_cert((STATE / "ca.pem").read_text()):
        print("FAILED: after the renewal, nginx does not serve the renewed certificate")
        return 1
    print("renewal: the deploy hook linked the new certificate and nginx serves it")
    print("WALK OK")
    return 0


def _served_certificate() -> bytes:
    context = ssl.create_default_context(cafile=str(STATE / "ca.pem"))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", 443), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def _stop_everything() -> None:
    """Stop each process group the walk started (services, nginx), then wait for them."""
    pids = started()
    master = nginx_master()
    if master is not None:
        pids.append(int(master))
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    for group in groups:
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue


def main(argv: list[str]) -> int:
    """The walk (from outside: in new namespaces), or one of its stand-ins (``--shim NAME``)."""
    if argv[:1] == ["--shim"]:
        return STANDINS[argv[1]](argv[2:])
    if argv[:1] == ["--inside"]:
        return _inside()
    state = Path(tempfile.mkdtemp(prefix="wxserver-walk-state-"))
    try:
        return subprocess.run(
            [
                *("unshare", "--mount", "--net", "--fork", "--kill-child"),
                *("--propagation", "private", sys.executable, "-m", "tests.readme_walk"),
                "--inside",
            ],
            cwd=ROOT,
            env={**os.environ, "WXWALK_STATE": str(state), "PYTHONPATH": str(ROOT)},
            check=False,
        ).returncode
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
