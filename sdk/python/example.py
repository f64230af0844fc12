"""The README's five-minute example: run it against `make run` with TOLLGATE_LICENSE_KEY set."""

import os

from tollgate_sdk import InsufficientTokens, Tollgate

API = os.environ.get("TOLLGATE_URL", "http://127.0.0.1:3000")

with Tollgate(os.environ["TOLLGATE_LICENSE_KEY"], API, receipt_cache_path="receipts.json") as tg:
    check = tg.validate(feature="build", region="eu-west-1").raise_if_invalid()
    print("valid until", check.expires_at.isoformat(), "(offline)" if check.offline else "")

    spent = tg.consume("build", 3)  # one Idempotency-Key, reused on every retry: charged once
    print("charged", spent.charged, "entry", spent.entry_id)

    with tg.lease("build", duration_s=600, on_lost=lambda lease: print("lease lost:", lease.lost_error)) as lease:
        print("lease", lease.id, "heartbeats every", lease.heartbeat_interval_s, "s")
        # ... the work the lease pays for ...
    print("lease charged", lease.charged)

    with tg.allowance("build", block=20) as allowance:  # 20 tokens held; "build" costs 1 per use
        for _ in range(50):
            allowance.spend()  # no request: the next block is taken in the background
    print("allowance charged", allowance.record.charged, "in", allowance.reports, "requests")

    try:
        tg.consume("deploy", 1000)
    except InsufficientTokens as refused:
        print("refused:", refused)
