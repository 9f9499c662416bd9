"""The programs tests/readme_walk.py stands in for, run as commands in its sandbox.

Each does, inside the walk's namespaces, what the real program does on a server: see
tests/readme_walk.py for the list and why. ``python -m tests.readme_walk --shim NAME ...`` runs
them; their state (what was started, the CA's certificate) is kept in ``$WXWALK_STATE``.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.servers import ROOT

STATE = Path(os.environ.get("WXWALK_STATE", "/nonexistent"))
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Debian package -> the program the walk uses from it ("": the walk stands in for it or checks it
# in a later step).
PACKAGE_PROGRAMS = {"python3-venv": "", "git": "git", "nginx": "nginx", "certbot": ""}


def run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, **options)  # type: ignore[call-overload, no-any-return]


def started() -> list[int]:
    path = STATE / "pids"
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


# --- the stand-ins -----------------------------------------------------------------------------


def _apt_get(args: list[str]) -> int:
    packages = [arg for arg in args if arg not in ("install", "-y")]
    for package in packages:
        program = PACKAGE_PROGRAMS[package]
        if program and shutil.which(program, path=SYSTEMD_PATH) is None:
            print(f"apt-get stand-in: {package} is not installed here ({program} missing)")
            return 1
        print(f"apt-get stand-in: {package}: " + ("present" if program else "not needed here"))
    return 0


def _git(args: list[str]) -> int:
    if args[0] != "clone":
        return 1
    destination = Path(args[-1])
    git = shutil.which("git", path=SYSTEMD_PATH) or "git"  # the real one, not this stand-in
    listed = run([git, "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    print(f"git clone stand-in: copied this checkout to {destination}")
    return 0


def _python3(args: list[str]) -> int:
    done = subprocess.run([sys.executable, *args], check=False)
    if args[:2] != ["-m", "venv"] or done.returncode:
        return done.returncode
    venv = Path(args[2]).absolute()
    # The test run's packages stand in for the package index: pip finds them installed; their
    # commands are written as pip would write them, for the new virtualenv's python.
    ours = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    theirs = next(venv.glob("lib/python*/site-packages"))
    # The services run as their own user, who may not reach this checkout (mktemp -d makes its
    # folder 0700): the packages are bound where that user can read them, in this namespace's /run.
    index = Path("/run/wxwalk-index")
    if not index.is_mount():
        index.mkdir(exist_ok=True)
        run(["mount", "--bind", str(ours), str(index)])
    (theirs / "wxwalk-index.pth").write_text(f"{index}\n")
    for name in ("gunicorn", "flask"):
        module, _, function = {"gunicorn": "gunicorn.app.wsgiapp:run", "flask": "flask.cli:main"}[
            name
        ].partition(":")
        script = venv / "bin" / name
        script.write_text(
            f"#!{venv}/bin/python\nimport sys\nfrom {module} import {function}\n"
            f"sys.exit({function}())\n"
        )
        script.chmod(0o755)
    return 0


def _unit(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in Path(f"/etc/systemd/system/{name}.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def _environment_file(path: str) -> dict[str, str]:
    values = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("\"'")
    return values


def _start_unit(name: str) -> int:
    unit = _unit(name)
    user = pwd.getpwnam(unit["User"][0])
    env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "HOME": user.pw_dir, "USER": user.pw_name}
    for path in unit.get("EnvironmentFile", []):
        env.update(_environment_file(path))
    for assignment in unit.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = value
    for folder in unit.get("RuntimeDirectory", []):
        Path(f"/run/{folder}").mkdir(exist_ok=True)
        os.chown(f"/run/{folder}", user.pw_uid, user.pw_gid)
    notify = None
    if unit["Type"] == ["notify"]:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # Where the service's User can reach it (the state folder is root's alone), as systemd's.
        address = f"/run/wxwalk-notify-{name}"
        notify.bind(address)
        # The service runs as its User, and must be able to send to it.
        os.chmod(address, 0o777)  # noqa: S103
        env["NOTIFY_SOCKET"] = address
    as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    with (STATE / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [*as_user, *shlex.split(unit["ExecStart"][0])],
            cwd=unit["WorkingDirectory"][0],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with (STATE / "pids").open("a") as pids:
        pids.write(f"{process.pid}\n")
    if notify is not None:
        notify.settimeout(30)
        try:
            message = notify.recv(4096).decode()
        except TimeoutError:
            message = "no READY=1 within 30 s"
        print(f"systemctl stand-in: {name}: {message.splitlines()[0]}")
        ready = "READY=1" in message
    else:
        time.sleep(1.0)
        print(f"systemctl stand-in: {name}: running (pid {process.pid})")
        ready = process.poll() is None
    if not ready:
        print((STATE / f"{name}.log").read_text())
    return 0 if ready else 1


def nginx_master() -> str | None:
    """The running nginx master's pid (``nginx -t`` leaves an empty pid file behind)."""
    pid_file = Path("/run/nginx.pid")
    master = pid_file.read_text().strip() if pid_file.exists() else ""
    return master if master and Path(f"/proc/{master}").exists() else None


