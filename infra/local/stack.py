"""The whole local stack in one process tree: ``python -m infra.local.stack`` (what ``make run`` calls).

In order: ``npm ci`` if DynamoDB Local is missing; DynamoDB Local; the table from the template; the seed data
(``infra/local/seed.py``, when present); the Stripe stand-in (``infra/local/stripe_standin``, when present);
the gateway. Then it prints where everything is and one line ``TOLLGATE READY api=http://127.0.0.1:PORT``;
nothing essential goes to stdout after it (logs, the functions' output included, go to stderr).

Ports: ``TOLLGATE_API_PORT`` (3000), ``TOLLGATE_DDB_PORT`` (8000), ``TOLLGATE_STRIPE_PORT`` (12111); 0 picks a
free port. ``TOLLGATE_REGION`` (us-east-1), ``TOLLGATE_LOCAL_WORKERS`` (8), ``TOLLGATE_LOCAL_SCHEDULES=off``.
``TOLLGATE_DDB_FAULTS=0.1`` puts the fault proxy (``infra/local/faults.py``) between the functions and
DynamoDB Local (``TOLLGATE_DDB_FAULTS_PORT`` picks its port; 0, the default, a free one).
Flags: ``--no-schedules``, ``--workers N``, ``--template PATH``.

The functions get the template's environment with the local settings on top (``local_environment``); any of
those variables already set in the stack's own environment wins, so tests can pin them.

Before anything starts, every port is checked: one taken (by a stack already running, say) is refused at
once with one line naming it and the setting that moves it, and nothing is started or touched.

Ctrl-C, SIGTERM or SIGHUP (to the stack or its whole process group) stop everything the stack started, by
pid. If the stack itself is killed, even by SIGKILL right after a SIGTERM, the workers notice their parent is
gone and end themselves, and java ends with it (a parent-death signal on Linux, and a watchdog in a session
of its own: ``infra/local/dynamodb_local.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from infra.local import dynamodb_local
from infra.local.faults import FaultProxy, rate_from_env
from infra.local.gateway import Gateway, schedules_from_env, workers_from_env
from infra.local.portal import dist_dir
from infra.local.tables import create_table
from infra.local.template import load_template

LOG = logging.getLogger("tollgate.local.stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLE_NAME = "tollgate-local"
READY_PREFIX = "TOLLGATE READY"


@dataclass(frozen=True)
class StackSettings:
    api_port: int
    ddb_port: int
    stripe_port: int
    region: str
    workers: int
    schedules: bool
    template: Path
    table_name: str

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        workers: int | None = None,
        schedules: bool | None = None,
        template: Path | None = None,
    ) -> StackSettings:
        return cls(
            api_port=_free_port_if_zero(_port(environ, "TOLLGATE_API_PORT", "3000"), "127.0.0.1"),
            ddb_port=_free_port_if_zero(_port(environ, "TOLLGATE_DDB_PORT", "8000"), ""),
            stripe_port=_free_port_if_zero(_port(environ, "TOLLGATE_STRIPE_PORT", "12111"), "127.0.0.1"),
            region=environ.get("TOLLGATE_REGION", "us-east-1"),
            workers=workers or workers_from_env(environ),
            schedules=schedules_from_env(environ) if schedules is None else schedules,
            template=template or REPO_ROOT / "template.yaml",
            table_name=environ.get("TABLE_NAME", TABLE_NAME),
        )


# (setting, what listens there, the address it binds): DynamoDB Local cannot bind one address, it takes all
PORT_SETTINGS = (
    ("TOLLGATE_API_PORT", "the API", "127.0.0.1"),
    ("TOLLGATE_DDB_PORT", "DynamoDB Local", ""),
    ("TOLLGATE_STRIPE_PORT", "the Stripe stand-in", "127.0.0.1"),
)


class PortsUnavailable(Exception):
    """A port the stack needs is taken (or not a port); the message is the one line to show."""


def check_ports(settings: StackSettings, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse, before anything starts, when a port the stack would listen on is taken (by another stack,
    say): one ``PortsUnavailable`` whose message names the port and the setting that moves it."""
    ports = {"TOLLGATE_API_PORT": settings.api_port, "TOLLGATE_DDB_PORT": settings.ddb_port}
    ports["TOLLGATE_STRIPE_PORT"] = settings.stripe_port
    if rate_from_env(environ) > 0 and int(environ.get("TOLLGATE_DDB_FAULTS_PORT", "0") or 0):
        ports["TOLLGATE_DDB_FAULTS_PORT"] = int(environ["TOLLGATE_DDB_FAULTS_PORT"])
    hosts = {name: host for name, _, host in PORT_SETTINGS}
    names = {name: what for name, what, _ in PORT_SETTINGS} | {"TOLLGATE_DDB_FAULTS_PORT": "the fault proxy"}
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise PortsUnavailable(f"{seen[port]} and {name} are both {port}; give each its own port (0: any free one)")
        seen[port] = name
        if not _can_listen(hosts.get(name, "127.0.0.1"), port):
            raise PortsUnavailable(
                f"port {port} ({names[name]}) is already in use, perhaps by another local stack; "
                f"choose another with {name}=<port> (0: any free one), e.g. "
                "TOLLGATE_API_PORT=0 TOLLGATE_DDB_PORT=0 TOLLGATE_STRIPE_PORT=0 make run"
            )


