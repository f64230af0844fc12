"""A tiny fake SAM app (template + handlers) and an HTTP helper for the local-stack tests."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[3]

FAKE_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Timeout: 5
    MemorySize: 256
    Layers: [!Ref Layer]
    Environment:
      Variables:
        TABLE_NAME: !Ref TollgateTable
        STAGE: !Ref Stage
        TABLE_ARN: !GetAtt TollgateTable.Arn
        PINNED: from-template
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
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub fake-${Stage}-echo
      CodeUri: functions/echo/
      Handler: app.handler
      Environment: {Variables: {SERVICE: echo}}
      Events:
        Get: {Type: HttpApi, Properties: {Path: "/echo/{id}", Method: GET}}
        Post: {Type: HttpApi, Properties: {Path: /echo, Method: POST}}
        Files: {Type: HttpApi, Properties: {Path: "/files/{proxy+}", Method: ANY}}
        Slow: {Type: HttpApi, Properties: {Path: /slow, Method: GET}}
        Boom: {Type: HttpApi, Properties: {Path: /boom, Method: GET}}
        Bare: {Type: HttpApi, Properties: {Path: /bare, Method: GET}}
  SleepyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/sleepy/
      Handler: app.handler
      Timeout: 1
      Events:
        Sleep: {Type: HttpApi, Properties: {Path: /sleepy, Method: GET}}
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/tick/
      Handler: app.handler
      Events:
        Every5: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(5 minutes), Input: '{"job": "tick"}'}}
"""

ECHO_APP = """
import json, os, time

from tollgate.core.clock import SYSTEM_CLOCK


def handler(event, context):
    route = event["routeKey"]
    if route == "GET /boom":
        raise RuntimeError("boom: a secret that must not reach the client")
    if route == "GET /bare":
        return {"bare": True, "n": 1}
    started = time.time()
    if route == "GET /slow":  # wait (at most 4 s) until `peers` invocations have started: a rendezvous
        query = event["queryStringParameters"]
        open(os.path.join(query["dir"], str(os.getpid())), "w").close()
        until = time.monotonic() + 4
        while len(os.listdir(query["dir"])) < int(query["peers"]) and time.monotonic() < until:
            time.sleep(0.01)
    body = {
        "event": event,
        "module": __name__,
        "pid": os.getpid(),
        "offset_s": SYSTEM_CLOCK.offset_s,
        "now": SYSTEM_CLOCK.now(),
        "started": started,
        "ended": time.time(),
        "env": {k: os.environ.get(k) for k in ("TABLE_NAME", "STAGE", "TABLE_ARN", "PINNED", "SERVICE",
                                                "AWS_LAMBDA_FUNCTION_NAME")},
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": json.dumps(body),
    }
"""

SLEEPY_APP = """
import time


def handler(event, context):
    time.sleep(60)  # far past its 1 s timeout, whatever the machine's speed
    return {"statusCode": 200, "body": "too late"}
"""

TICK_APP = """
from tollgate.core.clock import SYSTEM_CLOCK


def handler(event, context):
    return {"got": event, "module": __name__, "offset_s": SYSTEM_CLOCK.offset_s}
"""


def write_fake_app(root: Path) -> Path:
    """The fake app under ``root``; returns its template's path. Its layer holds the real tollgate clock."""
    (root / "shared" / "tollgate").mkdir(parents=True)
    (root / "shared" / "tollgate" / "core").mkdir()
    (root / "shared" / "tollgate" / "__init__.py").write_text("")
    (root / "shared" / "tollgate" / "core" / "__init__.py").write_text("")
    shutil.copy(ROOT / "shared" / "tollgate" / "core" / "clock.py", root / "shared" / "tollgate" / "core" / "clock.py")
    for name, code in (("echo", ECHO_APP), ("sleepy", SLEEPY_APP), ("tick", TICK_APP)):
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(textwrap.dedent(code))
    template = root / "template.yaml"
    template.write_text(FAKE_TEMPLATE)
    return template


def call(
    base_url: str,
    method: str,
    path: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    if isinstance(body, dict):
        body = json.dumps(body)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
