"""README.md's "Deploying" section, followed line by line in a sandbox (tests/readme_walk.py),
reaches a working signed handshake on https://127.0.0.1/wechat through nginx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.readme_walk import README, deployment_lines
from tests.servers import ROOT

NEEDS = "the walk runs as root in mount and network namespaces of its own (unshare, mount)"


def test_readme_walk_reads_every_step_of_the_section() -> None:
    lines = deployment_lines(README.read_text("utf-8"))
    assert lines[0].startswith("apt-get install -y ")
    commands = " ".join(lines)
    for step in (
        "git clone",
        ".venv/bin/pip install",
        "/etc/wxserver.env",
        "systemctl enable --now wxserver-web wxserver-worker",
        "certbot certonly --webroot -w /var/www/acme",
        "--deploy-hook",
        "simulate --url https://your.domain/wechat --handshake",
    ):
        assert step in commands


def test_readme_walk_reaches_the_https_handshake_through_nginx() -> None:
    assert os.geteuid() == 0, NEEDS
    assert shutil.which("unshare") is not None, NEEDS
    done = subprocess.run(
        [sys.executable, "-m", "tests.readme_walk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    transcript = done.stdout + done.stderr
    assert done.returncode == 0, transcript[-4000:]
    for line in deployment_lines(README.read_text("utf-8")):
        assert f"$ {line}\n" in transcript
    assert "GET https://127.0.0.1/wechat -> 200" in transcript
    assert "handshake OK" in transcript
    assert "systemctl stand-in: wxserver-web: READY=1" in transcript
    assert "certbot stand-in: the HTTP-01 challenge was served on port 80" in transcript
    assert transcript.rstrip().endswith("WALK OK")
