"""The table's stream, run locally: the template's ``DynamoDB`` event source mappings against DynamoDB Local.

On AWS, Lambda polls the table's stream for each mapping and invokes the function with batches of records.
Locally, one thread per mapping does the same against DynamoDB Local's stream (the ``dynamodbstreams`` API),
with the mapping's own settings:

- ``StartingPosition`` TRIM_HORIZON or LATEST, for the shards present at start; shards that appear later
  are read from their start, as Lambda does with child shards.
- ``FilterCriteria``: records that no pattern matches are dropped (checkpointed, never delivered). Patterns:
  nested objects whose leaves are lists of exact values, ``{"prefix": …}``, ``{"suffix": …}``,
  ``{"exists": true|false}`` and ``{"anything-but": [...]}`` (what Tollgate's template uses).
- ``BatchSize`` and ``MaximumBatchingWindowInSeconds`` (at most the window is waited for a full batch).
- Errors: a batch whose invocation fails is retried (short backoff) up to ``MaximumRetryAttempts`` times;
  with ``BisectBatchOnFunctionError`` a failing batch is split in two and each half retried on its own;
  with ``ReportBatchItemFailures`` the answer's ``batchItemFailures`` checkpoint everything before the first
  failed record and retry from it. Records that exhaust their retries go to the local dead-letter list (the
  ``OnFailure`` destination), readable at ``GET /_local/dead-letters``, and the shard moves on.

Local controls (served by the gateway): ``POST /_local/streams/redeliver {"function", "records"}`` invokes
a function again with the last N records it was delivered (to prove a consumer idempotent), and
``POST /_local/streams/drain`` waits until every mapping has read the stream to its end and delivered it, and
what the consumers wrote meanwhile too (until a pass finds the stream quiet).
Records are shaped as Lambda shapes them (``ApproximateCreationDateTime`` in epoch seconds, images in
DynamoDB JSON; binary values base64-encoded).
"""

from __future__ import annotations

import base64
import collections
import datetime
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.local.template import StreamMapping

LOG = logging.getLogger("tollgate.local.streams")

POLL_INTERVAL_S = 0.2
RETRY_DELAY_S = (0.2, 0.5, 1.0, 2.0)
LOCAL_RETRY_CAP = 50  # ``MaximumRetryAttempts: -1`` locally: a record would otherwise block its shard forever
KEEP_DELIVERED = 10_000


class InvokeFailed(Exception):
    """The function raised or timed out: the whole batch failed."""


Invoke = Callable[[str, dict[str, Any]], Any]  # (function id, event) -> the handler's answer, or InvokeFailed


# ------------------------------------------------------------------------------------------ filters


def _leaf_matches(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return present is bool(rule["exists"])
        if not present:
            return False
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(str(rule["prefix"]))
        if "suffix" in rule:
            return isinstance(value, str) and value.endswith(str(rule["suffix"]))
        if "anything-but" in rule:
            excluded = rule["anything-but"]
            return value not in (excluded if isinstance(excluded, list) else [excluded])
        return False
    return present and value == rule


def pattern_matches(pattern: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    """Whether an EventBridge-style filter ``pattern`` (the subset documented above) matches ``document``."""
    for key, rule in pattern.items():
        present = isinstance(document, Mapping) and key in document
        value = document.get(key) if present else None
        if isinstance(rule, dict):
            if not isinstance(value, Mapping) or not pattern_matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_leaf_matches(r, present, value) for r in rule):
                return False
        else:
            return False
    return True


def record_matches(filters: tuple[Any, ...], record: Mapping[str, Any]) -> bool:
    return not filters or any(isinstance(f, Mapping) and pattern_matches(f, record) for f in filters)


# ------------------------------------------------------------------------------------------ records


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    return value


def lambda_record(raw: Mapping[str, Any], stream_arn: str, region: str, offset_s: int = 0) -> dict[str, Any]:
    """A ``GetRecords`` record as Lambda hands it to a function. ``ApproximateCreationDateTime`` follows the
    application clock (``offset_s``, the local clock's offset when the record is read), as the handlers' own
    clock and the gateway's ``requestContext`` do: a consumer that stamps what it writes with the record's
    time (the alert evaluator's ``balance.depleted``) must not write it 40 days in the past of everything else."""
    record = _plain(dict(raw))
    change = record.get("dynamodb")
    if offset_s and isinstance(change, dict) and isinstance(change.get("ApproximateCreationDateTime"), int):
        change["ApproximateCreationDateTime"] += offset_s
    record.setdefault("eventSource", "aws:dynamodb")
    record.setdefault("awsRegion", region)
    record["eventSourceARN"] = stream_arn
    return record


# ------------------------------------------------------------------------------------------ runner


@dataclass
class DeadLetter:
    function_id: str
    reason: str
    first_sequence_number: str
    last_sequence_number: str
    batch_size: int
    at: float = field(default_factory=time.time)

    def document(self) -> dict[str, Any]:
        return {
            "function": self.function_id,
            "reason": self.reason,
            "first_sequence_number": self.first_sequence_number,
            "last_sequence_number": self.last_sequence_number,
            "batch_size": self.batch_size,
            "at": int(self.at),
        }


class _Mapping:
    """One mapping's reader: its shard iterators, what it delivered, whether it has caught up."""

    def __init__(self, spec: StreamMapping) -> None:
        self.spec = spec
        self.iterators: dict[str, str | None] = {}  # shard id -> next iterator (None: shard closed and read)
        self.delivered: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP_DELIVERED)
        self.idle_rounds = 0  # rounds that found nothing new, since start
        self.busy_rounds = 0  # rounds that read records (and delivered what matched), since start
        self.started = False  # the shards present at start were opened at the mapping's starting position


