"""``python -m infra.local.stripe_standin [--port N] [--webhook-url URL] [--webhook-secret S]``: serve in the
foreground on 127.0.0.1 until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from .server import start_standin

DEFAULT_PORT = 12111
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:3000/v1/stripe/webhook"
DEFAULT_WEBHOOK_SECRET = "whsec_local_tollgate"  # noqa: S105 - a local-only default, documented as such


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.stripe_standin",
        description="Serve the local Stripe stand-in on 127.0.0.1 until SIGINT or SIGTERM.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("TOLLGATE_STRIPE_PORT", DEFAULT_PORT)),
        help="port on 127.0.0.1 (env TOLLGATE_STRIPE_PORT, default %(default)s)",
    )
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("TOLLGATE_STRIPE_WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
        help="where events are POSTed (env TOLLGATE_STRIPE_WEBHOOK_URL, default %(default)s)",
    )
    parser.add_argument("--no-webhooks", action="store_true", help="record events but deliver none")
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET),
        help="endpoint secret that signs the webhooks (env STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = start_standin(args.port, None if args.no_webhooks else args.webhook_url, args.webhook_secret)
    print(f"Stripe stand-in listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
