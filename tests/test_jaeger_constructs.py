"""Each construct of the deployed Jaeger (infra/jaeger/), alone in a stack of its own: what it promises.

tests/test_jaeger_stack.py reads the composed stack; these say which part owns which promise, so a
change to one part is tested where it is made. The last test ties the stack's outputs to the names
tracectl reads them by.
"""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from infra.bundling import function_code
from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget
from infra.jaeger import outputs
from infra.jaeger.gateway import JaegerGateway
from infra.jaeger.ingest_credentials import IngestCredentials
from infra.jaeger.network import JaegerNetwork
from infra.jaeger.service import JAEGER_IMAGE, JaegerService
from infra.jaeger.trace_store import DOMAIN_LOGICAL_ID, TraceStore
from tests.conftest import CDK_FEATURE_FLAGS

CONFIG = TracerConfig(exporter="jaeger", deploy_jaeger=True, jaeger_retention_days=9, jaeger_max_tasks=3)


@pytest.fixture
def stack() -> Stack:
    app = App(context={**CDK_FEATURE_FLAGS, "aws:cdk:bundling-stacks": []})
    return Stack(app, "Part")


def test_the_network_has_no_nat_and_no_group_open_to_the_world(stack) -> None:
    JaegerNetwork(stack, "Network")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.resource_count_is("AWS::EC2::SecurityGroup", 5)
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    assert ingress and all("CidrIp" not in r["Properties"] for r in ingress.values())


def test_the_credentials_are_generated_and_completed_by_a_traced_custom_resource(stack) -> None:
    credentials = IngestCredentials(
        stack, "Ingest", config=CONFIG, code=function_code(CONFIG), jaeger_endpoint="https://jaeger.example.com"
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"GenerateStringKey": "password", "PasswordLength": 40})},
    )
    template.resource_count_is("Custom::JaegerIngestAuthorization", 1)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"OTEL_SERVICE_NAME": "jaeger_credentials"})}},
    )
    assert credentials.authorization.startswith("{{resolve:secretsmanager:")
    assert credentials.authorization.endswith(":SecretString:authorization}}")


def test_the_trace_store_is_encrypted_kept_keeps_its_logical_id_and_its_retention(stack) -> None:
    network = JaegerNetwork(stack, "Network")
    store = TraceStore(stack, "Store", config=CONFIG, network=network)
    reader = JaegerService(
        stack,
        "Jaeger",
        config=CONFIG,
        network=network,
        store_endpoint=store.endpoint,
        credentials=IngestCredentials(
            stack, "Ingest", config=CONFIG, code=function_code(CONFIG), jaeger_endpoint="https://j.example.com"
        ).secret,
    ).task_role
    store.grant(reader)
    store.keep_for(config=CONFIG, code=function_code(CONFIG), jaeger=JaegerTarget(endpoint="http://alb"), after=network)
    template = Template.from_stack(stack)
    [(logical_id, domain)] = template.find_resources("AWS::OpenSearchService::Domain").items()
    assert logical_id == DOMAIN_LOGICAL_ID  # an existing deployment's domain (and spans) stays in place
    assert domain["DeletionPolicy"] == "Retain"
    assert domain["Properties"]["EncryptionAtRestOptions"] == {"Enabled": True}
    assert domain["Properties"]["DomainEndpointOptions"]["EnforceHTTPS"] is True
    principals = domain["Properties"]["AccessPolicies"]["Statement"][0]["Principal"]["AWS"]
    assert len(principals) == 2  # the Jaeger tasks and the retention function, nobody else
    template.has_resource_properties("Custom::JaegerRetention", {"RetentionDays": "9"})


def test_the_service_runs_the_pinned_image_behind_an_internal_load_balancer(stack) -> None:
    network = JaegerNetwork(stack, "Network")
    secret = IngestCredentials(
        stack, "Ingest", config=CONFIG, code=function_code(CONFIG), jaeger_endpoint="https://j.example.com"
    ).secret
    JaegerService(stack, "Jaeger", config=CONFIG, network=network, store_endpoint="https://os", credentials=secret)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"ContainerDefinitions": [Match.object_like({"Image": JAEGER_IMAGE, "ReadonlyRootFilesystem": True})]},
    )
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal"})
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {"Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v1/traces"]}}]},
    )
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MaxCapacity": 3})


def test_the_gateway_lets_ingest_through_to_basicauth_and_everything_else_needs_iam(stack) -> None:
    network = JaegerNetwork(stack, "Network")
    secret = IngestCredentials(
        stack, "Ingest", config=CONFIG, code=function_code(CONFIG), jaeger_endpoint="https://j.example.com"
    ).secret
    service = JaegerService(
        stack, "Jaeger", config=CONFIG, network=network, store_endpoint="https://os", credentials=secret
    )
    JaegerGateway(stack, "Gateway").route_to(service.listener, network)
    template = Template.from_stack(stack)
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"].get("AuthorizationType")
        for r in template.find_resources("AWS::ApiGatewayV2::Route").values()
    }
    assert routes == {"POST /v1/traces": "NONE", "GET /{proxy+}": "AWS_IAM", "GET /": "AWS_IAM"}
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage", {"DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 500})}
    )


def test_the_stack_outputs_are_the_names_tracectl_reads(synth_stacks) -> None:
    from infra.app import JAEGER_STACK_NAME
    from tracectl.aws import deployed_jaeger

    jaeger = synth_stacks("jaeger", deployJaeger="true")[JAEGER_STACK_NAME]
    written = set(jaeger["Outputs"])
    read = {deployed_jaeger.URL_OUTPUT, deployed_jaeger.SECRET_OUTPUT}
    assert read <= written
    # (besides the outputs CDK adds for the app stack's cross-stack references)
    assert {outputs.JAEGER_URL, outputs.OTLP_ENDPOINT, outputs.INGEST_SECRET_NAME, outputs.OPEN_UI} <= written
