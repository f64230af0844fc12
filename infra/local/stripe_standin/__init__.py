"""A local stand-in for the part of Stripe's API that Tollgate uses, with signed webhooks.

``start_standin(port, webhook_url, webhook_secret)`` serves it in a daemon thread; ``python -m
infra.local.stripe_standin`` serves it in the foreground. Standard library only.
"""

from .server import StandinServer, start_standin

__all__ = ["StandinServer", "start_standin"]
