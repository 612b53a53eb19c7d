"""The Jaeger stack's outputs, by name: infra/jaeger_stack.py writes them, tracectl reads them
(`tracectl.aws.deployed_jaeger`). CDK-free, so tracectl can import it without loading the CDK."""

JAEGER_URL = "JaegerUrl"
"""Jaeger's UI and query API (IAM: SigV4)."""
OTLP_ENDPOINT = "OtlpEndpoint"
"""The OTLP/HTTP base URL (POST /v1/traces, basic auth)."""
INGEST_SECRET_NAME = "IngestSecretName"
"""The Secrets Manager secret with the ingest credentials."""
OPEN_UI = "OpenUi"
"""The command that opens the UI."""
