"""The local stack's processes (issue 15): its moto server dies with it, even on kill -9, and a stack
never adopts a server it did not start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, start, wait_up

pytestmark = pytest.mark.e2e


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_killing_the_stack_takes_its_moto_server_with_it(tmp_path: Path) -> None:
    proc, api, moto, _ = start(tmp_path, "--no-demo")
    try:
        wait_up(proc, api, tmp_path / "stack.log")
        port = int(moto.rsplit(":", 1)[1])
        assert _listening(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port), "moto's server outlived the stack that started it"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_taken_moto_port_is_refused_not_adopted(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable, "-m", "cxloop.cli", "--state-dir", str(tmp_path / "state"), "run",
                "--no-demo",
                "--api-port", str(free_port()), "--moto-port", str(taken), "--smtp-port", str(free_port()),
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode != 0
    assert f"--moto-port: 127.0.0.1:{taken} is already in use" in done.stdout + done.stderr
