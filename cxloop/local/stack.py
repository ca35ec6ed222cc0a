"""``cxloop run``: the whole system on 127.0.0.1 with no AWS account.

Moto's server (a subprocess) plays DynamoDB, SQS, EventBridge, SES, SSM and Secrets
Manager, writing its items, messages and secrets through to ``<state dir>/aws.sqlite3``; this process
runs the API gateway, the queue pump, the SMTP sink and the Slack sink, invokes the very handlers that
run on Lambda, and starts moto's server again (with its stored state) if it dies.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources as pkg
from pathlib import Path
from typing import IO, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from cxloop.local.gate import GATE_PATH, PROVISIONING_HEADER
from cxloop.local.gateway import Gateway
from cxloop.local.pages import Pages
from cxloop.local.pump import Pump
from cxloop.local.runtime import Functions
from cxloop.local.sinks import SlackSink, SmtpSink
from cxloop.resources import Resources, provision, provision_link_keys
from shared import observability, topology

HOST = "127.0.0.1"
STATE_FILE = "aws.sqlite3"
DEMO_DONE = "demo.done"
# A port the previous stack's server held is free within moments of that stack's end.
PORT_GRACE_S = 5.0


@dataclass
class StackConfig:
    state_dir: Path = Path(".cxloop")
    api_port: int = 8080
    moto_port: int = 5055
    smtp_port: int = 1025
    prefix: str = "cxloop"
    region: str = "us-east-1"
    log_level: str = "INFO"
    demo: bool = True
    exit_after_demo: bool = False
    schedule_scale: float = 1.0
    # The length of a survey rule's day. None: 2 s in the demo (a survey goes out seconds after its
    # delivery, the reminder seconds later), a real day otherwise.
    day_seconds: float | None = None
    # How often the dispatcher runs; None: every 2 s in the demo, every minute (as in AWS) otherwise.
    dispatch_every_s: float | None = None
    # How often the notifier's sender runs; None: every 3 s in the demo, every minute otherwise.
    notify_every_s: float | None = None
    # SQLite's synchronous mode for the stored state: "full" also survives a power cut, "normal" kill -9.
    durability: str = "full"
    # Forget the stored state before starting.
    fresh: bool = False

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    @property
    def day(self) -> float:
        return self.day_seconds if self.day_seconds is not None else (2.0 if self.demo else 86400.0)

    @property
    def notify_every(self) -> float:
        if self.notify_every_s is not None:
            return self.notify_every_s
        return 3.0 if self.demo else float(topology.function("notifier-sender").schedule.every_s)  # type: ignore[union-attr]

    @property
    def dispatch_every(self) -> float:
        if self.dispatch_every_s is not None:
            return self.dispatch_every_s
        return 2.0 if self.demo else float(topology.function("feedback-dispatcher").schedule.every_s)  # type: ignore[union-attr]


def route_function_logs(path: Path) -> None:
    """The functions' structured JSON logs go to a file, as CloudWatch would keep them, not the console;
    so do their metrics (EMF lines, which Lambda's stdout carries to CloudWatch)."""
    stream = path.open("a", buffering=1)
    observability.route_metrics(stream)
    for name in {fn.service for fn in topology.FUNCTIONS}:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)


class QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def local_env(config: StackConfig) -> dict[str, str]:
    """What the functions and the CLI see: moto's endpoint and harmless fake credentials."""
    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{config.moto_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": config.region,
        "AWS_REGION": config.region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "POWERTOOLS_METRICS_NAMESPACE": "cxloop",
        "POWERTOOLS_TRACE_DISABLED": "1",
        **topology.RUNTIME_ENV,
    }


def survey_env(config: StackConfig, api_url: str) -> dict[str, str]:
    """Surveys locally: links point at the local gateway, mail goes to the SMTP sink."""
    return {
        topology.ENV_PUBLIC_URL: api_url,
        topology.ENV_MAIL_TRANSPORT: "smtp",
        topology.ENV_SMTP_HOST: HOST,
        topology.ENV_SMTP_PORT: str(config.smtp_port),
        topology.ENV_DAY_SECONDS: str(config.day),
    }


def port_is_free(port: int) -> bool:
    """Free as the servers see it: they bind with SO_REUSEADDR, so the connections a killed server left
    in TIME_WAIT do not hold the port; a listening socket does."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, grace_s: float) -> bool:
    deadline = time.monotonic() + grace_s
    while not port_is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def hold_state_dir(state_dir: Path) -> IO[str]:
    """One stack per state folder: a second would run its own server on the same stored state."""
    lock = (state_dir / "stack.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise SystemExit(
            f"--state-dir {state_dir}: in use by another `cxloop run` (pid {holder}); stop it, "
            "or give this one another --state-dir"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def provisioning_clients(endpoint: str, region: str) -> dict[str, Any]:
    """Clients whose requests pass the server's gate (see ``cxloop.local.aws_server.Gate``)."""
    import boto3

    def through_the_gate(request: Any, **_: Any) -> None:
        request.headers[PROVISIONING_HEADER] = "1"

    session = boto3.session.Session(region_name=region)
    clients = {}
    for name in ("dynamodb", "sqs", "events", "secretsmanager"):
        client = session.client(name, endpoint_url=endpoint)
        client.meta.events.register("before-sign", through_the_gate)
        clients[name] = client
    return clients