def _reload_nginx() -> int:
    master = nginx_master()
    if master is None:
        # Debian's package starts nginx when it is installed; here it starts now.
        run(["nginx"])
        print("systemctl stand-in: nginx started")
        return 0
    old = set(Path(f"/proc/{master}/task/{master}/children").read_text().split())
    run(["nginx", "-s", "reload"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = set(Path(f"/proc/{master}/task/{master}/children").read_text().split())
        if now and not now & old:
            print("systemctl stand-in: nginx reloaded")
            return 0
        time.sleep(0.05)
    return 1


def _systemctl(args: list[str]) -> int:
    if args == ["daemon-reload"]:
        return 0
    if args == ["reload", "nginx"]:
        return _reload_nginx()
    if args[:2] == ["enable", "--now"]:
        return max(_start_unit(name) for name in args[2:])
    print(f"systemctl stand-in: {args} is not part of the walk")
    return 1


def issue(lineage: Path, domain: str) -> None:
    """A certificate for ``domain`` and 127.0.0.1, as the CA would issue it, in certbot's layout."""
    lineage.mkdir(parents=True, exist_ok=True)
    run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={domain}"),
            *("-addext", f"subjectAltName=DNS:{domain},IP:127.0.0.1"),
            *("-keyout", str(lineage / "privkey.pem"), "-out", str(lineage / "fullchain.pem")),
        ]
    )
    shutil.copy(lineage / "fullchain.pem", STATE / "ca.pem")


def _certbot(args: list[str]) -> int:
    webroot = Path(args[args.index("-w") + 1])
    domain = args[args.index("-d") + 1]
    hook = args[args.index("--deploy-hook") + 1]
    token = os.urandom(12).hex()
    challenge = webroot / ".well-known" / "acme-challenge" / token
    challenge.parent.mkdir(parents=True, exist_ok=True)
    challenge.write_text(f"{token}.walk")
    request = urllib.request.Request(
        f"http://127.0.0.1/.well-known/acme-challenge/{token}", headers={"Host": domain}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answered = response.read().decode()
    challenge.unlink()
    if answered != f"{token}.walk":
        print(f"certbot stand-in: the challenge was answered with {answered!r}")
        return 1
    print("certbot stand-in: the HTTP-01 challenge was served on port 80")
    lineage = Path(f"/etc/letsencrypt/live/{domain}")
    issue(lineage, domain)
    (STATE / "certbot.json").write_text(json.dumps([hook, str(lineage)]))
    hook_env = {**os.environ, "RENEWED_LINEAGE": str(lineage)}
    done = subprocess.run(["bash", "-c", hook], env=hook_env, check=False)
    print("certbot stand-in: certificate issued, deploy hook run")
    return done.returncode


STANDINS: dict[str, Callable[[list[str]], int]] = {
    "apt-get": _apt_get,
    "git": _git,
    "python3": _python3,
    "systemctl": _systemctl,
    "certbot": _certbot,
}
