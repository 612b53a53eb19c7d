"""`TracerStack`: the app docs/architecture.md describes, composed from infra/topology.py.

The stack only creates resources and wires them; how a function is traced lives in
`TracedFunction`, what the exporter changes lives in `exporter_profile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import topology
from infra.access_logs import access_log_format
from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget, profile_for
from infra.nag import LAMBDA_BASIC_EXECUTION, acknowledge
from infra.traced_function import TracedFunction
from infra.uploads_bucket import UploadsBucket
from infra.xray_group import XRayGroup


@dataclass(frozen=True, kw_only=True)
class AppResources:
    """The app's resources by role, as the wiring of every trigger needs them."""

    topics: dict[str, sns.Topic]
    queues: dict[str, sqs.Queue]
    bus: events.EventBus
    table: dynamodb.TableV2
    bucket: UploadsBucket
    async_failures: sqs.Queue
    """Where failed async invocations and stream batches end up (and what SNS/EventBridge cannot deliver)."""


class TracerStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TracerConfig,
        code: lambda_.Code,
        jaeger: JaegerTarget | None = None,
        **kwargs: Any,
    ) -> None:
        """`jaeger` is the Jaeger stack's endpoint and header (-c deployJaeger=true), else the context's."""
        super().__init__(scope, construct_id, **kwargs)
        profile = profile_for(config)
        acknowledge(self, *LAMBDA_BASIC_EXECUTION)
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role, required for the stage's access and error logs.",
        )

        sns_key = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        topics = {
            name: sns.Topic(
                self,
                f"{name.capitalize()}Topic",
                master_key=sns_key,
                enforce_ssl=True,
                # Active: SNS passes the X-Ray trace header on to the subscribed functions.
                tracing_config=sns.TracingConfig.ACTIVE if config.sends_to_xray else None,
            )
            for name in topology.TOPICS
        }
        dlq = self._queue("WorkDlq")
        queues = {
            topology.QUEUE.name: self._queue(
                "WorkQueue",
                visibility_timeout=Duration.seconds(topology.QUEUE.visibility_timeout_seconds),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=topology.QUEUE.max_receive_count),
            )
        }
        async_failures = self._queue("AsyncFailures")
        table = dynamodb.TableV2(
            self,
            "HitsTable",
            partition_key=dynamodb.Attribute(name=topology.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
            dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE,  # the `stream` function reads new images
        )

        bus = events.EventBus(self, "AppBus")
        uploads = UploadsBucket(self, "Uploads")
        self.functions: dict[str, TracedFunction] = {}
        resources = AppResources(
            topics=topics, queues=queues, bus=bus, table=table, bucket=uploads, async_failures=async_failures
        )
        targets = topology.Targets(
            topic_arns={name: topic.topic_arn for name, topic in topics.items()},
            queue_urls={name: queue.queue_url for name, queue in queues.items()},
            event_bus=bus.event_bus_name,
            table=table.table_name,
            external_url=config.external_url,
            fault_rate=config.fault_rate,
        )
        for spec in topology.FUNCTIONS:
            fn = TracedFunction(
                self,
                function_construct_id(spec.name),
                config=config,
                service_name=spec.name,
                handler=spec.handler,
                code=code,
                jaeger=jaeger,
                environment=topology.function_environment(spec, targets),
                timeout_seconds=topology.FUNCTION_TIMEOUT_SECONDS,
            )
            if spec.publishes_to:
                topics[spec.publishes_to].grant_publish(fn)
                _acknowledge_sns_key_grant(fn)
            if spec.sends_to:
                queues[spec.sends_to].grant_send_messages(fn)
            if spec.puts_events_to:
                bus.grant_put_events_to(fn)
            if spec.reads_bucket:
                uploads.grant_object_read(fn)
            if spec.writes_table:
                table.grant_read_write_data(fn)
            self._wire_trigger(fn, spec, resources)
            self.functions[spec.name] = fn

        self.api = self._api(self.functions["ingest"].target, tracing=profile.api_tracing, config=config)
        if profile.xray_write:
            XRayGroup(
                self,
                "XRay",
                config=config,
                functions=list(self.functions.values()),
                api_stage_arn=self.api.deployment_stage.stage_arn,
            )
        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "Exporter", value=config.exporter)
        CfnOutput(self, "AsyncFailureQueueUrl", value=async_failures.queue_url)
        CfnOutput(self, "WorkDlqUrl", value=dlq.queue_url)
        CfnOutput(self, "UploadsBucket", value=uploads.bucket.bucket_name)

    def _queue(
        self,
        construct_id: str,
        *,
        visibility_timeout: Duration | None = None,
        dead_letter_queue: sqs.DeadLetterQueue | None = None,
    ) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=dead_letter_queue,
        )
        if dead_letter_queue is None:
            acknowledge(
                queue,
                "AwsSolutions-SQS3",
                "This queue is itself a dead-letter queue (SQS redrive or Lambda on-failure destination).",
            )
            acknowledge(
                queue,
                "Serverless-SQSRedrivePolicy",
                "This queue is itself a dead-letter queue: what lands here stays for a person to read.",
            )
        return queue

    def _wire_trigger(self, fn: TracedFunction, spec: topology.Function, resources: AppResources) -> None:
        trigger = spec.trigger
        topics, queues, async_failures = resources.topics, resources.queues, resources.async_failures
        target = fn.target  # the `live` alias under SnapStart: triggers must invoke a published version
        if spec.is_async:
            # Lambda retries an async event, then sends it to the on-failure destination; what the
            # invoking service itself cannot deliver goes to the same queue (wired below).
            target.configure_async_invoke(
                retry_attempts=topology.ASYNC_RETRY_ATTEMPTS,
                on_failure=destinations.SqsDestination(async_failures),
            )
            acknowledge(
                fn,
                "Serverless-LambdaDLQ",
                f"Invoked asynchronously by {_ASYNC_INVOKERS[trigger.kind]}: after Lambda's retries a failed event "
                "goes to the on-failure destination (AsyncFailures), which supersedes a DLQ and keeps the error too.",
            )
        if trigger.kind == "sns":
            assert trigger.source is not None
            subscription = topics[trigger.source].add_subscription(
                subscriptions.LambdaSubscription(target, dead_letter_queue=async_failures)
            )
            if target is not fn:
                acknowledge(
                    subscription,
                    "CloudFormation-Validate::W3694",
                    "The endpoint is the function's `live` alias ARN, a qualified function ARN that SNS "
                    "invokes like any other; the check only knows unqualified functions.",
                )
        elif trigger.kind == "eventbridge":
            events.Rule(
                self,
                f"{function_construct_id(spec.name)}Rule",
                event_bus=resources.bus,
                event_pattern=events.EventPattern(source=[topology.EVENT_SOURCE]),
                targets=[
                    event_targets.LambdaFunction(
                        target, dead_letter_queue=async_failures, retry_attempts=topology.ASYNC_RETRY_ATTEMPTS
                    )
                ],
            )
        elif trigger.kind == "s3":
            resources.bucket.notify_on_create(target)
        elif trigger.kind == "sqs":
            assert trigger.source is not None
            target.add_event_source(
                sources.SqsEventSource(
                    queues[trigger.source], batch_size=trigger.batch_size, report_batch_item_failures=True
                )
            )
            acknowledge(
                fn,
                "Serverless-LambdaDLQ",
                "Invoked by an SQS event source mapping: failed records stay on the queue and its redrive "
                "policy moves them to WorkDlq; a function DLQ only applies to asynchronous invocation.",
            )
            acknowledge(
                fn,
                "Serverless-LambdaEventSourceMappingDestination",
                "AWS offers on-failure destinations for stream and Kafka mappings, not for SQS ones: failed "
                "records go where the queue's redrive policy sends them (WorkDlq after maxReceiveCount).",
            )
        elif trigger.kind == "dynamodb":
            target.add_event_source(
                sources.DynamoEventSource(
                    resources.table,
                    starting_position=lambda_.StartingPosition.LATEST,
                    batch_size=trigger.batch_size,
                    bisect_batch_on_error=True,
                    retry_attempts=topology.ASYNC_RETRY_ATTEMPTS,
                    report_batch_item_failures=True,
                    on_failure=sources.SqsDlq(async_failures),
                )
            )
            acknowledge(
                fn,
                "Serverless-LambdaDLQ",
                "Invoked by a DynamoDB Streams mapping: after its retries a failed batch's records go to the "
                "mapping's on-failure destination (AsyncFailures); a function DLQ only applies to async invocation.",
            )
        else:  # api
            acknowledge(
                fn,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by API Gateway: the caller gets the error at once and nothing is "
                "queued; a function DLQ only applies to asynchronous invocation.",
            )

    def _api(self, handler: lambda_.IFunction, *, tracing: bool, config: TracerConfig) -> apigw.LambdaRestApi:
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_WEEK, removal_policy=RemovalPolicy.DESTROY
        )
        api = apigw.LambdaRestApi(
            self,
            "Api",
            handler=handler,
            proxy=True,
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=tracing,
                # Not the account default (10,000 rps): a public endpoint's ceiling is chosen per deploy.
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=access_log_format(),
            ),
        )
        for rule, reason in (
            ("AwsSolutions-APIG2", "Proxy API: every path is valid and the ingest function validates the request."),
            ("AwsSolutions-APIG3", "Demo traffic endpoint; add a WAF web ACL before exposing it to real users."),
            ("AwsSolutions-APIG4", "Public by design: the traffic generator and the README's curl must reach it."),
            ("AwsSolutions-COG4", "Public by design: no Cognito user pool for a tracing demo endpoint."),
        ):
            acknowledge(api, rule, reason)
        if not tracing:
            acknowledge(
                api,
                "Serverless-APIGWXrayEnabled",
                "Jaeger-only deploy: the ingest function's OpenTelemetry SERVER span is the trace's root; "
                "X-Ray stage tracing would make segments nobody reads.",
            )
        return api


_ASYNC_INVOKERS = {"sns": "SNS", "eventbridge": "an EventBridge rule", "s3": "S3"}


def _acknowledge_sns_key_grant(fn: TracedFunction) -> None:
    """Publishing to a topic encrypted with the AWS-managed `alias/aws/sns` key grants the key by alias."""
    reason = (
        "The topics use the AWS-managed key alias/aws/sns, whose key id is unknown at synth: the grant names "
        "key/* and is limited by a kms:ResourceAliases condition to that one alias."
    )
    for finding in (
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]",
    ):
        acknowledge(fn, finding, reason)


def function_construct_id(function_name: str) -> str:
    return "".join(part.capitalize() for part in function_name.split("_")) + "Function"
