"""`JaegerStack`: a Jaeger for those who have none (`-c deployJaeger=true`), durable and locked down.

    internet ──443──▶ API Gateway HTTP API (TLS, AWS's certificate)            JaegerGateway
                        POST /v1/traces: no API Gateway auth; Jaeger's basicauth checks the header
                        every other path (the UI, its API): IAM (SigV4) only, see `tracectl jaeger ui`
                      ──VPC link──▶ internal ALB :80 ──▶ Fargate tasks, Jaeger v2   JaegerService
                                                         ──SigV4──▶ OpenSearch     TraceStore
    all of it in JaegerNetwork; the ingest password and header in IngestCredentials.

The stack only composes (infra/jaeger/): each part is a construct with its own template test.
- Jaeger v2 is stateless; its spans live in the OpenSearch domain, so autoscaling may run more than
  one task. Jaeger signs its requests with the task role (v2.20 is the first release whose bulk
  writes pass SigV4): no master user, no password.
- Nothing listens to the internet but API Gateway on 443.
- The ingest credentials are generated into Secrets Manager; the app's functions send them through
  a dynamic reference resolved at deploy time: no template or `cdk.out` holds them.
- The stack's two deploy-time functions are traced like the app's (they send to this Jaeger): one
  completes the ingest secret with the header the collector sends, one puts the index policy that
  deletes spans after `-c jaegerRetentionDays`.
`cdk destroy` keeps the domain (its data): README, "No Jaeger yet?".
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget
from infra.jaeger import outputs
from infra.jaeger.gateway import JaegerGateway
from infra.jaeger.ingest_credentials import IngestCredentials
from infra.jaeger.network import JaegerNetwork
from infra.jaeger.service import JaegerService
from infra.jaeger.trace_store import TraceStore
from infra.nag import LAMBDA_BASIC_EXECUTION, acknowledge


class JaegerStack(Stack):
    """Jaeger v2 on Fargate over OpenSearch. `target` is what the app's functions send to."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TracerConfig, code: lambda_.Code, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        acknowledge(self, *LAMBDA_BASIC_EXECUTION)
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
            "The AWS-maintained minimal policy that lets the retention function use its VPC interfaces.",
        )
        network = JaegerNetwork(self, "Network")
        gateway = JaegerGateway(self, "Gateway")
        self.endpoint = gateway.endpoint
        credentials = IngestCredentials(self, "Ingest", config=config, code=code, jaeger_endpoint=self.endpoint)
        self.authorization = credentials.authorization
        store = TraceStore(self, "Store", config=config, network=network)
        jaeger = JaegerService(
            self,
            "Jaeger",
            config=config,
            network=network,
            store_endpoint=store.endpoint,
            credentials=credentials.secret,
        )
        store.grant(jaeger.task_role)
        gateway.route_to(jaeger.listener, network)
        retention = store.keep_for(
            config=config,
            code=code,
            # Inside the VPC: its spans go to Jaeger through the internal load balancer.
            jaeger=JaegerTarget(endpoint=jaeger.internal_endpoint, authorization=self.authorization),
            after=credentials.header,  # its header is in the secret only then
        )
        # The policy attaches to new indices: it must exist before Jaeger writes the first one.
        jaeger.service.node.add_dependency(retention)

        self.target = JaegerTarget(endpoint=self.endpoint, authorization=self.authorization)
        CfnOutput(self, outputs.JAEGER_URL, value=self.endpoint, description="Jaeger's UI and query API (IAM: SigV4)")
        CfnOutput(self, outputs.OTLP_ENDPOINT, value=self.endpoint, description="OTLP/HTTP base URL (POST /v1/traces)")
        secret_name = credentials.secret.secret_name
        CfnOutput(self, outputs.INGEST_SECRET_NAME, value=secret_name, description="OTLP ingest credentials")
        CfnOutput(self, outputs.OPEN_UI, value=f"tracectl jaeger ui --jaeger-stack {self.stack_name}")
