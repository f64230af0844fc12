"""The seams for what the server does not offer yet: allowances (a hold spent in process, issue 11) and
just-in-time approvals (``POST /v1/actions``). ``Tollgate.allowance`` and ``Tollgate.request_action``
return these shapes once the routes exist; today they raise ``NotImplementedError``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol


class Allowance(Protocol):
    """``with tg.allowance("build", block=100) as a: a.spend(1)``: spends from a reserved block in process,
    renews in the background before it runs out, settles exactly what was used on close and at exit."""

    def spend(self, uses: int = 1) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Allowance: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class ActionRequest(Protocol):
    """A request for approval: ``status`` is ``approved``, ``denied``, ``pending``, ``expired`` or
    ``cancelled``; ``wait`` blocks until it is decided (or ``timeout_s`` passes) and returns the status."""

    id: str
    status: str

    def wait(self, timeout_s: float | None = None) -> str: ...

    def cancel(self) -> None: ...
