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
import pwd
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
import urllib.request
from pathlib import Path

from tests.servers import ROOT
from tests.support import AES_KEY, APP_ID, TOKEN

README = ROOT / "README.md"
STATE = Path(os.environ.get("WXWALK_STATE", "/nonexistent"))
SHIMS = ("apt-get", "git", "python3", "systemctl", "certbot")
# Debian package -> the program the walk uses from it ("": the walk stands in for it or checks it
# in a later step).
PACKAGE_PROGRAMS = {"python3-venv": "", "git": "git", "nginx": "nginx", "certbot": ""}
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OVERLAID = ("etc", "srv", "var", "run")


def deployment_lines(text: str) -> list[str]:
    """Every command of the "Deploying" section's sh blocks, in order."""
    section = text.split("\n## Deploying", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, **options)  # type: ignore[call-overload, no-any-return]


# --- the sandbox -------------------------------------------------------------------------------


def _sandbox(scratch: Path) -> None:
    """Overlays on /etc, /srv, /var and /run, and the loopback up (inside the new namespaces)."""
    _run(["mount", "-t", "tmpfs", "tmpfs", str(scratch)])
    for name in OVERLAID:
        upper, work = scratch / "upper" / name, scratch / "work" / name
        upper.mkdir(parents=True)
        work.mkdir(parents=True)
        options = f"lowerdir=/{name},upperdir={upper},workdir={work}"
        _run(["mount", "-t", "overlay", "overlay", "-o", options, f"/{name}"])
    _run(["ip", "link", "set", "lo", "up"])


def _install_shims(folder: Path) -> None:
    folder.mkdir()
    for name in SHIMS:
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
    for pid in _started():
        if not Path(f"/proc/{pid}").exists():
            print(f"FAILED: a started service (pid {pid}) is no longer running")
            return 1
    before = _served_certificate()
    hook, lineage = json.loads((STATE / "certbot.json").read_text())
    _issue(Path(lineage), Path(lineage).name)
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


def _started() -> list[int]:
    path = STATE / "pids"
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _stop_everything() -> None:
    """Stop each process group the walk started (services, nginx), then wait for them."""
    pids = _started()
    master = _nginx_master()
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
    listed = _run([git, "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT).stdout
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
    (theirs / "wxwalk-index.pth").write_text(f"{ours}\n")
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


def _nginx_master() -> str | None:
    """The running nginx master's pid (``nginx -t`` leaves an empty pid file behind)."""
    pid_file = Path("/run/nginx.pid")
    master = pid_file.read_text().strip() if pid_file.exists() else ""
    return master if master and Path(f"/proc/{master}").exists() else None


def _reload_nginx() -> int:
    master = _nginx_master()
    if master is None:
        # Debian's package starts nginx when it is installed; here it starts now.
        _run(["nginx"])
        print("systemctl stand-in: nginx started")
        return 0
    old = set(Path(f"/proc/{master}/task/{master}/children").read_text().split())
    _run(["nginx", "-s", "reload"])
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


def _issue(lineage: Path, domain: str) -> None:
    """A certificate for ``domain`` and 127.0.0.1, as the CA would issue it, in certbot's layout."""
    lineage.mkdir(parents=True, exist_ok=True)
    _run(
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
    _issue(lineage, domain)
    (STATE / "certbot.json").write_text(json.dumps([hook, str(lineage)]))
    hook_env = {**os.environ, "RENEWED_LINEAGE": str(lineage)}
    done = subprocess.run(["bash", "-c", hook], env=hook_env, check=False)
    print("certbot stand-in: certificate issued, deploy hook run")
    return done.returncode


def main(argv: list[str]) -> int:
    """The walk (from outside: in new namespaces), or one of its stand-ins (``--shim NAME``)."""
    if argv[:1] == ["--shim"]:
        handlers = {
            "apt-get": _apt_get,
            "git": _git,
            "python3": _python3,
            "systemctl": _systemctl,
            "certbot": _certbot,
        }
        return handlers[argv[1]](argv[2:])
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
