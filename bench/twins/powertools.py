"""Twin traced with Powertools for AWS Lambda's Tracer (aws-xray-sdk, boto3 auto-patched)."""

from aws_lambda_powertools import Tracer

from bench.twins import handle

tracer = Tracer(service="bench")
handler = tracer.capture_lambda_handler(handle)
