"""The SDK's allowances against the local stack, over real HTTP: many threads spending through one allowance
are charged exactly what they spent, at about one pool write per block; a process killed while it holds an
allowance is charged the whole block at the allowance's end."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping

import pytest
from tollgate_sdk import HttpResponse, Timeout
from tollgate_sdk.transport import Urllib3Transport

from tests.integration.conftest import Stack
from tests.integration.test_leases_concurrency import assert_consistent, ledger
from tests.integration.test_sdk import license_key, sdk

pytestmark = pytest.mark.integration
BLOCK = 100  # tokens; feature "build" costs 1 token per use (infra/catalog.json)


class CountingTransport(Urllib3Transport):
    """The SDK's own transport, counting the allowance requests it sends (retries included): each opening and
    each settlement is one pool transaction on the server."""

    def __init__(self) -> None:
        super().__init__()
        self.allowance_requests = 0
        self._lock = threading.Lock()

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: Timeout
    ) -> HttpResponse:
        if "/v1/allowances" in url:
            with self._lock:
                self.allowance_requests += 1
        return super().request(method, url, headers, body, timeout)


def test_eight_threads_spend_ten_thousand_uses_through_one_allowance_at_one_pool_write_per_block(
    stack: Stack,
) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 20_000)
    transport = CountingTransport()
    tg = sdk(license_key(stack, owner), stack.api, stack, transport=transport)
    threads, each = 8, 1250

    with tg.allowance("build", block=BLOCK, wait_s=60.0) as spending:  # a loaded machine: renewals may be slow

        def spend_many() -> None:
            for _ in range(each):
                spending.spend()

        workers = [threading.Thread(target=spend_many) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    tg.close()

    assert spending.spent == threads * each
    assert (spending.record.status, spending.record.charged) == ("settled", 10_000)
    pool = assert_consistent(stack, owner)
    assert (pool["balance"], pool["reserved"]) == (10_000, 0)
    charges = [entry for entry in ledger(stack, owner) if entry["kind"] == "allowance_charge"]
    assert sum(entry["amount"] for entry in charges) == -10_000
    print(f"\n10,000 uses, block={BLOCK}: {transport.allowance_requests} allowance requests, {len(charges)} charges")
    assert transport.allowance_requests <= 120, transport.allowance_requests
    assert len(charges) + 1 <= transport.allowance_requests, "the charges are a subset of the requests counted"
    stack.audit(tenant_id)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from tollgate_sdk import Tollgate

    tg = Tollgate(sys.argv[1], sys.argv[2])
    with tg.allowance("build", block=100, ttl_s=60) as spending:
        spending.spend(30)
        print(spending.id, flush=True)
        time.sleep(600)  # killed here
    """
)


def test_a_process_killed_while_it_holds_an_allowance_is_charged_the_whole_block_at_its_end(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 500)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, license_key(stack, owner), stack.api],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        allowance_id = holder.stdout.readline().strip()
        assert allowance_id.startswith("al_"), holder.stderr.read() if holder.stderr else ""
        held = assert_consistent(stack, owner)
        assert (held["balance"], held["reserved"]) == (500, BLOCK)
    finally:
        holder.send_signal(signal.SIGKILL)  # no close, no atexit: nobody reports the 30 uses
        holder.wait(timeout=30)

    stack.advance(61)  # past the allowance's end
    swept = stack.invoke("SweeperFunction")
    assert swept.status == 200 and swept.body["allowances_expired"] >= 1, swept.body
    pool = assert_consistent(stack, owner)
    assert (pool["balance"], pool["reserved"]) == (500 - BLOCK, 0)
    charges = [entry for entry in ledger(stack, owner) if entry["kind"] == "allowance_charge"]
    assert [(entry["amount"], entry["allowance_id"]) for entry in charges] == [(-BLOCK, allowance_id)]
    stack.audit(tenant_id)
