"""Read ``template.yaml`` the way the local stack needs it.

The SAM template is the one source of truth: the local gateway takes its routes, handlers, environment and
schedules from here, and the local table is created from the template's own ``TollgateTable`` definition.

Only what the local stack needs is resolved. Intrinsic functions are evaluated against the parameters'
defaults (or overrides), a few pseudo parameters and ``!Ref TollgateTable`` (the local table name); anything
that only exists in a deployed stack (``!GetAtt``, ``!ImportValue``, references to other resources) resolves
to ``""`` in environment variables and is reported in ``LocalTemplate.warnings``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LOCAL_ACCOUNT_ID = "123456789012"
DEFAULT_TABLE_LOGICAL_ID = "TollgateTable"


# --------------------------------------------------------------------------------------------- YAML


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that turns CloudFormation short forms (``!Ref x``) into long forms."""


def _construct_short_form(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_short_form)
# CloudFormation reads dates as strings ("2010-09-09"), not as datetime.date.
CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def read_template(path: str | Path) -> dict[str, Any]:
    """The template as plain data, short forms turned into ``{"Ref": …}`` / ``{"Fn::…": …}``."""
    with Path(path).open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a CloudFormation template")
    return data


# -------------------------------------------------------------------------------------- intrinsics


class Unresolvable(Exception):
    """A value that only a deployed stack can know."""


_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Resolver:
    """Evaluates the intrinsic functions that make sense outside AWS."""

    parameters: Mapping[str, str]
    resource_refs: Mapping[str, str]
    conditions: Mapping[str, Any]
    mappings: Mapping[str, Any]
    pseudo: Mapping[str, str]
    _condition_cache: dict[str, bool] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self._ref(arg)
                if key.startswith("Fn::") or key == "Condition":
                    return self._function(key, arg)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        return value

    def resolve_or(self, value: Any, default: Any) -> Any:
        """``resolve``, or ``default`` when the value only exists in a deployed stack."""
        try:
            return self.resolve(value)
        except (Unresolvable, ValueError, TypeError, IndexError, KeyError):
            return default

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise Unresolvable(f"unknown condition {name}")
            self._condition_cache[name] = self._truth(self.conditions[name])
        return self._condition_cache[name]

    def _truth(self, value: Any) -> bool:
        result = self.resolve(value)
        if isinstance(result, bool):
            return result
        raise Unresolvable(f"not a condition: {value!r}")

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise Unresolvable(f"Ref {name!r}")
        if name == "AWS::NoValue":
            return _NO_VALUE
        for table in (self.parameters, self.resource_refs, self.pseudo):
            if name in table:
                return table[name]
        raise Unresolvable(f"Ref {name}")

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            name, if_true, if_false = arg
            return self.resolve(if_true if self.condition(name) else if_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(v) for v in arg)
            return _text(left) == _text(right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(v) for v in arg)
        if key == "Fn::Or":
            return any(self._truth(v) for v in arg)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            delimiter, items = arg
            return delimiter.join(_text(v) for v in self.resolve(items))
        if key == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if key == "Fn::Split":
            delimiter, source = self.resolve(arg)
            return _text(source).split(delimiter)
        if key == "Fn::FindInMap":
            name, top, second = self.resolve(arg)[:3]
            try:
                return self.mappings[name][top][second]
            except (KeyError, TypeError) as exc:
                raise Unresolvable(f"FindInMap {name}/{top}/{second}") from exc
        raise Unresolvable(key)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            template, variables = arg[0], self.resolve(arg[1])
        else:
            template, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name:
                raise Unresolvable(f"GetAtt {name}")
            return _text(self._ref(name))

        return _SUB_VARIABLE.sub(replace, template)


def _text(value: Any) -> str:
    """A scalar the way CloudFormation stringifies it."""
    if value is _NO_VALUE:
        raise Unresolvable("AWS::NoValue")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise Unresolvable(f"not a scalar: {value!r}")


# -------------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class HttpRoute:
    """One ``HttpApi`` event: ``method`` is upper-case (``ANY`` allowed); ``$default`` has no path."""

    function_id: str
    event_name: str
    method: str
    path: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Schedule:
    """One ``ScheduleV2`` event. ``rate_s`` is None for expressions the local stack cannot run."""

    function_id: str
    event_name: str
    expression: str
    rate_s: int | None
    input: Any
    enabled: bool


