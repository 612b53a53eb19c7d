"""`JaegerStack`: a Jaeger for those who have none (`-c deployJaeger=true`), durable and locked down.

    internet ──443──▶ API Gateway HTTP API (TLS, AWS's certificate)
                        POST /v1/traces: no API Gateway auth; Jaeger's basicauth checks the header
                        every other path (the UI, its API): IAM (SigV4) only, see `tracectl jaeger ui`
                      ──VPC link──▶ internal ALB :80 ──▶ Fargate tasks, Jaeger v2 (:4318 OTLP, :16686 UI)
                                                         ──SigV4──▶ OpenSearch domain (VPC only)

- Jaeger v2 is stateless; its spans live in the OpenSearch domain (encrypted at rest and between
  nodes, HTTPS only, TLS 1.2, no public endpoint), so autoscaling may run more than one task.
  Jaeger signs its requests with the task role (v2.20 is the first release whose bulk writes
  pass SigV4): no master user, no password.
- Nothing listens to the internet but API Gateway on 443. The load balancer is internal; the
  tasks take requests from it only. They sit in public subnets with a public address so they can
  pull the image and reach AWS APIs without a NAT gateway (or interface endpoints) to pay for.
- The ingest credentials are generated into Secrets Manager; the app's functions send them
  through a dynamic reference resolved at deploy time: no template or `cdk.out` holds them.
- The stack's two deploy-time functions are traced like the app's (they send to this Jaeger):
  one completes the ingest secret with the header the collector sends, one puts the index
  policy that deletes spans after `-c jaegerRetentionDays`.
`cdk destroy` keeps the domain (its data): README, "No Jaeger yet?".
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    CustomResource,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget, secret_reference
from infra.nag import LAMBDA_BASIC_EXECUTION, acknowledge
from infra.stack import access_log_format
from infra.traced_function import TracedFunction

# Pinned, never `latest`: 2.20.0 is the first release whose OpenSearch bulk writes pass SigV4.
JAEGER_IMAGE = "jaegertracing/jaeger:2.20.0"
SERVER_CONFIG = Path(__file__).resolve().parent.parent / "collector" / "jaeger-on-aws" / "config.yaml"
OTLP_PORT, QUERY_PORT, HEALTH_PORT = 4318, 16686, 13133
INGEST_USERNAME = "otlp"
# The cheapest instance type that supports encryption at rest; 10 GiB is the smallest gp3 volume.
DATA_NODE_TYPE, VOLUME_GIB = "t3.small.search", 10
TASK_CPU, TASK_MEMORY_MIB = 512, 1024
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


def helper_config(config: TracerConfig) -> TracerConfig:
    """How this stack's own functions are traced: into the Jaeger it deploys, whatever the app's exporter."""
    return replace(config, exporter="jaeger", jaeger_endpoint=None, jaeger_headers_secret=None, snap_start=False)


class JaegerStack(Stack):
    """Jaeger v2 on Fargate over OpenSearch. `target` is what the app's functions send to."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TracerConfig, code: lambda_.Code, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._acknowledge_stack_wide()
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,  # the load balancer needs two zones
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            # Restricting the default group deploys an untraced custom resource function; nothing here uses it.
            restrict_default_security_group=False,
            # Free: the retention function answers CloudFormation through S3 from an isolated subnet.
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        vpc.add_flow_log(
            "FlowLogs",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(
                    self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
                )
            ),
        )
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        groups = {
            name: ec2.SecurityGroup(self, f"{name}Sg", vpc=vpc, description=description, allow_all_outbound=False)
            for name, description in (
                ("Link", "API Gateway VPC link: to the load balancer only"),
                ("Alb", "Internal load balancer: from the VPC link and the retention function"),
                ("Task", "Jaeger tasks: from the load balancer only"),
                ("Domain", "OpenSearch: HTTPS from Jaeger and the retention function"),
                ("Retention", "Retention function: to OpenSearch, S3 and the load balancer"),
            )
        }
        link_sg, alb_sg, task_sg, domain_sg, retention_sg = (
            groups[n] for n in ("Link", "Alb", "Task", "Domain", "Retention")
        )
        alb_sg.add_ingress_rule(link_sg, ec2.Port.tcp(80), "API Gateway's VPC link")
        alb_sg.add_ingress_rule(retention_sg, ec2.Port.tcp(80), "The retention function's own traces")
        link_sg.add_egress_rule(alb_sg, ec2.Port.tcp(80), "To the load balancer")
        retention_sg.add_egress_rule(alb_sg, ec2.Port.tcp(80), "Its traces, to Jaeger")
        for source in (task_sg, retention_sg):
            domain_sg.add_ingress_rule(source, ec2.Port.tcp(443), "HTTPS to OpenSearch")
        # No route leaves the isolated subnets but the S3 endpoint; the tasks reach Docker Hub and AWS APIs.
        retention_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "OpenSearch and the S3 endpoint")
        task_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Image pull, logs, secrets, OpenSearch")

        secret = secretsmanager.Secret(
            self,
            "IngestCredentials",
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
            secret,
            "AwsSolutions-SMG4",
            "Not rotated automatically: the functions resolve the header at deploy time and Jaeger reads the "
            "password at task start. It only admits OTLP writes; reading traces takes IAM (README).",
        )
        tasks_role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))

        api = apigw.HttpApi(
            self,
            "Api",
            description="Jaeger: OTLP ingest (basic auth at Jaeger) and the UI (IAM)",
            create_default_stage=False,
            default_authorizer=authorizers.HttpIamAuthorizer(),
        )
        self.endpoint = api.api_endpoint

        credentials_fn = self._helper(
            "CredentialsFunction",
            config,
            code,
            service_name="jaeger_credentials",
            # Its spans cannot be accepted: it runs before the credentials it makes exist.
            jaeger=JaegerTarget(endpoint=self.endpoint),
        )
        secret.grant_read(credentials_fn)
        secret.grant_write(credentials_fn)
        credentials = CustomResource(
            self,
            "IngestAuthorization",
            service_token=credentials_fn.function_arn,
            resource_type="Custom::JaegerIngestAuthorization",
            properties={"SecretId": secret.secret_arn},
        )
        self.authorization = secret_reference(secret.secret_arn, "authorization")

        domain = self._domain(config, vpc, isolated, domain_sg)

        cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=TASK_CPU,
            memory_limit_mib=TASK_MEMORY_MIB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
            task_role=tasks_role,
        )
        task.add_container(
            "jaeger",
            image=ecs.ContainerImage.from_registry(JAEGER_IMAGE),
            command=["--config=env:JAEGER_CONFIG"],
            environment={
                "JAEGER_CONFIG": SERVER_CONFIG.read_text(),
                "OPENSEARCH_URL": f"https://{domain.domain_endpoint}",
                "OPENSEARCH_REPLICAS": "0" if config.jaeger_data_nodes == 1 else "1",
                "AWS_REGION": self.region,
            },
            secrets={
                "OTLP_USERNAME": ecs.Secret.from_secrets_manager(secret, "username"),
                "OTLP_PASSWORD": ecs.Secret.from_secrets_manager(secret, "password"),
            },
            port_mappings=[ecs.PortMapping(container_port=p) for p in (OTLP_PORT, QUERY_PORT, HEALTH_PORT)],
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="jaeger",
                log_group=logs.LogGroup(
                    self, "JaegerLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
                ),
            ),
            readonly_root_filesystem=True,
        )
        acknowledge(
            task,
            "CloudFormation-Validate::E1029",
            "The ${env:...} in JAEGER_CONFIG are Jaeger's own config references, expanded by Jaeger in the "
            "task; CloudFormation substitutes only inside Fn::Sub.",
        )
        acknowledge(
            task,
            "AwsSolutions-ECS2",
            "The variables are Jaeger's config file and where OpenSearch is: nothing secret. The credentials "
            "come from Secrets Manager as ECS secrets.",
        )
        service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=1,
            min_healthy_percent=100,
            max_healthy_percent=200,
            assign_public_ip=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[task_sg],
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        )
        scaling = service.auto_scale_task_count(min_capacity=1, max_capacity=config.jaeger_max_tasks)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)

        alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=isolated,
            security_group=alb_sg,
            drop_invalid_header_fields=True,
        )
        acknowledge(
            alb,
            "AwsSolutions-ELB2",
            "Internal, behind API Gateway: the HTTP API's access log records every request from outside "
            "(source, route, status); the only other client is the retention function, traced.",
        )
        query_targets, otlp_targets = (
            elbv2.ApplicationTargetGroup(
                self,
                f"{name}Targets",
                vpc=vpc,
                port=port,
                protocol=elbv2.ApplicationProtocol.HTTP,
                target_type=elbv2.TargetType.IP,
                targets=[service.load_balancer_target(container_name="jaeger", container_port=port)],
                health_check=elbv2.HealthCheck(path="/status", port=str(HEALTH_PORT), healthy_http_codes="200"),
                deregistration_delay=Duration.seconds(30),
            )
            for name, port in (("Query", QUERY_PORT), ("Otlp", OTLP_PORT))
        )
        task_sg.add_ingress_rule(alb_sg, ec2.Port.tcp(HEALTH_PORT), "Load balancer health checks")
        listener = alb.add_listener(
            "Http",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.forward([query_targets]),
        )
        listener.add_action(
            "Otlp",
            priority=10,
            conditions=[elbv2.ListenerCondition.path_patterns(["/v1/traces"])],
            action=elbv2.ListenerAction.forward([otlp_targets]),
        )

        link = apigw.VpcLink(self, "Link", vpc=vpc, subnets=isolated, security_groups=[link_sg])
        (ingest,) = api.add_routes(
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
        api.add_routes(
            path="/{proxy+}",
            methods=[apigw.HttpMethod.GET],
            integration=integrations.HttpAlbIntegration("Ui", listener, vpc_link=link),
        )
        api.add_routes(
            path="/",
            methods=[apigw.HttpMethod.GET],
            integration=integrations.HttpAlbIntegration("UiRoot", listener, vpc_link=link),
        )
        self._stage(api)

        retention_fn = self._helper(
            "RetentionFunction",
            config,
            code,
            service_name="jaeger_retention",
            # Inside the VPC: its spans go to Jaeger through the internal load balancer.
            jaeger=JaegerTarget(endpoint=f"http://{alb.load_balancer_dns_name}", authorization=self.authorization),
            vpc=vpc,
            vpc_subnets=isolated,
            security_groups=[retention_sg],
        )
        retention_fn.node.add_dependency(credentials)  # its header is in the secret only then
        retention = CustomResource(
            self,
            "Retention",
            service_token=retention_fn.function_arn,
            resource_type="Custom::JaegerRetention",
            properties={
                "DomainEndpoint": f"https://{domain.domain_endpoint}",
                "RetentionDays": str(config.jaeger_retention_days),
            },
        )
        # The policy attaches to new indices: it must exist before Jaeger writes the first one.
        service.node.add_dependency(retention)
        self._grant_domain(domain, [tasks_role, retention_fn.role])

        self.target = JaegerTarget(endpoint=self.endpoint, authorization=self.authorization)
        CfnOutput(self, "JaegerUrl", value=self.endpoint, description="Jaeger's UI and query API (IAM: SigV4)")
        CfnOutput(self, "OtlpEndpoint", value=self.endpoint, description="OTLP/HTTP base URL (POST /v1/traces)")
        CfnOutput(self, "IngestSecretName", value=secret.secret_name, description="OTLP ingest credentials")
        CfnOutput(self, "OpenUi", value=f"tracectl jaeger ui --jaeger-stack {self.stack_name}")

    def _helper(
        self, construct_id: str, config: TracerConfig, code: lambda_.Code, *, service_name: str, **props: Any
    ) -> TracedFunction:
        fn = TracedFunction(
            self,
            construct_id,
            config=helper_config(config),
            service_name=service_name,
            handler=f"functions.{service_name}.handler.handler",
            code=code,
            timeout_seconds=120,  # every call inside is bounded well below this: CloudFormation always hears back
            **props,
        )
        # CloudFormation has its answer (FAILED included) before the function ends: a retry would answer twice.
        fn.configure_async_invoke(retry_attempts=0)
        for rule in ("Serverless-LambdaDLQ", "Serverless-LambdaAsyncFailureDestination"):
            acknowledge(
                fn,
                rule,
                "A custom resource handler: it answers CloudFormation, which shows a failure in the stack's "
                "events and rolls back; a queue would hold an event nobody can replay.",
            )
        return fn

    def _domain(
        self, config: TracerConfig, vpc: ec2.IVpc, isolated: ec2.SubnetSelection, sg: ec2.SecurityGroup
    ) -> opensearch.Domain:
        nodes = config.jaeger_data_nodes
        slow_search, slow_index, app_logs = (
            logs.LogGroup(
                self, f"Domain{name}Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
            )
            for name in ("SlowSearch", "SlowIndex", "App")
        )
        # What CDK would otherwise add with a custom resource function of its own (untraced).
        log_policy = logs.CfnResourcePolicy(
            self,
            "DomainLogsPolicy",
            policy_name=f"{self.stack_name}-opensearch-logs",
            policy_document=Stack.of(self).to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [g.log_group_arn for g in (slow_search, slow_index, app_logs)],
                            "Condition": {"StringEquals": {"aws:SourceAccount": self.account}},
                        }
                    ],
                }
            ),
        )
        domain = opensearch.Domain(
            self,
            "Traces",
            version=opensearch.EngineVersion.OPENSEARCH_2_19,
            vpc=vpc,
            # One node lives in one subnet; more spread over both zones.
            vpc_subnets=[isolated if nodes > 1 else ec2.SubnetSelection(subnets=vpc.isolated_subnets[:1])],
            security_groups=[sg],
            capacity=opensearch.CapacityConfig(
                data_nodes=nodes, data_node_instance_type=DATA_NODE_TYPE, multi_az_with_standby_enabled=False
            ),
            ebs=opensearch.EbsOptions(volume_size=VOLUME_GIB, volume_type=ec2.EbsDeviceVolumeType.GP3),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=True, availability_zone_count=2)
            if nodes > 1
            else None,
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            logging=opensearch.LoggingOptions(
                slow_search_log_enabled=True,
                slow_search_log_group=slow_search,
                slow_index_log_enabled=True,
                slow_index_log_group=slow_index,
                app_log_enabled=True,
                app_log_group=app_logs,
            ),
            suppress_logs_resource_policy=True,
            # The spans are the point of deploying this: `cdk destroy` keeps them (README says how to delete).
            removal_policy=RemovalPolicy.RETAIN,
        )
        domain.node.add_dependency(log_policy)
        acknowledge(
            domain,
            "AwsSolutions-OS3",
            "No public endpoint to allowlist: the domain is in the VPC's isolated subnets, its security group "
            "admits the Jaeger tasks and the retention function only, and every request must be signed (IAM).",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS4",
            "Dedicated master nodes would add three instances to a tracing backend of one to three data nodes.",
        )
        if nodes == 1:
            acknowledge(
                domain,
                "AwsSolutions-OS7",
                "One data node is the cheapest durable setting (its EBS volume survives restarts); "
                "-c jaegerDataNodes=2 spreads nodes and replicas over two zones.",
            )
        return domain

    def _grant_domain(self, domain: opensearch.Domain, roles: list[iam.IRole | None]) -> None:
        """The domain's resource policy: these roles may call its REST API (signed), nobody else.

        On the domain itself (not CDK's `access_policies`, which deploys a custom resource function):
        the policy names the domain by wildcard, as it cannot reference its own ARN.
        """
        cfn = domain.node.default_child
        assert isinstance(cfn, opensearch.CfnDomain)
        cfn.access_policies = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [r.role_arn for r in roles if r is not None]},
                    "Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"],
                    "Resource": f"arn:{self.partition}:es:{self.region}:{self.account}:domain/*/*",
                }
            ],
        }

    def _stage(self, api: apigw.HttpApi) -> None:
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        apigw.HttpStage(
            self,
            "Stage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=INGEST_RATE_LIMIT, burst_limit=INGEST_BURST_LIMIT),
            access_log_settings=_AccessLogs(access_logs),
        )

    def _acknowledge_stack_wide(self) -> None:
        Validations.of(self).acknowledge(
            LAMBDA_BASIC_EXECUTION,
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
                reason="The AWS-maintained minimal policy that lets the retention function use its VPC interfaces.",
            ),
        )
