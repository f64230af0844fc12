"""template.py against the real template.yaml and against small synthetic templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from infra.local.template import load_template, parse_rate, read_template
from tests.conftest import TEMPLATE

# The HTTP surface of SPEC.md's API table: every one of these must be served by some function.
SPEC_ROUTES = {
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenant"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
    ("GET", "/v1/catalog"),
    ("POST", "/v1/purchases"),
    ("GET", "/v1/purchases"),
    ("GET", "/v1/purchases/{id}"),
    ("GET", "/v1/balance"),
    ("GET", "/v1/ledger"),
    ("POST", "/v1/projects"),
    ("GET", "/v1/projects"),
    ("PATCH", "/v1/projects/{id}"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{id}"),
    ("POST", "/v1/keys/{id}/rotate"),
    ("POST", "/v1/validate"),
    ("POST", "/v1/consume"),
    ("POST", "/v1/leases"),
    ("POST", "/v1/leases/{id}/heartbeat"),
    ("DELETE", "/v1/leases/{id}"),
    ("POST", "/v1/stripe/webhook"),
    ("GET", "/v1/.well-known/jwks.json"),
}


@pytest.fixture(scope="module")
def real() -> dict:
    return read_template(TEMPLATE)


def _functions(raw: dict) -> dict[str, dict]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_every_function_and_every_http_api_event_of_the_real_template(real: dict) -> None:
    template = load_template(TEMPLATE, table_name="tbl-x")
    assert set(template.functions) == set(_functions(real))
    expected = {
        (fid, event["Properties"].get("Method", "ANY").upper(), event["Properties"].get("Path", "$default"))
        for fid, resource in _functions(real).items()
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    }
    assert {(r.function_id, r.method, r.path) for r in template.routes} == expected
    assert {(r.method, r.path) for r in template.routes} >= SPEC_ROUTES
    assert template.functions["SignupFunction"].routes[0].route_key == "POST /v1/tenants"
    assert template.functions["FallbackFunction"].routes[0].route_key == "$default"


def test_real_functions_get_globals_merged_with_their_own_environment(real: dict) -> None:
    template = load_template(TEMPLATE, table_name="tbl-x")
    global_names = set(real["Globals"]["Function"]["Environment"]["Variables"])
    for fid, resource in _functions(real).items():
        environment = template.functions[fid].environment
        assert global_names <= set(environment), fid
        own = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in own.items():
            if isinstance(value, str):
                assert environment[name] == value
        assert environment["TABLE_NAME"] == "tbl-x"  # !Ref TollgateTable
        assert environment["STAGE"] == "dev"  # !Ref Stage, its default
        assert all(isinstance(v, str) for v in environment.values())
    assert template.functions["SignupFunction"].environment["POWERTOOLS_SERVICE_NAME"] == "signup"


def test_real_function_settings_and_parameter_overrides() -> None:
    template = load_template(TEMPLATE, parameter_overrides={"Stage": "prod"})
    signup = template.functions["SignupFunction"]
    assert signup.function_name == "tollgate-prod-signup"
    assert signup.environment["STAGE"] == "prod"
    assert signup.code_uri == TEMPLATE.parent / "functions" / "signup"
    assert signup.handler == "app.handler"
    assert signup.layer_paths == (TEMPLATE.parent / "shared",)
    assert template.functions["ValidateFunction"].timeout_s == 5  # its own, over the Globals' 10
    assert template.functions["ValidateFunction"].memory_mb == 1024


def test_real_schedules_are_found(real: dict) -> None:
    template = load_template(TEMPLATE)
    expected = {
        (fid, event["Properties"]["ScheduleExpression"])
        for fid, resource in _functions(real).items()
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "ScheduleV2"
    }
    assert {(s.function_id, s.expression) for s in template.schedules} == expected
    sweeper = template.functions["SweeperFunction"].schedules
    assert [s.rate_s for s in sweeper] == [60]
    assert template.functions["SweeperFunction"].routes == ()


def test_real_table_definition() -> None:
    table = load_template(TEMPLATE).table
    assert table is not None
    assert table.billing_mode == "PAY_PER_REQUEST"
    assert table.key_schema == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {i["IndexName"]: i for i in table.global_secondary_indexes}
    assert {"by_kind", "by_due"} <= set(indexes)
    assert indexes["by_kind"]["KeySchema"][0] == {"AttributeName": "kind_pk", "KeyType": "HASH"}
    assert indexes["by_due"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    defined = {a["AttributeName"] for a in table.attribute_definitions}
    used = {k["AttributeName"] for k in table.key_schema} | {
        k["AttributeName"] for i in table.global_secondary_indexes for k in i["KeySchema"]
    }
    assert defined == used
    assert table.ttl_attribute == "purge_at"


SYNTHETIC = """\
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Stage: {Type: String, Default: dev}
  Size: {Type: Number, Default: 3}
  NoDefault: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        SHARED: global
        OVERRIDDEN: global
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PROVISIONED
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/fn
      Handler: pkg.mod.run
      Environment:
        Variables:
          OVERRIDDEN: own
          TABLE: !Ref Table
          SUB: !Sub "${Stage}-${AWS::Region}-${Table}-${!Literal}"
          SUB_VARS: !Sub ["${a}/${b}", {a: !Ref Stage, b: x}]
          JOIN: !Join ["-", [a, !Ref Size, c]]
          IF: !If [NotProd, not-prod, prod]
          SELECT: !Select [1, [x, y, z]]
          SPLIT_SELECT: !Select [0, !Split [",", "p,q"]]
          BOOL: true
          NUMBER: 5
          GETATT: !GetAtt Table.Arn
          SUB_GETATT: !Sub "${Table.Arn}/index"
          UNKNOWN_REF: !Ref Nothing
          NO_DEFAULT: !Ref NoDefault
          IMPORT: !ImportValue other-stack-output
          DROPPED: !If [IsProd, x, !Ref AWS::NoValue]
      Events:
        Any: {Type: HttpApi, Properties: {Path: "/x/{proxy+}", Method: any}}
        Default: {Type: HttpApi}
        Cron: {Type: ScheduleV2, Properties: {ScheduleExpression: "cron(0 12 * * ? *)"}}
        Off: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(2 hours), State: DISABLED}}