@dataclass(frozen=True)
class StreamMapping:
    """One ``DynamoDB`` event source mapping of a function (the table's stream). ``filters`` are the
    ``FilterCriteria`` patterns, parsed; a record is delivered when any of them matches (or there are none)."""

    function_id: str
    event_name: str
    starting_position: str
    batch_size: int
    batching_window_s: float
    maximum_retry_attempts: int  # -1: until the record expires (locally: practically forever)
    bisect_on_error: bool
    report_batch_item_failures: bool
    filters: tuple[Any, ...]
    on_failure: str | None
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    function_name: str
    code_uri: Path
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: Mapping[str, str]
    layer_paths: tuple[Path, ...]
    routes: tuple[HttpRoute, ...]
    schedules: tuple[Schedule, ...]
    streams: tuple[StreamMapping, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    billing_mode: str
    attribute_definitions: list[dict[str, Any]]
    key_schema: list[dict[str, Any]]
    global_secondary_indexes: list[dict[str, Any]]
    local_secondary_indexes: list[dict[str, Any]]
    ttl_attribute: str | None
    stream_view_type: str | None = None


@dataclass(frozen=True)
class LocalTemplate:
    path: Path
    functions: Mapping[str, FunctionSpec]
    table: TableSpec | None
    warnings: tuple[str, ...]

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def routes(self) -> list[HttpRoute]:
        return [route for spec in self.functions.values() for route in spec.routes]

    @property
    def schedules(self) -> list[Schedule]:
        return [s for spec in self.functions.values() for s in spec.schedules]

    @property
    def streams(self) -> list[StreamMapping]:
        return [s for spec in self.functions.values() for s in spec.streams]


# -------------------------------------------------------------------------------------- schedules

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> int | None:
    """Seconds between runs of ``rate(N minute[s]|hour[s]|day[s])``; None for cron() and at()."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    count = int(match.group(1))
    return count * _UNIT_S[match.group(2).rstrip("s")] if count > 0 else None


# -------------------------------------------------------------------------------------- loading


def make_resolver(
    template: Mapping[str, Any],
    *,
    table_name: str,
    region: str,
    parameter_overrides: Mapping[str, str] | None = None,
    table_logical_id: str = DEFAULT_TABLE_LOGICAL_ID,
) -> Resolver:
    parameters: dict[str, str] = {}
    for name, definition in (template.get("Parameters") or {}).items():
        if parameter_overrides and name in parameter_overrides:
            parameters[name] = parameter_overrides[name]
        elif isinstance(definition, dict) and "Default" in definition:
            parameters[name] = _text(definition["Default"])
    return Resolver(
        parameters=parameters,
        resource_refs={table_logical_id: table_name},
        conditions=template.get("Conditions") or {},
        mappings=template.get("Mappings") or {},
        pseudo={
            "AWS::Region": region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "tollgate-local",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{LOCAL_ACCOUNT_ID}:stack/tollgate-local/local",
            "AWS::NotificationARNs": "",
        },
    )


def load_template(
    path: str | Path,
    *,
    table_name: str = "tollgate-local",
    region: str = "us-east-1",
    parameter_overrides: Mapping[str, str] | None = None,
    table_logical_id: str = DEFAULT_TABLE_LOGICAL_ID,
) -> LocalTemplate:
    """Functions (with routes, schedules and merged environment) and the table, from a SAM template."""
    path = Path(path).resolve()
    raw = read_template(path)
    resolver = make_resolver(
        raw,
        table_name=table_name,
        region=region,
        parameter_overrides=parameter_overrides,
        table_logical_id=table_logical_id,
    )
    resources: dict[str, Any] = raw.get("Resources") or {}
    globals_ = ((raw.get("Globals") or {}).get("Function")) or {}
    warnings: list[str] = []
    functions = {
        logical_id: _function_spec(logical_id, resource, globals_, resources, resolver, path.parent, warnings)
        for logical_id, resource in resources.items()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function"
    }
    table = None
    if table_logical_id in resources:
        table = table_spec(resources[table_logical_id], resolver, table_logical_id)
    return LocalTemplate(path=path, functions=functions, table=table, warnings=tuple(warnings))


def load_table_spec(path: str | Path, table_logical_id: str = DEFAULT_TABLE_LOGICAL_ID) -> TableSpec:
    raw = read_template(path)
    resources = raw.get("Resources") or {}
    if table_logical_id not in resources:
        raise KeyError(f"{path}: no resource {table_logical_id}")
    resolver = make_resolver(raw, table_name="local", region="us-east-1", table_logical_id=table_logical_id)
    return table_spec(resources[table_logical_id], resolver, table_logical_id)


def table_spec(resource: Mapping[str, Any], resolver: Resolver, logical_id: str) -> TableSpec:
    if resource.get("Type") != "AWS::DynamoDB::Table":
        raise ValueError(f"{logical_id} is not an AWS::DynamoDB::Table")
    raw: Mapping[str, Any] = resource.get("Properties") or {}
    wanted = (
        "BillingMode",
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "TimeToLiveSpecification",
        "StreamSpecification",
    )
    props = {name: resolver.resolve(raw[name]) for name in wanted if name in raw}
    ttl = props.get("TimeToLiveSpecification") or {}
    return TableSpec(
        logical_id=logical_id,
        billing_mode=props.get("BillingMode", "PROVISIONED"),
        attribute_definitions=list(props.get("AttributeDefinitions") or []),
        key_schema=list(props.get("KeySchema") or []),
        global_secondary_indexes=list(props.get("GlobalSecondaryIndexes") or []),
        local_secondary_indexes=list(props.get("LocalSecondaryIndexes") or []),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true", "True") else None,
        stream_view_type=(props.get("StreamSpecification") or {}).get("StreamViewType"),
    )


def _function_spec(
    logical_id: str,
    resource: Mapping[str, Any],
    globals_: Mapping[str, Any],
    resources: Mapping[str, Any],
    resolver: Resolver,
    root: Path,
    warnings: list[str],
) -> FunctionSpec:
    props: Mapping[str, Any] = resource.get("Properties") or {}

    def prop(name: str, default: Any) -> Any:
        return props.get(name, globals_.get(name, default))

    def scalar(name: str, default: Any) -> Any:
        try:
            return resolver.resolve(prop(name, default))
        except (Unresolvable, ValueError, TypeError, IndexError):
            warnings.append(f"{logical_id}.{name}: unresolvable locally, using {default!r}")
            return default

    variables = dict(((globals_.get("Environment") or {}).get("Variables")) or {})
    variables.update(((props.get("Environment") or {}).get("Variables")) or {})
    environment: dict[str, str] = {}
    for name, value in variables.items():
        try:
            resolved = resolver.resolve(value)
            if resolved is not _NO_VALUE:
                environment[name] = _text(resolved)
        except (Unresolvable, ValueError, TypeError, IndexError):
            warnings.append(f"{logical_id}: environment variable {name} is unresolvable locally; set to ''")
            environment[name] = ""

    layers = list(globals_.get("Layers") or []) + list(props.get("Layers") or [])
    function_name = scalar("FunctionName", logical_id)
    events: Mapping[str, Any] = props.get("Events") or {}
    return FunctionSpec(
        logical_id=logical_id,
        function_name=str(function_name),
        code_uri=(root / str(scalar("CodeUri", "."))).resolve(),
        handler=str(scalar("Handler", "app.handler")),
        runtime=str(scalar("Runtime", "python3.12")),
        timeout_s=int(scalar("Timeout", 3)),
        memory_mb=int(scalar("MemorySize", 128)),
        environment=environment,
        layer_paths=tuple(_layer_paths(layers, resources, root)),
        routes=tuple(_routes(logical_id, events, resolver, warnings)),
        schedules=tuple(_schedules(logical_id, events, resolver, warnings)),
        streams=tuple(_streams(logical_id, events, resolver, warnings)),
    )


def _layer_paths(layers: list[Any], resources: Mapping[str, Any], root: Path) -> list[Path]:
    """Local directories of ``!Ref``'d ``AWS::Serverless::LayerVersion`` layers (ARNs are skipped)."""
    paths = []
    for layer in layers:
        if not (isinstance(layer, dict) and isinstance(layer.get("Ref"), str)):
            continue
        resource = resources.get(layer["Ref"]) or {}
        content = (resource.get("Properties") or {}).get("ContentUri")
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(content, str):
            paths.append((root / content).resolve())
    return paths


def _routes(logical_id: str, events: Mapping[str, Any], resolver: Resolver, warnings: list[str]) -> list[HttpRoute]:
    routes = []
    for name, event in events.items():
        kind = (event or {}).get("Type")
        if kind == "Api":
            warnings.append(f"{logical_id}.{name}: REST API (Type: Api) events are not served locally")
        if kind != "HttpApi":
            continue
        props = _event_properties(event, ("Path", "Method", "PayloadFormatVersion"), resolver)
        if props.get("PayloadFormatVersion", "2.0") != "2.0":
            warnings.append(f"{logical_id}.{name}: payload format {props['PayloadFormatVersion']} served as 2.0")
        path, method = props.get("Path"), props.get("Method")
        if path is None and method is None:
            routes.append(HttpRoute(logical_id, name, "ANY", "$default"))
        else:
            routes.append(HttpRoute(logical_id, name, str(method or "ANY").upper(), str(path or "/")))
    return routes


def _schedules(logical_id: str, events: Mapping[str, Any], resolver: Resolver, warnings: list[str]) -> list[Schedule]:
    schedules = []
    for name, event in events.items():
        kind = (event or {}).get("Type")
        if kind == "Schedule":
            warnings.append(f"{logical_id}.{name}: Schedule (v1) events are not run locally; use ScheduleV2")
        if kind != "ScheduleV2":
            continue
        props = _event_properties(event, ("ScheduleExpression", "Input", "State"), resolver)
        expression = str(props.get("ScheduleExpression", ""))
        rate_s = parse_rate(expression)
        if rate_s is None:
            warnings.append(f"{logical_id}.{name}: {expression!r} is not run locally (only rate() is)")
        enabled = str(props.get("State", "ENABLED")).upper() != "DISABLED"
        schedules.append(Schedule(logical_id, name, expression, rate_s, props.get("Input"), enabled))
    return schedules


_STREAM_PROPERTIES = (
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "FilterCriteria",
    "DestinationConfig",
    "Enabled",
)


def _streams(
    logical_id: str, events: Mapping[str, Any], resolver: Resolver, warnings: list[str]
) -> list[StreamMapping]:
    """The function's ``DynamoDB`` events. The ``Stream`` itself is not resolved: locally there is one table,
    and its stream is the one every mapping reads. A destination that cannot be resolved is kept by name."""
    mappings = []
    for name, event in events.items():
        if (event or {}).get("Type") != "DynamoDB":
            continue
        props = _event_properties(event, _STREAM_PROPERTIES, resolver)
        filters = []
        for entry in ((props.get("FilterCriteria") or {}).get("Filters")) or []:
            pattern = entry.get("Pattern") if isinstance(entry, dict) else None
            try:
                filters.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
            except ValueError:
                warnings.append(f"{logical_id}.{name}: a filter pattern is not JSON; it matches nothing locally")
                filters.append({"__never__": ["__never__"]})
        raw_destination = (((event.get("Properties") or {}).get("DestinationConfig") or {}).get("OnFailure")) or {}
        destination = raw_destination.get("Destination")
        on_failure = None
        if isinstance(destination, dict) and "Fn::GetAtt" in destination:
            target = destination["Fn::GetAtt"]
            on_failure = str(target[0] if isinstance(target, list) else target).split(".")[0]
        elif destination is not None:
            on_failure = str(destination)
        mappings.append(
            StreamMapping(
                function_id=logical_id,
                event_name=name,
                starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
                batch_size=int(props.get("BatchSize", 100)),
                batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                bisect_on_error=str(props.get("BisectBatchOnFunctionError", "false")).lower() == "true",
                report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                filters=tuple(filters),
                on_failure=on_failure,
                enabled=str(props.get("Enabled", "true")).lower() != "false",
            )
        )
    return mappings


def _event_properties(event: Any, names: tuple[str, ...], resolver: Resolver) -> dict[str, Any]:
    props: Mapping[str, Any] = (event or {}).get("Properties") or {}
    return {name: resolver.resolve_or(props[name], None) for name in names if name in props}
