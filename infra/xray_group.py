"""X-Ray group and sampling rule for the app, created only when X-Ray is a target."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn, Names
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_xray as xray
from constructs import Construct

from infra.config import TracerConfig


def group_filter_expression(functions: Sequence[lambda_.IFunction]) -> str:
    """`service(id(name: "<fn>", type: "AWS::Lambda::Function")) OR ...` for the given functions.

    The names come from the functions' own ARNs (the seventh `:`-field), so the group follows the
    stack: no hand-maintained list to forget a function in.
    """
    clauses = [
        f'service(id(name: "{Fn.select(6, Fn.split(":", fn.function_arn))}", type: "AWS::Lambda::Function"))'
        for fn in functions
    ]
    return " OR ".join(clauses)


class XRayGroup(Construct):
    """An X-Ray group over the app's functions and a sampling rule for its API stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TracerConfig,
        functions: Sequence[lambda_.IFunction],
        api_stage_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = xray.CfnGroup(
            self,
            "Group",
            group_name=Names.unique_resource_name(self, max_length=32),
            filter_expression=group_filter_expression(functions),
            insights_configuration=xray.CfnGroup.InsightsConfigurationProperty(insights_enabled=False),
        )
        self.sampling_rule = xray.CfnSamplingRule(
            self,
            "SamplingRule",
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=Names.unique_resource_name(self, max_length=32, separator="-"),
                # The API is where a trace starts; downstream spans follow the parent's decision.
                resource_arn=api_stage_arn,
                priority=100,
                reservoir_size=config.xray_reservoir,
                fixed_rate=config.xray_fixed_rate,
                service_name="*",
                service_type="*",
                host="*",
                http_method="*",
                url_path="*",
                version=1,
            ),
        )
