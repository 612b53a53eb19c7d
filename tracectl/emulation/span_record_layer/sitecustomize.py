"""Start-up hook of the span-record layer (see __init__.py): runs before the runtime loads the handler."""

from opentelemetry import trace
from span_recorder import record_from_environment

record_from_environment(trace)