def _can_listen(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves bind
        try:
            probe.bind((host, port))
            probe.listen(1)
        except OSError:
            return False
    return True


def _port(environ: Mapping[str, str], name: str, default: str) -> int:
    raw = environ.get(name, default)
    if not raw.isascii() or not raw.isdigit() or int(raw) > 65535:
        raise PortsUnavailable(f"{name}={raw!r} is not a port: give a number 1-65535 (0: any free one)")
    return int(raw)


def _free_port_if_zero(port: int, host: str) -> int:
    if port:
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def generate_signing_key_pem() -> str:
    """A fresh Ed25519 private key (PKCS#8 PEM) for validation receipts."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def local_environment(
    settings: StackSettings, *, stripe_url: str, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The local settings every function gets on top of the template's; ``environ``'s values win."""
    api_url = f"http://127.0.0.1:{settings.api_port}"
    defaults = {
        "TABLE_NAME": settings.table_name,
        "TOLLGATE_DDB_ENDPOINT": f"http://127.0.0.1:{settings.ddb_port}",
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": dynamodb_local.DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": dynamodb_local.DUMMY_CREDENTIALS["aws_secret_access_key"],
        "STRIPE_API_KEY": "sk_test_tollgate_local",
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_WEBHOOK_SECRETS": "whsec_tollgate_local",
        "CREDENTIAL_PEPPER": "local-pepper-not-secret",
        # webhook secrets' sealing keys, current first (events/sealing.py)
        "WEBHOOK_SEALING_KEYS": "local1=local-webhook-sealing-key-not-secret-0123",
        # webhooks may go to http://127.0.0.0/8 (the receiver at /_local/webhooks): the local stack alone
        "TOLLGATE_WEBHOOKS_ALLOW_LOOPBACK": "true",
        "PORTAL_BASE_URL": f"{api_url}/portal",  # Checkout sends buyers back to the portal the gateway serves
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Tollgate",
        # two cores shared by DynamoDB Local, the workers and the tests: slower answers than AWS gives
        "TOLLGATE_DDB_READ_TIMEOUT_S": "6",
        "TOLLGATE_DDB_RETRY_BUDGET_S": "8",
    }
    environment = {name: environ.get(name, value) for name, value in defaults.items()}
    environment["RECEIPT_SIGNING_KEY"] = environ.get("RECEIPT_SIGNING_KEY") or generate_signing_key_pem()
    return environment


class LocalStack:
    """Starts the parts in order and stops what it started, in reverse."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.ddb: dynamodb_local.DynamoDBLocal | None = None
        self.standin: Any = None
        self.gateway: Gateway | None = None
        self.faults: FaultProxy | None = None
        self.seeded = False
        self.warnings: list[str] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def stripe_url(self) -> str:
        return str(self.standin.url) if self.standin is not None else f"http://127.0.0.1:{self.settings.stripe_port}"

    def start(self) -> None:
        s = self.settings
        template = load_template(s.template, table_name=s.table_name, region=s.region)
        self.warnings.extend(template.warnings)
        for warning in template.warnings:
            LOG.warning("template: %s", warning)

        self.ddb = dynamodb_local.start(s.ddb_port, root=REPO_ROOT)
        LOG.info("DynamoDB Local on %s (pid %d); it listens on all interfaces", self.ddb.endpoint, self.ddb.pid)
        client = dynamodb_local.dynamodb_client(self.ddb.endpoint, s.region)
        create_table(client, s.table_name, s.template)

        pinned_stripe = "STRIPE_API_BASE" in os.environ
        environment = local_environment(s, stripe_url=f"http://127.0.0.1:{s.stripe_port}")
        os.environ.update(environment)  # the seed and the stand-in run in this process, with the same settings
        self._seed()
        rate = rate_from_env(os.environ)
        if rate > 0:  # the functions reach DynamoDB Local through the fault proxy; seed and operator do not
            port = int(os.environ.get("TOLLGATE_DDB_FAULTS_PORT", "0"))
            self.faults = FaultProxy(s.ddb_port, rate, port=port).start()
            environment["TOLLGATE_DDB_ENDPOINT"] = self.faults.endpoint
            LOG.warning(
                "fault proxy on %s: %.0f%% of DynamoDB requests fail on purpose", self.faults.endpoint, rate * 100
            )
        self.standin = self._start_standin(environment["STRIPE_WEBHOOK_SECRETS"].split(",")[0])
        if self.standin is not None and not pinned_stripe:
            environment["STRIPE_API_BASE"] = os.environ["STRIPE_API_BASE"] = self.stripe_url

        self.gateway = Gateway(
            template,
            port=s.api_port,
            workers=s.workers,
            schedules=s.schedules,
            environment=environment,
            stream_clients=(client, dynamodb_local.dynamodb_client(self.ddb.endpoint, s.region, "dynamodbstreams")),
            table_name=s.table_name,
            region=s.region,
        ).start()

    def _seed(self) -> None:
        if importlib.util.find_spec("infra.local.seed") is None:
            return
        shared = str(REPO_ROOT / "shared")
        if shared not in sys.path:
            sys.path.append(shared)
        assert self.ddb is not None
        importlib.import_module("infra.local.seed").seed(self.ddb.endpoint, self.settings.table_name)
        self.seeded = True

    def _start_standin(self, webhook_secret: str) -> Any:
        if importlib.util.find_spec("infra.local.stripe_standin") is None:
            self._warn("the Stripe stand-in (infra/local/stripe_standin) is not there yet; running without it")
            return None
        try:
            from infra.local.stripe_standin import start_standin
        except ImportError as exc:
            self._warn(f"the Stripe stand-in cannot be imported ({exc}); running without it")
            return None
        webhook_url = f"{self.api_url}/v1/stripe/webhook"
        return start_standin(self.settings.stripe_port, webhook_url, webhook_secret, clock=self._application_time)

    def _application_time(self) -> float:
        """Wall-clock time plus the gateway's offset (``POST /_local/clock``): one clock for the whole stack."""
        return time.time() + (self.gateway.clock.offset_s if self.gateway is not None else 0)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        LOG.warning("%s", message)

    def stop(self) -> None:
        for name, stop in (
            ("gateway", self.gateway.stop if self.gateway else None),
            ("Stripe stand-in", self.standin.stop if self.standin is not None else None),
            ("fault proxy", self.faults.stop if self.faults else None),
            ("DynamoDB Local", self.ddb.stop if self.ddb else None),
        ):
            if stop is None:
                continue
            try:
                stop()
            except Exception:
                LOG.exception("stopping the %s failed", name)
        self.gateway, self.standin, self.ddb, self.faults = None, None, None, None

    def summary(self) -> str:
        s = self.settings
        assert self.gateway is not None
        assert self.ddb is not None
        template = self.gateway.template
        standin = (
            f"{self.stripe_url}  (webhooks to {self.api_url}/v1/stripe/webhook)"
            if self.standin is not None
            else "not running (infra/local/stripe_standin missing)"
        )
        schedules = "on" if s.schedules else "off (--no-schedules); run them with /_local/invoke"
        lines = [
            "Tollgate local stack",
            f"  API               {self.api_url}  ({len(template.routes)} routes, {len(template.functions)} functions,"
            f" {s.workers} workers)",
            f"  DynamoDB Local    {self.ddb.endpoint}  table {s.table_name}  (pid {self.ddb.pid})",
            "                    WARNING: DynamoDB Local listens on ALL interfaces, not only on 127.0.0.1",
            f"  Stripe stand-in   {standin}",
            f"  Portal            {self.api_url}/portal/"
            + ("" if (dist_dir(REPO_ROOT) / "index.html").is_file() else "  (not built: run make build)"),
            f"  Seed data         {'loaded' if self.seeded else 'none (infra/local/seed.py missing)'}",
            f"  Schedules         {schedules}",
            *(
                [f"  Fault proxy       {self.faults.endpoint}  ({self.faults.rate:.0%} of DynamoDB requests fail)"]
                if self.faults
                else []
            ),
            "  Local controls    POST /_local/invoke/{FunctionLogicalId}   GET|POST /_local/clock   GET /_local/health",
            "  Webhook receiver  POST|GET /_local/webhooks/{name}   POST /_local/webhooks/{name}/behaviour",
            "  Stop              Ctrl-C (or SIGTERM)",
        ]
        return "\n".join(lines)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-schedules", action="store_true", help="do not run the ScheduleV2 functions")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (TOLLGATE_LOCAL_WORKERS, 8)")
    parser.add_argument("--template", type=Path, default=None, help="the SAM template (template.yaml)")
    return parser.parse_args(argv)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("TOLLGATE_LOCAL_LOG_LEVEL", "INFO").upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = StackSettings.from_env(
            os.environ, workers=args.workers, schedules=False if args.no_schedules else None, template=args.template
        )
        check_ports(settings)
    except PortsUnavailable as refused:  # one line, nothing started, nothing touched
        print(f"tollgate local stack: {refused}", file=sys.stderr, flush=True)
        return 2
    stack = LocalStack(settings)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    status = 0
    try:
        stack.start()
        print(stack.summary(), flush=True)
        print(f"{READY_PREFIX} api={stack.api_url}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except Exception:
        LOG.exception("the local stack failed to start")
        status = 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        with contextlib.suppress(Exception):
            stack.stop()
    LOG.info("local stack stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
