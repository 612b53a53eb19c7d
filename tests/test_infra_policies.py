"""Synth-time policies: cdk-nag AwsSolutions, the every-function-traced guard, cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from infra import topology
from infra.config import EXPORTERS, TracerConfig
from infra.stack import function_construct_id
from infra.tracing_guard import untraced_functions
from tests.conftest import CDK_FEATURE_FLAGS


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_cdk_nag_has_no_unacknowledged_finding_and_every_acknowledgement_a_reason(
    synth, acknowledgements, exporter: str
) -> None:
    # GIVEN the app with cdk-nag's AwsSolutions and Serverless packs as validation plugins: synth
    # itself raises on any unacknowledged finding, so reaching the template proves there is none.
    synth(exporter)
    acks = acknowledgements(exporter)
    assert acks, "expected the documented acknowledgements"
    for path, rules in acks.items():
        for rule, reason in rules.items():
            assert "AwsSolutions-" in rule or "Serverless-" in rule
            assert len(reason.split()) >= 6, f"{path} {rule}: reason too thin: {reason!r}"


def serverless_acks(acknowledgements, exporter: str) -> dict[str, dict[str, str]]:
    """{rule: {construct path: reason}} for the Serverless pack's acknowledgements."""
    found: dict[str, dict[str, str]] = {}
    for path, rules in acknowledgements(exporter).items():
        for rule, reason in rules.items():
            if "Serverless-" in rule:  # recorded as e.g. "Annotation::Serverless-LambdaDLQ"
                found.setdefault(rule[rule.index("Serverless-") :], {})[path] = reason
    return found


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_serverless_findings_are_fixed_or_acknowledged_with_the_reason(acknowledgements, exporter: str) -> None:
    acks = serverless_acks(acknowledgements, exporter)
    # the API's default throttling was a real finding: fixed (see the stage test), never acknowledged
    assert "Serverless-APIGWDefaultThrottling" not in acks
    dlq = acks["Serverless-LambdaDLQ"]
    assert len(dlq) == len(topology.FUNCTIONS)
    for function in topology.FUNCTIONS:
        [reason] = [r for path, r in dlq.items() if path.endswith(f"/{function_construct_id(function.name)}")]
        expected = {
            "api": "synchronously",
            "sns": "on-failure destination",
            "eventbridge": "on-failure destination",
            "dynamodb": "on-failure destination",
            "s3": "on-failure destination",
            "sqs": "redrive policy",
        }
        assert expected[function.trigger.kind] in reason, (function.name, reason)
    assert {p.rsplit("/", 1)[-1] for p in acks["Serverless-SQSRedrivePolicy"]} == {"WorkDlq", "AsyncFailures"}
    assert all("itself a dead-letter queue" in r for r in acks["Serverless-SQSRedrivePolicy"].values())
    [esm_reason] = acks["Serverless-LambdaEventSourceMappingDestination"].values()
    assert "not for SQS" in esm_reason
    jaeger_only = {"Serverless-LambdaTracing", "Serverless-APIGWXrayEnabled"}
    assert (jaeger_only <= acks.keys()) == (exporter == "jaeger")


def test_xray_wildcard_is_acknowledged_only_where_xray_is_a_target(acknowledgements) -> None:
    def wildcard_acks(exporter: str) -> int:
        return sum("IAM5[Resource::*]" in r for rules in acknowledgements(exporter).values() for r in rules)

    assert wildcard_acks("xray") == len(topology.FUNCTIONS)
    assert wildcard_acks("jaeger") == 0


def test_a_plain_function_fails_synth_naming_it() -> None:
    # GIVEN a stack where someone adds a function without TracedFunction
    from aws_cdk import Validations

    from infra.tracing_guard import EveryFunctionTraced

    config = TracerConfig()
    app = App(context={**CDK_FEATURE_FLAGS, "aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Sneaky")
    lambda_.Function(
        stack, "Forgotten", runtime=lambda_.Runtime.PYTHON_3_14, handler="x.handler", code=lambda_.Code.from_inline("x")
    )
    Validations.of(app).add_plugins(EveryFunctionTraced(config))
    # WHEN it synthesizes THEN synth fails and the report names the function and what is missing
    with pytest.raises(Exception, match=r"Lambda function Forgotten\w+ is not traced: no ADOT collector layer"):
        app.synth()


def test_guard_names_each_missing_piece() -> None:
    config = TracerConfig()
    template = {
        "Resources": {
            "Bare": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "NotAFunction": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    problems = untraced_functions(template, config)
    assert list(problems) == ["Bare"]
    text = "; ".join(problems["Bare"])
    assert "no ADOT collector layer" in text
    assert "OPENTELEMETRY_COLLECTOR_CONFIG_URI" in text and "OTEL_SERVICE_NAME" in text
    assert "tracing mode unset, expected Active" in text


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_the_synthesized_functions_pass_the_guard(synth, exporter: str) -> None:
    context = {
        "exporter": exporter,
        **({"jaegerEndpoint": "https://jaeger.example.com:4318"} if exporter != "xray" else {}),
    }
    assert untraced_functions(synth(exporter), TracerConfig.from_context(context.get)) == {}


def cfn_lint_errors(template: dict, path: Path) -> list[str]:
    path.write_text(json.dumps(template))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr  # 4/8: warnings/info only
    return [line for line in result.stdout.splitlines() if ":E" in line]


@pytest.mark.parametrize("exporter", ["jaeger", "both"])
def test_both_stacks_of_a_deployed_jaeger_pass_cfn_lint_and_the_guard(synth_stacks, tmp_path, exporter: str) -> None:
    from infra.app import JAEGER_STACK_NAME, STACK_NAME
    from infra.jaeger.helpers import helper_config

    context = {"exporter": exporter, "deployJaeger": "true"}
    templates = synth_stacks(exporter, deployJaeger="true")
    config = TracerConfig.from_context(context.get)
    assert untraced_functions(templates[STACK_NAME], config) == {}
    assert untraced_functions(templates[JAEGER_STACK_NAME], helper_config(config)) == {}
    for name, template in templates.items():
        assert cfn_lint_errors(template, tmp_path / f"{name}.json") == [], name


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_cfn_lint_reports_no_error(synth, tmp_path, exporter: str) -> None:
    assert cfn_lint_errors(synth(exporter), tmp_path / f"{exporter}.template.json") == []
