"""`UploadsBucket`: the S3 bucket whose new objects invoke a function, without a custom resource.

CDK's `add_event_notification` deploys a notification custom resource — a Lambda function of
its own that the tracing guard would rightly refuse as untraced — because the bucket, S3's
permission to invoke the function and the function's read grant would otherwise reference each
other. Naming the bucket from the stack, account and region breaks that cycle: every piece can
name the bucket before it exists, and the notification is set on the bucket itself.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge


class UploadsBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.name_prefix = f"{stack.stack_name.lower()}-uploads"
        self.bucket_name = f"{self.name_prefix}-{stack.account}-{stack.region}"
        self._arn = f"arn:{stack.partition}:s3:::{self.bucket_name}"
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=self.bucket_name,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,  # empty it first: no auto-delete custom resource either
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Demo uploads bucket: its object writes are traced end to end; server access logs would need a "
            "second bucket that holds no traces and adds nothing to this demo.",
        )

    def notify_on_create(self, fn: lambda_.IFunction) -> None:
        """Invoke `fn` (asynchronously, as S3 does) for every object created."""
        stack = Stack.of(self)
        permission = lambda_.CfnPermission(
            self,
            "InvokePermission",
            action="lambda:InvokeFunction",
            function_name=fn.function_arn,
            principal="s3.amazonaws.com",
            source_account=stack.account,
            source_arn=self._arn,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            lambda_configurations=[
                s3.CfnBucket.LambdaConfigurationProperty(event="s3:ObjectCreated:*", function=fn.function_arn)
            ]
        )
        cfn_bucket.add_resource_dependency(permission)  # S3 checks the permission when it is configured

    def grant_object_read(self, fn: lambda_.Function) -> None:
        """s3:GetObject (HeadObject too) on the bucket's objects, by name: no reference to the bucket."""
        fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{self._arn}/*"]))
        acknowledge(
            fn,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{self.name_prefix}-<AWS::AccountId>-<AWS::Region>/*]",
            "Reads the object each S3 notification names: object keys are not known in advance, so the grant "
            "covers this one bucket's objects and nothing else.",
        )
