"""Twin traced with this project's bootstrap (functions/tracing)."""

from bench.twins import handle
from functions.tracing import traced

handler = traced(handle)
