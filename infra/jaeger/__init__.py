"""The deployed Jaeger's parts (`-c deployJaeger=true`), one construct each, composed by
infra/jaeger_stack.py: the network, the ingest credentials, the trace store and its retention,
the Jaeger service behind its load balancer, and the API gateway in front. `outputs` names the
stack's outputs for tracectl, which reads them (CDK-free: this package's `__init__` imports nothing)."""
