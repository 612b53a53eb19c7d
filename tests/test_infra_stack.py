"""The synthesized template matches docs/architecture.md's exporter table, row by row, for each exporter."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from infra import topology
from infra.config import EXPORTERS

LAYER = "aws-otel-collector-amd64-ver-0-117-0:1"
EXPECTED = {
    #           tracing       api    propagators                          sampler                    yaml
    "xray": ("Active", True, "tracecontext,baggage,xray-lambda", "parentbased_always_on", "xray.yaml"),
    "jaeger": ("PassThrough", False, "tracecontext,baggage,xray", "parentbased_traceidratio", "jaeger.yaml"),
    "both": ("Active", True, "tracecontext,baggage,xray-lambda", "parentbased_always_on", "both.yaml"),
}


def functions(template: dict) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}


def of_type(template: dict, cfn_type: str) -> list[dict]:
    return [v.get("Properties", {}) for v in template["Resources"].values() if v["Type"] == cfn_type]


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_every_function_is_traced_per_the_exporter_row(synth, exporter: str) -> None:
    tracing, _, propagators, sampler, yaml_file = EXPECTED[exporter]
    fns = functions(synth(exporter))
    assert len(fns) == len(topology.FUNCTIONS)
    services = set()
    for props in fns.values():
        env = props["Environment"]["Variables"]
        assert props["TracingConfig"] == {"Mode": tracing}
        assert LAYER in json.dumps(props["Layers"])
        assert env["OPENTELEMETRY_COLLECTOR_CONFIG_URI"] == f"/var/task/collector/{yaml_file}"
        assert env["OTEL_PROPAGATORS"] == propagators
        assert env["OTEL_TRACES_SAMPLER"] == sampler
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        # span limits that keep a segment document under X-Ray's 64 KB, and a link per SQS record
        assert (env["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"], env["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"]) == ("32", "1024")
        assert (env["OTEL_SPAN_EVENT_COUNT_LIMIT"], env["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"]) == ("2", "2048")
        assert int(env["OTEL_SPAN_LINK_COUNT_LIMIT"]) >= max(f.trigger.batch_size for f in topology.FUNCTIONS)
        assert props["Handler"] == f"functions.{env['OTEL_SERVICE_NAME']}.handler.handler"
        services.add(env["OTEL_SERVICE_NAME"])
        if exporter == "xray":
            assert "JAEGER_ENDPOINT" not in env
        else:
            assert env["JAEGER_ENDPOINT"] == "https://jaeger.example.com:4318"
    assert services == {f.name for f in topology.FUNCTIONS}


def test_jaeger_sampler_ratio_comes_from_context(synth) -> None:
    for props in functions(synth("jaeger", samplingRatio="0.25")).values():
        assert props["Environment"]["Variables"]["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    for props in functions(synth("xray")).values():
        assert "OTEL_TRACES_SAMPLER_ARG" not in props["Environment"]["Variables"]


def test_every_function_has_the_memory_and_timeout_the_local_run_gives_it(synth) -> None:
    from infra import topology

    sizes = {(p["MemorySize"], p["Timeout"]) for p in functions(synth("xray")).values()}
    assert sizes == {(topology.FUNCTION_MEMORY_MB, topology.FUNCTION_TIMEOUT_SECONDS)}


def test_every_function_reads_the_export_delay_the_context_gives(synth) -> None:
    from functions.tracing import _settings

    for given, expected in ((None, "0"), ("5", "5"), ("0.5", "0.5")):
        context = {"exportDelay": given} if given else {}
        for props in functions(synth("xray", **context)).values():
            assert props["Environment"]["Variables"][_settings.EXPORT_DELAY] == expected


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_api_stage_tracing_follows_the_exporter(synth, exporter: str) -> None:
    Template.from_json(synth(exporter)).has_resource_properties(
        "AWS::ApiGateway::Stage", {"TracingEnabled": EXPECTED[exporter][1]}
    )


@pytest.mark.parametrize(
    ("context", "rate", "burst"), [({}, 50, 100), ({"apiRateLimit": "2.5", "apiBurstLimit": "5"}, 2.5, 5)]
)
def test_the_api_stage_is_throttled_for_every_method(synth, context: dict, rate: float, burst: int) -> None:
    # A public endpoint on the account's default throttling can be driven to any bill.
    [stage] = of_type(synth("both", **context), "AWS::ApiGateway::Stage")
    [settings] = stage["MethodSettings"]
    assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (rate, burst)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_xray_permissions_group_and_rule_only_when_xray_is_a_target(synth, exporter: str) -> None:
    template = synth(exporter)
    statements = [s for p in of_type(template, "AWS::IAM::Policy") for s in p["PolicyDocument"]["Statement"]]
    xray_actions = {a for s in statements for a in _actions(s) if a.startswith("xray:")}
    sns_tracing = {p.get("TracingConfig") for p in of_type(template, "AWS::SNS::Topic")}
    if exporter == "jaeger":
        assert xray_actions == set()
        assert of_type(template, "AWS::XRay::Group") == []
        assert of_type(template, "AWS::XRay::SamplingRule") == []
        assert sns_tracing == {None}
    else:
        assert xray_actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        assert sns_tracing == {"Active"}
        [group] = of_type(template, "AWS::XRay::Group")
        expression = json.dumps(group["FilterExpression"])
        # one clause per function, generated from each function's own ARN
        for logical_id in functions(template):
            assert f'"{logical_id}", "Arn"' in expression
        assert expression.count('type: \\"AWS::Lambda::Function\\"') == len(topology.FUNCTIONS)
        [rule] = of_type(template, "AWS::XRay::SamplingRule")
        assert rule["SamplingRule"]["ReservoirSize"] == 1
        assert rule["SamplingRule"]["FixedRate"] == 0.05
        assert "/stages/" in json.dumps(rule["SamplingRule"]["ResourceARN"])


def test_sampling_rule_rates_come_from_context(synth) -> None:
    [rule] = of_type(synth("xray", xrayReservoir="3", xrayFixedRate="0.5"), "AWS::XRay::SamplingRule")
    assert (rule["SamplingRule"]["ReservoirSize"], rule["SamplingRule"]["FixedRate"]) == (3, 0.5)


def test_arm64_picks_the_arm_layer_and_an_override_wins(synth) -> None:
    for props in functions(synth("xray", architecture="arm64")).values():
        assert props["Architectures"] == ["arm64"]
        assert "aws-otel-collector-arm64-ver-0-117-0:1" in json.dumps(props["Layers"])
    custom = "arn:aws:lambda:eu-west-1:123456789012:layer:my-collector:7"
    for props in functions(synth("xray", collectorLayerArn=custom)).values():
        assert props["Layers"] == [custom]


def test_jaeger_secret_reaches_the_collector_as_a_dynamic_reference_only(synth) -> None:
    template = synth("jaeger", jaegerHeadersSecret="prod/jaeger-token")
    for props in functions(template).values():
        assert props["Environment"]["Variables"]["JAEGER_AUTHORIZATION"] == (
            "{{resolve:secretsmanager:prod/jaeger-token:SecretString}}"
        )
    # no secret, no header value
    for props in functions(synth("jaeger")).values():
        assert props["Environment"]["Variables"]["JAEGER_AUTHORIZATION"] == ""


def test_dlqs_for_the_queue_and_for_every_async_function(synth) -> None:
    t = Template.from_json(synth("xray"))
    t.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "maxReceiveCount": topology.QUEUE.max_receive_count,
                "deadLetterTargetArn": Match.any_value(),
            }
        },
    )
    async_fns = [f for f in topology.FUNCTIONS if f.is_async]
    configs = of_type(synth("xray"), "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == len(async_fns)
    for c in configs:
        assert c["MaximumRetryAttempts"] == topology.ASYNC_RETRY_ATTEMPTS
        assert "OnFailure" in c["DestinationConfig"]
    # what SNS or EventBridge cannot deliver goes to a dead-letter queue too
    subs = [s for s in of_type(synth("xray"), "AWS::SNS::Subscription") if s["Protocol"] == "lambda"]
    assert len(subs) == sum(f.trigger.kind == "sns" for f in async_fns)
    assert all("RedrivePolicy" in s for s in subs)
    targets = [t for rule in of_type(synth("xray"), "AWS::Events::Rule") for t in rule["Targets"]]
    assert len(targets) == sum(f.trigger.kind == "eventbridge" for f in async_fns)
    assert all("DeadLetterConfig" in t and t["RetryPolicy"]["MaximumRetryAttempts"] == 2 for t in targets)


def test_sqs_consumer_reports_partial_batch_failures(synth) -> None:
    Template.from_json(synth("xray")).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )


def test_the_table_stream_mapping_retries_bisects_and_keeps_what_fails(synth) -> None:
    template = Template.from_json(synth("xray"))
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable", {"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}}
    )
    [mapping] = [m for m in of_type(synth("xray"), "AWS::Lambda::EventSourceMapping") if "StartingPosition" in m]
    assert mapping["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
    assert (mapping["StartingPosition"], mapping["BisectBatchOnFunctionError"]) == ("LATEST", True)
    assert mapping["MaximumRetryAttempts"] == topology.ASYNC_RETRY_ATTEMPTS
    assert "OnFailure" in mapping["DestinationConfig"]


def test_the_api_proxies_every_path_to_ingest(synth) -> None:
    template = synth("xray")
    methods = of_type(template, "AWS::ApiGateway::Method")
    assert {m["HttpMethod"] for m in methods} == {"ANY"}
    assert {r["PathPart"] for r in of_type(template, "AWS::ApiGateway::Resource")} == {"{proxy+}"}
    ingest = next(k for k, p in functions(template).items() if p["Handler"].startswith("functions.ingest."))
    assert all(ingest in json.dumps(m["Integration"]) for m in methods)


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_snap_start_publishes_a_version_and_every_trigger_invokes_the_live_alias(synth) -> None:
    template = synth("xray", snapStart="true", pythonRuntime="3.12")
    fns = functions(template)
    assert all(f["SnapStart"] == {"ApplyOn": "PublishedVersions"} for f in fns.values())
    aliases = {a["FunctionName"]["Ref"]: a for a in of_type(template, "AWS::Lambda::Alias")}
    assert set(aliases) == set(fns) and {a["Name"] for a in aliases.values()} == {"live"}
    alias_ids = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Alias"}

    def invokes_an_alias(value: object) -> bool:
        return any(alias in json.dumps(value) for alias in alias_ids)

    # Every way in: API integration, SNS subscriptions, rule targets, mappings, S3 notification, async config.
    assert all(invokes_an_alias(m["Integration"]) for m in of_type(template, "AWS::ApiGateway::Method"))
    subs = [s for s in of_type(template, "AWS::SNS::Subscription") if s["Protocol"] == "lambda"]
    mappings = of_type(template, "AWS::Lambda::EventSourceMapping")
    targets = [t for rule in of_type(template, "AWS::Events::Rule") for t in rule["Targets"]]
    bucket = next(b for b in of_type(template, "AWS::S3::Bucket") if "NotificationConfiguration" in b)
    notifications = bucket["NotificationConfiguration"]["LambdaConfigurations"]
    configs = of_type(template, "AWS::Lambda::EventInvokeConfig")
    for wiring in (subs, mappings, targets, notifications):
        assert wiring and all(invokes_an_alias(w) for w in wiring), wiring
    assert configs and all(invokes_an_alias(c["Qualifier"]) for c in configs)
    # …and without SnapStart, nothing of it.
    plain = synth("xray")
    assert not of_type(plain, "AWS::Lambda::Alias") and all("SnapStart" not in f for f in functions(plain).values())