def forget_state(state_dir: Path) -> None:
    """Everything a start over must not find: the stored state, and the sinks' mail and messages (the
    demo answers the surveys it finds in the inbox, whose links the forgotten state no longer knows)."""
    for name in (STATE_FILE, STATE_FILE + "-wal", STATE_FILE + "-shm", DEMO_DONE, "slack.jsonl"):
        (state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "mail", ignore_errors=True)


def start_moto(config: StackConfig, log: Path) -> subprocess.Popen[bytes]:
    """A moto server of this stack's own: a port already taken (another stack, or one a crash left) is
    refused rather than adopted, whose state would not be this stack's. Its state is the state file's."""
    if not _wait_for_port(config.moto_port, PORT_GRACE_S):
        raise SystemExit(
            f"--moto-port: {HOST}:{config.moto_port} is already in use (another `cxloop run`, or a server "
            "a crash left behind); stop it, or choose a free port with --moto-port"
        )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cxloop.local.aws_server",
                "--host",
                HOST,
                "--port",
                str(config.moto_port),
                "--parent-pid",
                str(os.getpid()),
                "--state-file",
                str(config.state_file),
                "--sync",
                config.durability,
                "--gated",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"moto's server exited: {_last_line(log)} (see {log})")
        try:
            urllib.request.urlopen(f"http://{HOST}:{config.moto_port}/moto-api/", timeout=1)
            return proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"moto's server did not start within 30 s; see {log}")


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.moto: subprocess.Popen[bytes] | None = None
        self.server: BaseWSGIServer | None = None
        self.pump: Pump | None = None
        self.smtp: SmtpSink | None = None
        self.resources: Resources | None = None
        self.clients: dict[str, Any] = {}
        self.demo_clock: Any = None  # cxloop.local.demo.DemoClock when the demo runs
        # Each time moto's server died and was started again: (exit code, seconds until it served again).
        self.aws_restarts: list[tuple[int, float]] = []
        self._state_lock: IO[str] | None = None
        self._stopping = threading.Event()
        self._aws_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.config.api_port}"

    def _start_aws(self) -> None:
        """Moto's server, then the tables, queues and rules (each table and queue gets its stored items
        and messages back as it is created), then the gate opens to everyone else."""
        cfg = self.config
        self.moto = start_moto(cfg, cfg.state_dir / "moto.log")
        c = provisioning_clients(os.environ["AWS_ENDPOINT_URL"], cfg.region)
        self.resources = provision(c["dynamodb"], c["sqs"], c["events"], cfg.prefix, tap=True)
        provision_link_keys(c["secretsmanager"], cfg.prefix)
        gate = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + GATE_PATH, method="POST")  # noqa: S310
        urllib.request.urlopen(gate, timeout=10).close()  # noqa: S310 (our own server, http)

    def _watch_aws(self) -> None:
        """Start moto's server again whenever it dies (kill -9 included) while the stack runs."""
        while not self._stopping.wait(0.2):
            with self._aws_lock:
                proc = self.moto
                if proc is None or proc.poll() is None or self._stopping.is_set():
                    continue
                began = time.monotonic()
                code = proc.returncode
                try:
                    self._start_aws()
                except (SystemExit, Exception) as e:  # try again on the next tick
                    print(f"moto's server exited ({code}); starting it again failed: {e}", file=sys.stderr)
                    continue
                took = time.monotonic() - began
                self.aws_restarts.append((code, took))
                print(
                    f"moto's server exited ({code}); started again with its stored state in {took:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )

    def start(self) -> None:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self._state_lock = hold_state_dir(cfg.state_dir)
        if cfg.fresh:
            forget_state(cfg.state_dir)
        os.environ.update(local_env(cfg))

        import boto3

        session = boto3.session.Session(region_name=cfg.region)
        for name in ("dynamodb", "sqs", "events", "secretsmanager"):
            self.clients[name] = session.client(name, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        self._start_aws()
        assert self.resources is not None
        threading.Thread(target=self._watch_aws, name="aws-watch", daemon=True).start()
        os.environ.update(self.resources.env())
        os.environ.update(survey_env(cfg, self.api_url))

        functions = Functions(cfg.prefix, cfg.region)
        functions.warm()
        route_function_logs(cfg.state_dir / "functions.log")
        self.pump = Pump(
            functions,
            self.clients["sqs"],
            self.resources,
            cfg.region,
            schedule_scale=cfg.schedule_scale,
            # The notifier's sender runs every minute in AWS; every few seconds in the demo.
            schedule_every={
                "feedback-dispatcher": cfg.dispatch_every,
                "notifier-sender": cfg.notify_every,
            },
        )
        self.smtp = SmtpSink(cfg.state_dir / "mail", HOST, cfg.smtp_port)
        self.smtp.start()
        bc_orders = json.loads(pkg.files("cxloop.local").joinpath("demo/bigcommerce_api.json").read_text())
        if cfg.demo:
            from cxloop.local.demo import demo_clock

            self.demo_clock = demo_clock(cfg.day)
            bc_orders = self.demo_clock.apply(bc_orders)
        pages = Pages(
            cfg.state_dir / "mail",
            SlackSink(cfg.state_dir / "slack.jsonl"),
            bc_orders,
            self.status,
            self.pump.fire,
            self.pump.pause,
        )
        self.server = make_server(
            HOST, cfg.api_port, Gateway(functions, pages), threaded=True, request_handler=QuietHandler
        )
        threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True).start()
        self.pump.start()
        self._write_state()

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "api_url": self.api_url,
            "moto_url": os.environ["AWS_ENDPOINT_URL"],
            "smtp": f"{HOST}:{self.config.smtp_port}",
            "prefix": self.config.prefix,
            "region": self.config.region,
        }
        (self.config.state_dir / "stack.json").write_text(json.dumps(state, indent=2))

    def status(self) -> dict[str, Any]:
        assert self.resources is not None
        try:
            queues, aws = self._queues(), "up"
        except Exception as e:  # moto's server is down or starting again: say so, do not fail the page
            queues, aws = [], f"unavailable ({type(e).__name__})"
        return {
            "endpoints": {
                "API": self.api_url,
                "Webhooks": f"{self.api_url}/webhooks/<platform>/<shop_id>",
                "AWS (moto)": os.environ.get("AWS_ENDPOINT_URL", ""),
                "SMTP sink": f"{HOST}:{self.config.smtp_port}",
                "Inbox": f"{self.api_url}/_local/inbox",
                "Survey links": f"{self.api_url}/r/<token>, {self.api_url}/u/<token>",
                "Slack sink": f"{self.api_url}/_local/slack/<hook>",
            },
            "queues": queues,
            "aws": aws,
            "pump": dict(self.pump.stats) if self.pump else {},
            "paused": sorted(self.pump.paused) if self.pump else [],
            "state": {
                "file": str(self.config.state_file),
                "durability": self.config.durability,
                "aws_restarts": [{"exit": c, "recovered_s": round(t, 2)} for c, t in self.aws_restarts],
            },
        }

    def _queues(self) -> list[dict[str, Any]]:
        assert self.resources is not None
        queues = []
        for logical, url in self.resources.queue_urls.items():
            attrs = self.clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            dead = self.clients["sqs"].get_queue_attributes(
                QueueUrl=self.resources.dlq_urls[logical], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            queues.append(
                {
                    "name": logical,
                    "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                    "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    "dead": int(dead.get("ApproximateNumberOfMessages", 0)),
                }
            )
        return queues

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Until every queue is empty (visible and in flight) or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status()
            queues = status["queues"]
            if status["aws"] == "up" and all(q["visible"] == 0 and q["in_flight"] == 0 for q in queues):
                return True
            time.sleep(0.3)
        return False

    def stop(self) -> None:
        self._stopping.set()
        if self.pump:
            self.pump.stop()
        if self.server:
            self.server.shutdown()
        if self.smtp:
            self.smtp.stop()
        with self._aws_lock:
            pass  # a restart in progress finishes before the server is stopped
        if self.moto:
            self.moto.terminate()
            try:
                self.moto.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.moto.kill()
        state = self.config.state_dir / "stack.json"
        state.unlink(missing_ok=True)


def cli_hint(venv: Path, here: Path, state_dir: Path = Path(".cxloop")) -> str:
    """How to call the CLI from another terminal: `make run` installs it in .venv, not on the PATH; a
    stack with its own --state-dir is found only when the command names it too."""
    where = venv.relative_to(here) if venv.is_relative_to(here) else venv
    cxloop = "cxloop" if state_dir == Path(".cxloop") else f"cxloop --state-dir {state_dir}"
    return (
        f"Command line, from another terminal in this folder: `source {where}/bin/activate` once, then "
        f"`{cxloop} --help` (or call {where}/bin/{cxloop})"
    )


def run(config: StackConfig) -> int:
    from cxloop.local import demo

    stack = LocalStack(config)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack.start()
        print(
            f"cxloop local stack is up: {stack.api_url}  (AWS via moto at {os.environ['AWS_ENDPOINT_URL']})"
        )
        done = config.state_dir / DEMO_DONE
        if config.demo and (done.exists() or demo.shops_present(stack)):
            when = done.read_text().strip() if done.exists() else "it did not finish"
            print(
                f"The demo already ran in {config.state_dir} ({when}); its shops, orders and answers are "
                "kept. `cxloop run --fresh` starts over; `cxloop keys issue --shop demo-shopify` gives a "
                "dashboard key."
            )
        elif config.demo:
            demo.run_demo(stack)
            done.write_text(f"demo run at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        api = stack.api_url
        print(f"Inbox: {api}/_local/inbox   Slack sink: {api}/_local/slack   Status: {api}/")
        print(f"Function logs (JSON, one line per event): {config.state_dir / 'functions.log'}")
        print(cli_hint(Path(sys.prefix), Path.cwd(), config.state_dir))
        sys.stdout.flush()
        if config.exit_after_demo:
            return 0
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0
