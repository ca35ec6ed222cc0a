"""MiniStack (MIT, PyPI) in its own venv, on 127.0.0.1: the AWS the rehearsal deploys into.

Its own venv (``.venv-rehearse``, requirements-rehearse.txt) because it pins botocore==1.43.106, which
the project's venv must not get. It runs Lambda functions as host processes with its own Python (3.11,
as Lambda's), so the layers it is given are the host's builds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-rehearse"
REQUIREMENTS = ROOT / "requirements-rehearse.txt"
ACCOUNT = "000000000000"  # MiniStack's account for credentials that name none
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class EmulatorError(Exception):
    """MiniStack could not be installed or started: the message says what to look at."""


def ensure_venv(python: str | None = None) -> Path:
    """``.venv-rehearse/bin/ministack``, installing the pinned requirements when they changed (with
    $PYTHON, the Makefile's interpreter, else python3.11: Lambda's version, which the workers run)."""
    python = python or os.environ.get("PYTHON") or "python3.11"
    marker = VENV / ".installed"
    wanted = REQUIREMENTS.read_text()
    if marker.is_file() and marker.read_text() == wanted:
        return VENV / "bin" / "ministack"
    if not (VENV / "bin" / "python").is_file():
        subprocess.run([python, "-m", "venv", str(VENV)], check=True, timeout=300)
    done = subprocess.run(
        [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise EmulatorError(f"pip install -r {REQUIREMENTS.name} failed: {done.stderr.strip()[-800:]}")
    marker.write_text(wanted)
    return VENV / "bin" / "ministack"


SCRATCH_BYTES = 6 * 1024**3


def scratch_folder(workdir: Path) -> Path:
    """Where MiniStack's Lambda workers unpack their code and layers (~3 GB in a rehearsal: a worker per
    concurrent invocation, 50-340 MB each): memory (/dev/shm) when it has room, so neither the
    unpacking nor the removal waits on the disk; else the work folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > SCRATCH_BYTES:
        folder = shm / f"cxloop-rehearsal-{os.getpid()}-{workdir.name}"
    else:
        folder = workdir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MiniStack:
    """A running MiniStack; ``stop()`` ends it and every Lambda worker it started (its process group),
    and removes the workers' folders (each unpacks its code and layers: 50-170 MB a worker)."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    log_file: IO[bytes]
    scratch: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What a client of this AWS needs in its environment."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )
        return session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.endpoint + path, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.log_file.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def start(workdir: Path, port: int | None = None, timeout_s: float = 60.0) -> MiniStack:
    """Start MiniStack on 127.0.0.1 and wait for its health endpoint."""
    binary = ensure_venv()
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "ministack.log"
    log_file = log.open("wb")
    scratch = scratch_folder(workdir)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "TMPDIR": str(scratch),
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_REGION": REGION,
        "LOG_LEVEL": "INFO",
        **CREDENTIALS,
    }
    process = subprocess.Popen(
        [str(binary)], cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    stack = MiniStack(process, port, log, log_file, scratch)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stack.stop()
            raise EmulatorError(f"MiniStack exited {process.returncode}: see {log}")
        try:
            stack.get("/_ministack/health")
            return stack
        except OSError:
            time.sleep(0.2)
    stack.stop()
    raise EmulatorError(f"MiniStack did not answer on port {port} within {timeout_s:.0f} s: see {log}")
