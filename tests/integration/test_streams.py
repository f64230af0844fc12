"""The local gateway runs a template's DynamoDB event source mappings against DynamoDB Local's stream.

A fake app (its own template, table and stream consumer) on a real DynamoDB Local: the consumer records what
it is handed in a file, and fails where an item tells it to. What is checked is what Lambda does with a
mapping's settings: the filter, batches, retries, bisection, batch item failures, the dead-letter
destination, and the local controls (drain, redeliver)."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local import dynamodb_local
from infra.local.gateway import Gateway
from infra.local.tables import create_table
from infra.local.template import load_template
from tests.integration.conftest import free_port, http

ROOT = Path(__file__).resolve().parents[2]
TABLE = "streams-test"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
    Layers: [!Ref Layer]
    Environment:
      Variables:
        TABLE_NAME: !Ref TollgateTable
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: shared/}
  TollgateTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  DeadLetters:
    Type: AWS::SQS::Queue
  RecorderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/recorder/
      Handler: app.handler
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt TollgateTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 4
            MaximumRetryAttempts: 2
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"NewImage": {"kind": {"S": ["event"]}}}}'
            DestinationConfig:
              OnFailure:
                Destination: !GetAtt DeadLetters.Arn
  ForwarderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/forwarder/
      Handler: app.handler
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt TollgateTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"NewImage": {"kind": {"S": ["forward"]}}}}'
"""

RECORDER = """
import json, os, time

def handler(event, context):
    log = os.environ["RECORD_FILE"]
    failures = []
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        pk = image["pk"]["S"]
        mode = image.get("fail", {}).get("S")
        if mode == "raise":
            raise RuntimeError("this record always fails: " + pk)
        if "slow" in image:  # a consumer that takes its time over this record
            time.sleep(float(image["slow"]["S"]))
        marker = log + "." + pk
        if mode == "once" and not os.path.exists(marker):
            open(marker, "w").close()
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        change = record["dynamodb"]
        seen = {"pk": pk, "event": record["eventName"], "seq": change["SequenceNumber"],
                "source": record["eventSource"], "at": change["ApproximateCreationDateTime"]}
        with open(log, "a") as out:
            out.write(json.dumps(seen) + "\\n")
    return {"batchItemFailures": failures}
"""


