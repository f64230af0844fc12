"""Lambda SnapStart: what a restored snapshot must not share with its siblings is renewed after restore.

With SnapStart, Lambda runs a function's init once, snapshots the memory and starts every new execution
environment from that snapshot. What init left in memory is therefore the same in all of them:

- ``random``'s state (used for retry jitter): reseeded here, always. ``secrets`` and ``os.urandom`` read
  the kernel's entropy at each call and need nothing.
- clients made at init (the validation function's botocore client): their pooled connections and the
  credentials they resolved belong to the environment that was snapshotted. Whoever makes such a client
  registers a hook with ``after_restore`` that replaces it.

Clients made on the first request (pynamodb's, the usage and portal functions') and caches that expire on
the wall clock (catalog, key memory) are made or refreshed after restore anyway and need no hook.

A SnapStart function calls ``install()`` at init. The runtime's hooks come from ``snapshot_restore_py``,
which only the Lambda runtime has; elsewhere nothing is registered (tests call ``restore()`` themselves).
"""

from __future__ import annotations

import random
from collections.abc import Callable

Hook = Callable[[], None]

_hooks: list[Hook] = []
_before: list[Hook] = []


def after_restore(hook: Hook) -> Hook:
    """Runs ``hook`` in every execution environment restored from a snapshot, after ``random`` is reseeded."""
    _hooks.append(hook)
    return hook


def restore() -> None:
    """What the runtime calls after restoring a snapshot: reseed ``random``, then each hook in order."""
    random.seed()  # from os.urandom: a new sequence in each restored environment
    for hook in tuple(_hooks):
        hook()


def before_snapshot(hook: Hook) -> Hook:
    """Runs ``hook`` once, in the environment that is about to be snapshotted (only with SnapStart): work
    done there is in every restored environment for free."""
    _before.append(hook)
    return hook


def prepare() -> None:
    """What the runtime calls before taking the snapshot: each ``before_snapshot`` hook in order."""
    for hook in tuple(_before):
        hook()


_installed = False


def install() -> bool:
    """Hands ``prepare`` and ``restore`` to the Lambda runtime, once per process. True where the runtime
    has its hooks (``snapshot_restore_py``); False elsewhere, where nothing is snapshotted."""
    global _installed
    if _installed:
        return True
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot  # the Lambda runtime's
    except ImportError:
        return False
    register_before_snapshot(prepare)
    register_after_restore(restore)
    _installed = True
    return True
