"""The seam for what the server does not offer yet: just-in-time approvals (``POST /v1/actions``).
``Tollgate.request_action`` returns this shape once the routes exist; today it raises ``NotImplementedError``.
"""

from __future__ import annotations

from typing import Protocol


class ActionRequest(Protocol):
    """A request for approval: ``status`` is ``approved``, ``denied``, ``pending``, ``expired`` or
    ``cancelled``; ``wait`` blocks until it is decided (or ``timeout_s`` passes) and returns the status."""

    id: str
    status: str

    def wait(self, timeout_s: float | None = None) -> str: ...

    def cancel(self) -> None: ...
