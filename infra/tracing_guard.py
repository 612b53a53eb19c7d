"""A synth-time policy: no Lambda function in the app escapes tracing.

`EveryFunctionTraced` is a CDK policy-validation plugin, so it reads the synthesized templates
themselves: `cdk synth` fails, naming each offending function, if any `AWS::Lambda::Function`
lacks the collector layer, the tracing environment or the tracing mode that `-c exporter` calls
for, whoever created it (a plain `lambda_.Function`, a third-party construct, a raw override).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
)

from infra.config import TracerConfig
from infra.exporter_profile import JAEGER_ENDPOINT_ENV, profile_for, tracing_environment
from infra.traced_function import layer_name

RULE = "EveryFunctionTraced"


def untraced_functions(template: dict, config: TracerConfig) -> dict[str, list[str]]:
    """Logical id → what is missing, for every Lambda function in `template` that is not traced."""
    mode = profile_for(config).lambda_tracing
    expected_layer = config.collector_layer_arn or layer_name(config.architecture)
    required_env = {k: v for k, v in tracing_environment(config, "").items() if k != "OTEL_SERVICE_NAME"}
    found: dict[str, list[str]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        props = resource.get("Properties", {})
        problems = []
        if expected_layer not in json.dumps(props.get("Layers", [])):
            problems.append("no ADOT collector layer")
        env = props.get("Environment", {}).get("Variables", {})
        wrong = sorted(k for k, v in required_env.items() if env.get(k) != v)
        if not env.get("OTEL_SERVICE_NAME"):
            wrong.append("OTEL_SERVICE_NAME")
        if config.sends_to_jaeger and not env.get(JAEGER_ENDPOINT_ENV):
            # The deployed Jaeger's endpoint is a reference to the Jaeger stack, not a value to compare.
            wrong.append(JAEGER_ENDPOINT_ENV)
        if wrong:
            problems.append("tracing environment missing or wrong: " + ", ".join(wrong))
        actual_mode = props.get("TracingConfig", {}).get("Mode")
        if actual_mode != mode:
            problems.append(f"tracing mode {actual_mode or 'unset'}, expected {mode}")
        if problems:
            found[logical_id] = problems
    return found


@jsii.implements(IPolicyValidationPlugin)
class EveryFunctionTraced:
    @property
    def name(self) -> str:
        return "OtelTracer"

    @property
    def rule_ids(self) -> list[str]:
        return [RULE]

    @property
    def version(self) -> str:
        return "1.0.0"

    def __init__(self, configs: TracerConfig | Mapping[str, TracerConfig]) -> None:
        """One config for every stack, or one per stack name (the Jaeger stack's functions send to it)."""
        self._configs = configs

    def _config_for(self, template_path: str) -> TracerConfig:
        if isinstance(self._configs, TracerConfig):
            return self._configs
        return self._configs[Path(template_path).name.removesuffix(".template.json")]

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        violations = []
        for path in context.template_paths:
            template = json.loads(Path(path).read_text())
            for logical_id, problems in untraced_functions(template, self._config_for(path)).items():
                violations.append(
                    PolicyViolation(
                        rule_name=RULE,
                        description=f"Lambda function {logical_id} is not traced: {'; '.join(problems)}",
                        fix="Create every function with infra.traced_function.TracedFunction",
                        violating_resources=[
                            PolicyViolatingResource(resource_logical_id=logical_id, template_path=path, locations=[])
                        ],
                    )
                )
        return PolicyValidationPluginReport(success=not violations, violations=violations)
