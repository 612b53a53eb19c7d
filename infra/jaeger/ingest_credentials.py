"""`IngestCredentials`: the basic-auth credentials Jaeger's OTLP receiver checks, and the header made of them."""

from __future__ import annotations

import json

from aws_cdk import CustomResource, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget, secret_reference
from infra.jaeger.helpers import helper_function
from infra.nag import acknowledge

INGEST_USERNAME = "otlp"


class IngestCredentials(Construct):
    """A generated password in Secrets Manager, completed by a traced custom resource with the
    `authorization` header the collector sends. `authorization` is a dynamic reference to it, resolved
    by CloudFormation at deploy time: no template or `cdk.out` holds the value."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TracerConfig, code: lambda_.Code, jaeger_endpoint: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="OTLP ingest credentials of the deployed Jaeger (basicauth); `authorization` is the header",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": INGEST_USERNAME}),
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=40,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Not rotated automatically: the functions resolve the header at deploy time and Jaeger reads the "
            "password at task start. It only admits OTLP writes; reading traces takes IAM (README).",
        )
        fn = helper_function(
            self,
            "Function",
            config=config,
            code=code,
            service_name="jaeger_credentials",
            # Its spans cannot be accepted: it runs before the credentials it makes exist.
            jaeger=JaegerTarget(endpoint=jaeger_endpoint),
        )
        self.secret.grant_read(fn)
        self.secret.grant_write(fn)
        self.header = CustomResource(
            self,
            "Header",
            service_token=fn.function_arn,
            resource_type="Custom::JaegerIngestAuthorization",
            properties={"SecretId": self.secret.secret_arn},
        )
        self.authorization = secret_reference(self.secret.secret_arn, "authorization")