FORWARDER = """
import os

import boto3


def handler(event, context):
    # what a consumer writes because of what it read (Tollgate's alert evaluator writes events the notifier reads)
    client = boto3.client("dynamodb", endpoint_url=os.environ["DDB_ENDPOINT"], region_name="us-east-1")
    for record in event["Records"]:
        pk = record["dynamodb"]["NewImage"]["pk"]["S"]
        item = {"pk": {"S": pk + "-forwarded"}, "kind": {"S": "event"}, "slow": {"S": "2"}}
        client.put_item(TableName=os.environ["TABLE"], Item=item)
    return {"batchItemFailures": []}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Any, Path]]:
    root = tmp_path_factory.mktemp("stream-app")
    (root / "shared" / "tollgate").mkdir(parents=True)
    (root / "shared" / "tollgate" / "core").mkdir()
    (root / "shared" / "tollgate" / "__init__.py").write_text("")
    (root / "shared" / "tollgate" / "core" / "__init__.py").write_text("")
    shutil.copy(ROOT / "shared" / "tollgate" / "core" / "clock.py", root / "shared" / "tollgate" / "core" / "clock.py")
    (root / "functions" / "recorder").mkdir(parents=True)
    (root / "functions" / "recorder" / "app.py").write_text(textwrap.dedent(RECORDER))
    (root / "functions" / "forwarder").mkdir(parents=True)
    (root / "functions" / "forwarder" / "app.py").write_text(textwrap.dedent(FORWARDER))
    (root / "template.yaml").write_text(TEMPLATE)
    record_file = root / "records.jsonl"
    with dynamodb_local.start(free_port(), root=ROOT) as ddb:
        client = dynamodb_local.dynamodb_client(ddb.endpoint)
        create_table(client, TABLE, root / "template.yaml")
        template = load_template(root / "template.yaml", table_name=TABLE)
        streams = dynamodb_local.dynamodb_client(ddb.endpoint, service="dynamodbstreams")
        gateway = Gateway(
            template,
            workers=2,
            schedules=False,
            environment={
                "RECORD_FILE": str(record_file),
                "DDB_ENDPOINT": ddb.endpoint,
                "TABLE": TABLE,
                "AWS_ACCESS_KEY_ID": dynamodb_local.DUMMY_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": dynamodb_local.DUMMY_CREDENTIALS["aws_secret_access_key"],
            },
            stream_clients=(client, streams),
            table_name=TABLE,
        )
        with gateway:
            yield gateway, client, record_file


def put(client: Any, pk: str, kind: str = "event", fail: str | None = None) -> None:
    item = {"pk": {"S": pk}, "kind": {"S": kind}}
    if fail:
        item["fail"] = {"S": fail}
    client.put_item(TableName=TABLE, Item=item)


def drain(gateway: Gateway) -> None:
    answer = http("POST", gateway.url + "/_local/streams/drain", {"timeout_s": 60})
    assert answer.status == 200, answer.body
    assert answer.body == {"drained": True}


def recorded(record_file: Path) -> list[dict[str, Any]]:
    if not record_file.exists():
        return []
    return [json.loads(line) for line in record_file.read_text().splitlines()]


def test_records_matching_the_filter_are_delivered_in_order_once(app: tuple[Gateway, Any, Path]) -> None:
    gateway, client, record_file = app
    for i in range(10):
        put(client, f"a{i}")
    put(client, "not-an-event", kind="ledger")
    drain(gateway)
    got = [r for r in recorded(record_file) if r["pk"].startswith("a") or r["pk"] == "not-an-event"]
    assert [r["pk"] for r in got] == [f"a{i}" for i in range(10)]
    assert {r["event"] for r in got} == {"INSERT"}
    assert {r["source"] for r in got} == {"aws:dynamodb"}
    assert all(isinstance(r["at"], int) for r in got)


def test_a_batch_item_failure_is_retried_from_that_record(app: tuple[Gateway, Any, Path]) -> None:
    gateway, client, record_file = app
    put(client, "b0")
    put(client, "b1", fail="once")
    put(client, "b2")
    drain(gateway)
    got = [r["pk"] for r in recorded(record_file) if r["pk"].startswith("b")]
    # the first invocation records b0 and b2 and reports b1; Lambda checkpoints b0 and hands over b1 and
    # everything after it again (so b2 twice: at least once, which is why consumers must be idempotent)
    assert got == ["b0", "b2", "b1", "b2"]


def test_a_record_that_always_fails_is_bisected_out_and_dead_lettered(app: tuple[Gateway, Any, Path]) -> None:
    gateway, client, record_file = app
    for pk, fail in (("c0", None), ("c1", None), ("c2", "raise"), ("c3", None)):
        put(client, pk, fail=fail)
    drain(gateway)
    got = [r["pk"] for r in recorded(record_file) if r["pk"].startswith("c")]
    # the whole batch failed (after c0 and c1 were recorded); it was split until the poisoned record stood
    # alone: [c0, c1] again, then [c2, c3] failed, then [c2] alone exhausted its retries and [c3] went through
    assert got == ["c0", "c1", "c0", "c1", "c3"]
    letters = http("GET", gateway.url + "/_local/dead-letters").body["dead_letters"]
    assert [(d["function"], d["batch_size"]) for d in letters] == [("RecorderFunction", 1)]
    assert "retries exhausted" in letters[0]["reason"]


def test_redeliver_hands_the_last_records_over_again(app: tuple[Gateway, Any, Path]) -> None:
    gateway, client, record_file = app
    put(client, "d0")
    put(client, "d1")
    drain(gateway)
    answer = http("POST", gateway.url + "/_local/streams/redeliver", {"function": "RecorderFunction", "records": 2})
    assert answer.status == 200, answer.body
    assert answer.body["records"] == 2
    got = [r for r in recorded(record_file) if r["pk"].startswith("d")]
    assert [r["pk"] for r in got] == ["d0", "d1", "d0", "d1"]
    assert got[0]["seq"] == got[2]["seq"]  # the same records, not new ones


def test_drain_waits_for_what_a_consumer_writes_for_another(app: tuple[Gateway, Any, Path]) -> None:
    """The forwarder writes an item the recorder reads, and the recorder takes 2 s over it. The drain answers
    only after the recorder has delivered it: the forwarder's mapping going quiet is not enough."""
    gateway, client, record_file = app
    put(client, "f0", kind="forward")
    drain(gateway)
    assert [r["pk"] for r in recorded(record_file) if r["pk"].startswith("f")] == ["f0-forwarded"]


def test_stream_controls_refuse_what_they_cannot_do(app: tuple[Gateway, Any, Path]) -> None:
    gateway, _, _ = app
    assert http("POST", gateway.url + "/_local/streams/redeliver", {"function": "Nope"}).status == 404
    bad = http("POST", gateway.url + "/_local/streams/redeliver", {"function": "RecorderFunction", "records": -1})
    assert bad.status == 422
    assert http("GET", gateway.url + "/_local/streams/drain").status == 405
    assert http("POST", gateway.url + "/_local/streams/drain", {"timeout_s": 0}).status == 422
