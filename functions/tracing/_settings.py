"""Every environment variable the tracing bootstrap reads, and how: a bad value never raises.

The standard `OTEL_*` names where one exists (the SDK reads the rest of them itself); a value that
cannot be used falls back to the default with one warning line, once per variable.
"""

from __future__ import annotations

import logging
import math
import os

_logger = logging.getLogger(__name__)
_warned: set[str] = set()

EXPORT_TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
LOG_LEVEL = "LOG_LEVEL"
EXPORT_AFTER_RESPONSE = "TRACING_EXPORT_AFTER_RESPONSE"
"""`false` exports each invocation's spans before its response, as outside Lambda (default `true`)."""
EXPORT_DELAY = "TRACING_EXPORT_DELAY_S"
"""The longest a finished span may wait in a running environment before it is exported (seconds);
`0` or unset: after every invocation. Exporting after the response only."""
RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"
HANDLER = "_HANDLER"
FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
LOG_GROUP = "AWS_LAMBDA_LOG_GROUP_NAME"
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"

# Seconds the OTLP exporter may take per request, unless OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT says.
# In Lambda the collector answers on localhost; this bounds how long a broken pipeline can hold
# an invocation (or, exporting after the response, its execution environment).
DEFAULT_EXPORT_TIMEOUT_S = 2.0


def warn_once(variable: str, message: str, *args: object) -> None:
    say_once(variable, logging.WARNING, message, *args)


def say_once(key: str, level: int, message: str, *args: object) -> None:
    """Log `message` the first time `key` comes up in this process only."""
    if key not in _warned:
        _warned.add(key)
        _logger.log(level, message, *args)


def export_timeout_s() -> float:
    """The export bound in seconds: the traces-specific variable first, as the SDK reads it."""
    for name in EXPORT_TIMEOUT_VARIABLES:
        raw = os.environ.get(name)
        if raw is not None and raw.strip() != "":
            return _seconds(name, raw, DEFAULT_EXPORT_TIMEOUT_S, zero_allowed=False)
    return DEFAULT_EXPORT_TIMEOUT_S


def export_delay_s() -> float:
    """TRACING_EXPORT_DELAY_S: 0 (export after every invocation) unless set to a number of seconds ≥ 0."""
    raw = os.environ.get(EXPORT_DELAY)
    if raw is None or raw.strip() == "":
        return 0.0
    return _seconds(EXPORT_DELAY, raw, 0.0, zero_allowed=True)


def _seconds(name: str, raw: str, default: float, *, zero_allowed: bool) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if math.isfinite(value) and (value > 0 or (zero_allowed and value == 0)):
        return value
    kind = "a number of seconds ≥ 0" if zero_allowed else "a positive number of seconds"
    warn_once(name, "tracing: %s=%r is not %s; using %.1f", name, raw, kind, default)
    return default


def log_level() -> int:
    """LOG_LEVEL as a logging level: a name in any case (`debug`, `WARN`) or a number; else INFO."""
    raw = os.environ.get(LOG_LEVEL, "")
    text = raw.strip()
    if not text:
        return logging.INFO
    if text.lstrip("-").isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if isinstance(level, int):
        return level
    warn_once(LOG_LEVEL, "tracing: LOG_LEVEL=%r is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL or a "
              "number); using INFO", raw)
    return logging.INFO


def disabled_instrumentations() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLED_INSTRUMENTATIONS, "").split(",") if name.strip()}


def export_after_response() -> bool:
    raw = os.environ.get(EXPORT_AFTER_RESPONSE, "true")
    if raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    warn_once(EXPORT_AFTER_RESPONSE, "tracing: %s=%r is not true or false; using true", EXPORT_AFTER_RESPONSE, raw)
    return True


def initialization_type() -> str:
    """How Lambda initialised this environment: `on-demand`, `provisioned-concurrency` or `snap-start`."""
    return os.environ.get(INITIALIZATION_TYPE) or "on-demand"


def runtime_api() -> str | None:
    """The Lambda Runtime API's `host:port`: set by Lambda (and its emulator) only."""
    return os.environ.get(RUNTIME_API) or None


def lambda_handler() -> str | None:
    """The handler Lambda calls, as `module.function` (`_HANDLER`, path separators as dots)."""
    raw = os.environ.get(HANDLER)
    return raw.replace("/", ".") if raw else None
