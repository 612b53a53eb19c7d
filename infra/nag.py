"""Acknowledging a cdk-nag or cfn-lint finding: the one way this app does it, always on the narrowest
scope, always with a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import Construct

# Every function's role carries it; nothing broader than its own log streams.
LAMBDA_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
    "The AWS-maintained minimal policy for a function's own CloudWatch Logs; nothing broader.",
)


def acknowledge(scope: Construct, rule: str | tuple[str, ...], reason: str) -> None:
    """Acknowledge `rule` (e.g. `AwsSolutions-IAM5[Resource::*]`, or several for one reason) on `scope`
    and what it contains."""
    rules = (rule,) if isinstance(rule, str) else rule
    Validations.of(scope).acknowledge(*(Acknowledgment(id=r, reason=reason) for r in rules))
