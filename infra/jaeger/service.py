"""`JaegerService`: Jaeger v2 on Fargate, behind an internal load balancer."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import TracerConfig
from infra.jaeger.network import JaegerNetwork
from infra.nag import acknowledge

# Pinned, never `latest`: 2.20.0 is the first release whose OpenSearch bulk writes pass SigV4.
JAEGER_IMAGE = "jaegertracing/jaeger:2.20.0"
SERVER_CONFIG = Path(__file__).resolve().parents[2] / "collector" / "jaeger-on-aws" / "config.yaml"
OTLP_PORT, QUERY_PORT, HEALTH_PORT = 4318, 16686, 13133
TASK_CPU, TASK_MEMORY_MIB = 512, 1024


class JaegerService(Construct):
    """Jaeger's tasks (ARM, config from an env var, read-only root filesystem, autoscaling 1 to
    `-c jaegerMaxTasks` on CPU, a circuit breaker) and an internal load balancer: /v1/traces to the
    OTLP port, everything else to the UI; health on 13133. Jaeger is stateless: its spans live in the
    trace store, which it reaches signing with `task_role`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TracerConfig,
        network: JaegerNetwork,
        store_endpoint: str,
        credentials: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        cluster = ecs.Cluster(self, "Cluster", vpc=network.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=TASK_CPU,
            memory_limit_mib=TASK_MEMORY_MIB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
            task_role=self.task_role,
        )
        task.add_container(
            "jaeger",
            image=ecs.ContainerImage.from_registry(JAEGER_IMAGE),
            command=["--config=env:JAEGER_CONFIG"],
            environment={
                "JAEGER_CONFIG": SERVER_CONFIG.read_text(),
                "OPENSEARCH_URL": store_endpoint,
                "OPENSEARCH_REPLICAS": "0" if config.jaeger_data_nodes == 1 else "1",
                "AWS_REGION": Stack.of(self).region,
            },
            secrets={
                "OTLP_USERNAME": ecs.Secret.from_secrets_manager(credentials, "username"),
                "OTLP_PASSWORD": ecs.Secret.from_secrets_manager(credentials, "password"),
            },
            port_mappings=[ecs.PortMapping(container_port=p) for p in (OTLP_PORT, QUERY_PORT, HEALTH_PORT)],
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="jaeger",
                log_group=logs.LogGroup(
                    self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
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
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=1,
            min_healthy_percent=100,
            max_healthy_percent=200,
            assign_public_ip=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[network.task],
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        )
        scaling = self.service.auto_scale_task_count(min_capacity=1, max_capacity=config.jaeger_max_tasks)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)

        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=network.vpc,
            internet_facing=False,
            vpc_subnets=network.isolated,
            security_group=network.alb,
            drop_invalid_header_fields=True,
        )
        acknowledge(
            self.alb,
            "AwsSolutions-ELB2",
            "Internal, behind API Gateway: the HTTP API's access log records every request from outside "
            "(source, route, status); the only other client is the retention function, traced.",
        )
        query_targets, otlp_targets = (
            elbv2.ApplicationTargetGroup(
                self,
                f"{name}Targets",
                vpc=network.vpc,
                port=port,
                protocol=elbv2.ApplicationProtocol.HTTP,
                target_type=elbv2.TargetType.IP,
                targets=[self.service.load_balancer_target(container_name="jaeger", container_port=port)],
                health_check=elbv2.HealthCheck(path="/status", port=str(HEALTH_PORT), healthy_http_codes="200"),
                deregistration_delay=Duration.seconds(30),
            )
            for name, port in (("Query", QUERY_PORT), ("Otlp", OTLP_PORT))
        )
        network.task.add_ingress_rule(network.alb, ec2.Port.tcp(HEALTH_PORT), "Load balancer health checks")
        self.listener = self.alb.add_listener(
            "Http",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.forward([query_targets]),
        )
        self.listener.add_action(
            "Otlp",
            priority=10,
            conditions=[elbv2.ListenerCondition.path_patterns(["/v1/traces"])],
            action=elbv2.ListenerAction.forward([otlp_targets]),
        )
        self.internal_endpoint = f"http://{self.alb.load_balancer_dns_name}"
        """Where a client inside the VPC sends OTLP (the retention function)."""