class StreamRunner:
    """Runs ``mappings`` against the stream of ``table_name`` on ``client`` (a ``dynamodbstreams`` client and a
    ``dynamodb`` client for the table's stream ARN), invoking functions through ``invoke``."""

    def __init__(
        self,
        mappings: list[StreamMapping],
        *,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        region: str,
        invoke: Invoke,
        clock_offset: Callable[[], int] = lambda: 0,
    ) -> None:
        self._clock_offset = clock_offset
        self._mappings = [_Mapping(m) for m in mappings if m.enabled]
        self._dynamodb = dynamodb
        self._streams = streams
        self._table_name = table_name
        self._region = region
        self._invoke = invoke
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._threads: list[threading.Thread] = []
        self.dead_letters: list[DeadLetter] = []
        self._stream_arn: str | None = None

    @property
    def function_ids(self) -> list[str]:
        return [m.spec.function_id for m in self._mappings]

    def start(self) -> StreamRunner:
        if not self._mappings:
            return self
        self._stream_arn = self._dynamodb.describe_table(TableName=self._table_name)["Table"].get("LatestStreamArn")
        if not self._stream_arn:
            LOG.warning("the table %s has no stream: %d mapping(s) not run", self._table_name, len(self._mappings))
            return self
        for mapping in self._mappings:
            thread = threading.Thread(
                target=self._run, args=(mapping,), name=f"stream-{mapping.spec.function_id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ controls

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until the stream is quiet: every mapping has finished two rounds with nothing new, and no
        mapping read anything meanwhile; False on timeout.

        Two idle rounds mean everything written before the pass began was read and delivered. A consumer's
        own writes (the alert evaluator's events, which the notifier reads) happen inside a round that read
        records, so a pass in which any mapping read something is followed by another: when ``drain``
        answers True, whatever the consumers wrote because of what came before has been delivered too."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                idle = {id(m): m.idle_rounds + 2 for m in self._mappings}
                busy = {id(m): m.busy_rounds for m in self._mappings}
                while not all(m.idle_rounds >= idle[id(m)] for m in self._mappings):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._stopping.is_set():
                        return False
                    self._changed.wait(min(remaining, 0.5))
                if all(m.busy_rounds == busy[id(m)] for m in self._mappings):
                    return True

    def redeliver(self, function_id: str, count: int) -> dict[str, Any]:
        """Invoke ``function_id`` again with the last ``count`` records it was delivered, in its batch size."""
        mapping = next((m for m in self._mappings if m.spec.function_id == function_id), None)
        if mapping is None:
            raise KeyError(function_id)
        records = list(mapping.delivered)[-count:] if count > 0 else []
        batches = 0
        for start in range(0, len(records), mapping.spec.batch_size):
            self._deliver(mapping, records[start : start + mapping.spec.batch_size], remember=False)
            batches += 1
        return {"function": function_id, "records": len(records), "batches": batches}

    # ------------------------------------------------------------------ the loop

    def _run(self, mapping: _Mapping) -> None:
        while not self._stopping.is_set():
            try:
                found = self._round(mapping)
            except Exception:  # DynamoDB Local went away, or a bug: say so, keep polling
                LOG.exception("stream mapping %s: a polling round failed", mapping.spec.function_id)
                found = 0
            with self._changed:
                if found == 0:
                    mapping.idle_rounds += 1
                else:
                    mapping.busy_rounds += 1
                self._changed.notify_all()
            self._stopping.wait(POLL_INTERVAL_S)

    def _round(self, mapping: _Mapping) -> int:
        """Read every open shard once and deliver what matched; the number of records read."""
        assert self._stream_arn is not None
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"].get("Shards", [])
        read = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in mapping.iterators:
                position = "TRIM_HORIZON" if mapping.started else mapping.spec.starting_position
                mapping.iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType=position
                )["ShardIterator"]
            iterator = mapping.iterators[shard_id]
            if iterator is None:
                continue
            records: list[dict[str, Any]] = []
            window_end = time.monotonic() + mapping.spec.batching_window_s
            while iterator is not None:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = answer.get("NextShardIterator")
                got = answer.get("Records", [])
                offset = self._clock_offset()
                records.extend(lambda_record(r, self._stream_arn, self._region, offset) for r in got)
                full = len(records) >= mapping.spec.batch_size
                if not got and (not records or full or time.monotonic() >= window_end):
                    break
                if not got:
                    time.sleep(min(0.05, max(0.0, window_end - time.monotonic())))
            mapping.iterators[shard_id] = iterator
            read += len(records)
            wanted = [r for r in records if record_matches(mapping.spec.filters, r)]
            for start in range(0, len(wanted), mapping.spec.batch_size):
                self._process(mapping, wanted[start : start + mapping.spec.batch_size])
        mapping.started = True
        return read

    def _process(self, mapping: _Mapping, batch: list[dict[str, Any]], attempts: int = 0) -> None:
        """Deliver ``batch`` until it succeeds, bisecting and retrying as the mapping says."""
        spec = mapping.spec
        limit = spec.maximum_retry_attempts if spec.maximum_retry_attempts >= 0 else LOCAL_RETRY_CAP
        while batch and not self._stopping.is_set():
            try:
                failed_from = self._deliver(mapping, batch)
            except InvokeFailed as exc:
                if attempts >= limit:
                    self._dead_letter(mapping, batch, f"retries exhausted: {exc}")
                    return
                attempts += 1
                self._stopping.wait(RETRY_DELAY_S[min(attempts, len(RETRY_DELAY_S)) - 1])
                if spec.bisect_on_error and len(batch) > 1:
                    half = len(batch) // 2
                    self._process(mapping, batch[:half], attempts)
                    self._process(mapping, batch[half:], attempts)
                    return
                continue
            if failed_from is None:
                return
            batch = batch[failed_from:]
            if attempts >= limit:
                self._dead_letter(mapping, batch, "retries exhausted: batch item failures")
                return
            attempts += 1
            self._stopping.wait(RETRY_DELAY_S[min(attempts, len(RETRY_DELAY_S)) - 1])

    def _deliver(self, mapping: _Mapping, batch: list[dict[str, Any]], remember: bool = True) -> int | None:
        """Invoke once; the index of the first record to retry (from ``batchItemFailures``), or None."""
        answer = self._invoke(mapping.spec.function_id, {"Records": batch})
        failed_from: int | None = None
        if mapping.spec.report_batch_item_failures and isinstance(answer, Mapping):
            failures = answer.get("batchItemFailures") or []
            ids = {str(f.get("itemIdentifier")) for f in failures if isinstance(f, Mapping)}
            positions = [i for i, r in enumerate(batch) if r["dynamodb"].get("SequenceNumber") in ids]
            if ids and not positions:  # an identifier that names no record: Lambda retries the whole batch
                positions = [0]
            failed_from = min(positions) if positions else None
        if remember:
            mapping.delivered.extend(batch if failed_from is None else batch[:failed_from])
        return failed_from

    def _dead_letter(self, mapping: _Mapping, batch: list[dict[str, Any]], reason: str) -> None:
        letter = DeadLetter(
            function_id=mapping.spec.function_id,
            reason=reason,
            first_sequence_number=str(batch[0]["dynamodb"].get("SequenceNumber")),
            last_sequence_number=str(batch[-1]["dynamodb"].get("SequenceNumber")),
            batch_size=len(batch),
        )
        self.dead_letters.append(letter)
        LOG.warning("stream mapping %s: %d record(s) dead-lettered: %s", letter.function_id, len(batch), reason)

    def dead_letter_documents(self) -> list[dict[str, Any]]:
        return [letter.document() for letter in self.dead_letters]


def invoke_through(gateway_invoke: Callable[..., Any]) -> Invoke:
    """An ``Invoke`` over the gateway's worker pool: a failed invocation raises ``InvokeFailed``."""

    def invoke(function_id: str, event: dict[str, Any]) -> Any:
        result = gateway_invoke(function_id, event)
        if not result.ok:
            raise InvokeFailed(f"{result.error_type}: {result.error_message}")
        return json.loads(result.payload) if result.payload else None

    return invoke
