"""`JaegerNetwork`: the VPC and the security groups that let each part reach only what it must."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct


class JaegerNetwork(Construct):
    """Two zones, public and isolated subnets, no NAT gateway, flow logs; one security group per part.

    Nothing listens to the internet here (API Gateway does, outside the VPC): the groups admit each
    other only. The tasks sit in public subnets with a public address so they can pull the image and
    reach AWS APIs without a NAT gateway or interface endpoints to pay for.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
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
        self.vpc.add_flow_log(
            "FlowLogs",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(
                    self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
                )
            ),
        )
        self.isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        def group(name: str, description: str) -> ec2.SecurityGroup:
            return ec2.SecurityGroup(self, f"{name}Sg", vpc=self.vpc, description=description, allow_all_outbound=False)

        self.link = group("Link", "API Gateway VPC link: to the load balancer only")
        self.alb = group("Alb", "Internal load balancer: from the VPC link and the retention function")
        self.task = group("Task", "Jaeger tasks: from the load balancer only")
        self.domain = group("Domain", "OpenSearch: HTTPS from Jaeger and the retention function")
        self.retention = group("Retention", "Retention function: to OpenSearch, S3 and the load balancer")
        self.alb.add_ingress_rule(self.link, ec2.Port.tcp(80), "API Gateway's VPC link")
        self.alb.add_ingress_rule(self.retention, ec2.Port.tcp(80), "The retention function's own traces")
        self.link.add_egress_rule(self.alb, ec2.Port.tcp(80), "To the load balancer")
        self.retention.add_egress_rule(self.alb, ec2.Port.tcp(80), "Its traces, to Jaeger")
        for source in (self.task, self.retention):
            self.domain.add_ingress_rule(source, ec2.Port.tcp(443), "HTTPS to OpenSearch")
        # No route leaves the isolated subnets but the S3 endpoint; the tasks reach Docker Hub and AWS APIs.
        self.retention.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "OpenSearch and the S3 endpoint")
        self.task.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Image pull, logs, secrets, OpenSearch")
