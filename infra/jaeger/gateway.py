"""`JaegerGateway`: the only door from the internet, API Gateway's HTTP API on 443."""

from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.access_logs import access_log_format
from infra.jaeger.network import JaegerNetwork
from infra.nag import acknowledge

# Spans per second are bursty (every invocation exports after its response): a ceiling, not a quota.
INGEST_RATE_LIMIT, INGEST_BURST_LIMIT = 500, 1000


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    """The HTTP API stage's access log: one JSON line per request, who called which route, and the answer."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return access_log_format()  # the app's API logs the same fields


class JaegerGateway(Construct):
    """An HTTP API (TLS with AWS's certificate): POST /v1/traces has no API Gateway auth (Jaeger's
    basicauth checks the header); every other route (the UI, its API) takes IAM (SigV4). Throttled,
    access-logged. `endpoint` exists at once; `route_to()` connects it to Jaeger's load balancer
    through a VPC link once that exists."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(
            self,
            "Api",
            description="Jaeger: OTLP ingest (basic auth at Jaeger) and the UI (IAM)",
            create_default_stage=False,
            default_authorizer=authorizers.HttpIamAuthorizer(),
        )
        self.endpoint = self.api.api_endpoint

    def route_to(self, listener: elbv2.ApplicationListener, network: JaegerNetwork) -> None:
        link = apigw.VpcLink(self, "Link", vpc=network.vpc, subnets=network.isolated, security_groups=[network.link])
        (ingest,) = self.api.add_routes(
            path="/v1/traces",
            methods=[apigw.HttpMethod.POST],
            integration=integrations.HttpAlbIntegration("Otlp", listener, vpc_link=link),
            authorizer=apigw.HttpNoneAuthorizer(),
        )
        acknowledge(
            ingest,
            "AwsSolutions-APIG4",
            "OTLP ingest: Jaeger's basicauth answers 401 without the credentials from Secrets Manager (the ADOT "
            "collector layer cannot sign requests for API Gateway with a shared secret otherwise).",
        )
        for path, name in (("/{proxy+}", "Ui"), ("/", "UiRoot")):
            self.api.add_routes(
                path=path,
                methods=[apigw.HttpMethod.GET],
                integration=integrations.HttpAlbIntegration(name, listener, vpc_link=link),
            )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        apigw.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=INGEST_RATE_LIMIT, burst_limit=INGEST_BURST_LIMIT),
            access_log_settings=_AccessLogs(access_logs),
        )