"""


def test_short_form_intrinsics_resolve_and_the_unresolvable_become_empty(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(SYNTHETIC))
    assert read_template(path)["AWSTemplateFormatVersion"] == "2010-09-09"  # a string, not a date
    template = load_template(path, table_name="local-tbl", region="eu-west-1", table_logical_id="Table")
    fn = template.functions["Fn"]
    assert fn.environment == {
        "SHARED": "global",
        "OVERRIDDEN": "own",
        "TABLE": "local-tbl",
        "SUB": "dev-eu-west-1-local-tbl-${Literal}",
        "SUB_VARS": "dev/x",
        "JOIN": "a-3-c",
        "IF": "not-prod",
        "SELECT": "y",
        "SPLIT_SELECT": "p",
        "BOOL": "true",
        "NUMBER": "5",
        "GETATT": "",
        "SUB_GETATT": "",
        "UNKNOWN_REF": "",
        "NO_DEFAULT": "",
        "IMPORT": "",
    }
    unresolved = " ".join(template.warnings)
    for name in ("GETATT", "SUB_GETATT", "UNKNOWN_REF", "NO_DEFAULT", "IMPORT"):
        assert name in unresolved
    assert fn.timeout_s == 7
    assert fn.handler == "pkg.mod.run"
    assert fn.code_uri == tmp_path / "src" / "fn"
    assert {r.route_key for r in fn.routes} == {"ANY /x/{proxy+}", "$default"}
    cron, off = fn.schedules
    assert cron.rate_s is None
    assert "cron(0 12 * * ? *)" in unresolved
    assert (off.rate_s, off.enabled) == (7200, False)
    assert template.table is not None
    assert template.table.billing_mode == "PROVISIONED"  # as written; tables.py makes it on-demand


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(3 days)", 259200),
        ("cron(0 12 * * ? *)", None),
        ("at(2026-01-01T00:00:00)", None),
        ("rate(0 minutes)", None),
        ("rate(1 week)", None),
    ],
)
def test_parse_rate(expression: str, seconds: int | None) -> None:
    assert parse_rate(expression) == seconds


def test_the_portals_deployed_resources_are_in_the_template_and_ignored_locally(real: dict) -> None:
    """The portal deploys as a private, encrypted, versioned bucket behind CloudFront with origin access
    control; the local gateway serves the files itself and reads only functions and the table."""
    resources = real["Resources"]
    bucket = resources["PortalBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    distribution = resources["PortalDistribution"]["Properties"]["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in distribution["Origins"]}
    assert origins["portal"]["OriginAccessControlId"] == {"Fn::GetAtt": ["PortalOriginAccessControl", "Id"]}
    assert origins["api"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert [b["PathPattern"] for b in distribution["CacheBehaviors"]] == ["/portal*"]

    template = load_template(TEMPLATE, table_name="tbl-x")
    portal_ids = {"PortalBucket", "PortalBucketPolicy", "PortalDistribution", "PortalOriginAccessControl"}
    portal_ids |= {"PortalRewrite", "PortalSecurityHeaders"}
    assert portal_ids <= set(resources)
    assert not portal_ids & set(template.functions)
    assert not [warning for warning in template.warnings if "Portal" in warning]
