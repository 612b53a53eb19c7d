"""`TraceStore`: where the deployed Jaeger keeps spans (an OpenSearch domain) and for how long."""

from __future__ import annotations

from aws_cdk import CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct, IDependable

from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget
from infra.jaeger.helpers import helper_function
from infra.jaeger.network import JaegerNetwork
from infra.nag import acknowledge

# The cheapest instance type that supports encryption at rest; 10 GiB is the smallest gp3 volume.
DATA_NODE_TYPE, VOLUME_GIB = "t3.small.search", 10
# The domain's logical id before the stack was built from constructs: kept, so that an existing
# deployment updates its domain (and spans) in place instead of replacing it.
DOMAIN_LOGICAL_ID = "TracesF050D86D"


class TraceStore(Construct):
    """An OpenSearch domain in the isolated subnets: encrypted at rest and between nodes, HTTPS only
    (TLS 1.2), every request signed, kept when the stack is destroyed. `keep_for()` adds the index
    policy that deletes spans after the retention; `grant()` names the roles that may call it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: TracerConfig, network: JaegerNetwork) -> None:
        super().__init__(scope, construct_id)
        self._network = network
        self._readers: list[iam.IRole] = []
        stack = Stack.of(self)
        nodes = config.jaeger_data_nodes
        slow_search, slow_index, app_logs = (
            logs.LogGroup(
                self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
            )
            for name in ("SlowSearch", "SlowIndex", "App")
        )
        # What CDK would otherwise add with a custom resource function of its own (untraced).
        log_policy = logs.CfnResourcePolicy(
            self,
            "LogsPolicy",
            policy_name=f"{stack.stack_name}-opensearch-logs",
            policy_document=stack.to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [g.log_group_arn for g in (slow_search, slow_index, app_logs)],
                            "Condition": {"StringEquals": {"aws:SourceAccount": stack.account}},
                        }
                    ],
                }
            ),
        )
        vpc, isolated = network.vpc, network.isolated
        self.domain = opensearch.Domain(
            self,
            "Domain",
            version=opensearch.EngineVersion.OPENSEARCH_2_19,
            vpc=vpc,
            # One node lives in one subnet; more spread over both zones.
            vpc_subnets=[isolated if nodes > 1 else ec2.SubnetSelection(subnets=vpc.isolated_subnets[:1])],
            security_groups=[network.domain],
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
        self._cfn.override_logical_id(DOMAIN_LOGICAL_ID)
        self.domain.node.add_dependency(log_policy)
        self.endpoint = f"https://{self.domain.domain_endpoint}"
        acknowledge(
            self.domain,
            "AwsSolutions-OS3",
            "No public endpoint to allowlist: the domain is in the VPC's isolated subnets, its security group "
            "admits the Jaeger tasks and the retention function only, and every request must be signed (IAM).",
        )
        acknowledge(
            self.domain,
            "AwsSolutions-OS4",
            "Dedicated master nodes would add three instances to a tracing backend of one to three data nodes.",
        )
        if nodes == 1:
            acknowledge(
                self.domain,
                "AwsSolutions-OS7",
                "One data node is the cheapest durable setting (its EBS volume survives restarts); "
                "-c jaegerDataNodes=2 spreads nodes and replicas over two zones.",
            )

    @property
    def _cfn(self) -> opensearch.CfnDomain:
        cfn = self.domain.node.default_child
        assert isinstance(cfn, opensearch.CfnDomain)
        return cfn

    def keep_for(
        self, *, config: TracerConfig, code: lambda_.Code, jaeger: JaegerTarget, after: IDependable
    ) -> CustomResource:
        """The index policy that deletes spans after `-c jaegerRetentionDays`, put by a traced custom
        resource inside the VPC (its spans go to `jaeger`; it runs once `after` is done)."""
        fn = helper_function(
            self,
            "RetentionFunction",
            config=config,
            code=code,
            service_name="jaeger_retention",
            jaeger=jaeger,
            vpc=self._network.vpc,
            vpc_subnets=self._network.isolated,
            security_groups=[self._network.retention],
        )
        fn.node.add_dependency(after)
        if fn.role is not None:
            self.grant(fn.role)
        return CustomResource(
            self,
            "Retention",
            service_token=fn.function_arn,
            resource_type="Custom::JaegerRetention",
            properties={"DomainEndpoint": self.endpoint, "RetentionDays": str(config.jaeger_retention_days)},
        )

    def grant(self, role: iam.IRole) -> None:
        """Let `role` call the domain's REST API (signed): the resource policy names these roles, nobody else.

        On the domain itself (not CDK's `access_policies`, which deploys a custom resource function):
        the policy names the domain by wildcard, as it cannot reference its own ARN.
        """
        self._readers.append(role)
        stack = Stack.of(self)
        self._cfn.access_policies = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [r.role_arn for r in self._readers]},
                    "Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"],
                    "Resource": f"arn:{stack.partition}:es:{stack.region}:{stack.account}:domain/*/*",
                }
            ],
        }
