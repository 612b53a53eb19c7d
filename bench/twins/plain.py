"""Uninstrumented twin (also the one ADOT-style auto-instrumentation wraps)."""

from bench.twins import handle as handler

__all__ = ["handler"]
