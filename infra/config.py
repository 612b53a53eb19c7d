"""The deployment's configuration: every `-c key=value` the app understands, read once.

`TracerConfig.from_context` is the only place CDK context is read. It either returns a
frozen, validated config or raises `ConfigError` whose message is one line naming the flag,
what was given and what is valid.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlparse

from infra import python_runtime

EXPORTERS = ("xray", "jaeger", "both")
# API Gateway's default account-level quotas per region: a stage cannot usefully allow more.
API_RATE_CEILING, API_BURST_CEILING = 10_000, 5_000
ARCHITECTURES = ("x86_64", "arm64")
# Lambda's longest function timeout: a span kept longer than an invocation can last is no longer "late".
MAX_EXPORT_DELAY_S = 900.0


class ConfigError(ValueError):
    """A context value is missing or invalid. `str(error)` is one line a user can act on."""


@dataclass(frozen=True, kw_only=True)
class TracerConfig:
    exporter: str = "xray"
    jaeger_endpoint: str | None = None
    jaeger_headers_secret: str | None = None
    sampling_ratio: float = 1.0
    architecture: str = "x86_64"
    collector_layer_arn: str | None = None
    external_url: str = "https://aws.amazon.com/"
    fault_rate: float = 0.2
    xray_reservoir: int = 1
    xray_fixed_rate: float = 0.05
    api_rate_limit: float = 50.0
    """Steady requests per second the API stage accepts (then 429): a public endpoint has a ceiling."""
    api_burst_limit: int = 100
    """Requests the API stage accepts at once above the steady rate."""
    snap_start: bool = False
    """SnapStart on published versions; every trigger then invokes the `live` alias."""
    python_runtime: str = python_runtime.NEWEST
    """Lambda's Python version, e.g. `3.12`: by default the version of the Python that synthesizes
    (so the bundle's bytecode is the runtime's), see infra/python_runtime.py."""
    deploy_jaeger: bool = False
    """Deploy a Jaeger (second stack, infra/jaeger_stack.py) and send to it: no -c jaegerEndpoint then."""
    jaeger_retention_days: int = 7
    """Days the deployed Jaeger keeps spans (an index policy on its OpenSearch domain deletes older ones)."""
    jaeger_data_nodes: int = 1
    """OpenSearch data nodes of the deployed Jaeger: 1 is the cheapest durable setting, 2-3 spread over zones."""
    jaeger_max_tasks: int = 2
    """Most Jaeger tasks autoscaling may run (at least one always runs)."""
    export_delay_s: float = 0.0
    """The longest a finished span may wait in a running environment before it is exported (0: after
    every invocation). Longer: most invocations do not wait for the backend, spans arrive later."""

    @property
    def sends_to_xray(self) -> bool:
        return self.exporter in ("xray", "both")

    @property
    def sends_to_jaeger(self) -> bool:
        return self.exporter in ("jaeger", "both")

    @classmethod
    def from_context(
        cls,
        get: Callable[[str], object],
        *,
        build_python: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
        today: date | None = None,
    ) -> TracerConfig:
        """Build the config from a context getter such as `app.node.try_get_context`.

        Values may be strings (from `-c`) or JSON values (from cdk.json); both are accepted.
        `build_python` (the interpreter running synth) and `today` decide the default runtime.
        """
        snap_start = _flag(get, "snapStart")
        runtime = _python_runtime(get, build_python, today or date.today(), snap_start=snap_start)
        exporter = _choice(get, "exporter", EXPORTERS, default=cls.exporter)
        deploy_jaeger = _flag(get, "deployJaeger")
        jaeger_endpoint = _optional_str(get, "jaegerEndpoint")
        jaeger_headers_secret = _optional_str(get, "jaegerHeadersSecret")
        if deploy_jaeger:
            _check_deploy_jaeger(exporter, jaeger_endpoint, jaeger_headers_secret)
        elif exporter != "xray":
            if jaeger_endpoint is None:
                raise ConfigError(
                    f"-c exporter={exporter} needs -c jaegerEndpoint=https://HOST:4318 (your Jaeger's "
                    "OTLP/HTTP endpoint) or -c deployJaeger=true (deploy one)"
                )
            _check_url("jaegerEndpoint", jaeger_endpoint)
        if not deploy_jaeger:
            for key in _DEPLOYED_JAEGER_KEYS:
                if _optional_str(get, key) is not None:
                    raise ConfigError(f"-c {key} sizes the deployed Jaeger: it needs -c deployJaeger=true")
        return cls(
            exporter=exporter,
            jaeger_endpoint=jaeger_endpoint if exporter != "xray" else None,
            jaeger_headers_secret=jaeger_headers_secret,
            sampling_ratio=_fraction(get, "samplingRatio", default=cls.sampling_ratio),
            architecture=_choice(get, "architecture", ARCHITECTURES, default=cls.architecture),
            collector_layer_arn=_optional_str(get, "collectorLayerArn"),
            external_url=_check_url("externalUrl", _optional_str(get, "externalUrl") or cls.external_url),
            fault_rate=_fraction(get, "faultRate", default=cls.fault_rate),
            xray_reservoir=_count(get, "xrayReservoir", default=cls.xray_reservoir),
            xray_fixed_rate=_fraction(get, "xrayFixedRate", default=cls.xray_fixed_rate),
            api_rate_limit=_within(get, "apiRateLimit", default=cls.api_rate_limit, low=0.1, high=API_RATE_CEILING),
            api_burst_limit=int(
                _within(get, "apiBurstLimit", default=cls.api_burst_limit, low=1, high=API_BURST_CEILING, whole=True)
            ),
            snap_start=snap_start,
            python_runtime=runtime,
            deploy_jaeger=deploy_jaeger,
            jaeger_retention_days=int(
                _within(get, "jaegerRetentionDays", default=cls.jaeger_retention_days, low=1, high=3650, whole=True)
            ),
            jaeger_data_nodes=int(
                _within(get, "jaegerDataNodes", default=cls.jaeger_data_nodes, low=1, high=3, whole=True)
            ),
            jaeger_max_tasks=int(
                _within(get, "jaegerMaxTasks", default=cls.jaeger_max_tasks, low=1, high=10, whole=True)
            ),
            export_delay_s=_within(get, "exportDelay", default=cls.export_delay_s, low=0.0, high=MAX_EXPORT_DELAY_S),
        )


# The deployed Jaeger's sizes: meaningless without -c deployJaeger=true.
_DEPLOYED_JAEGER_KEYS = ("jaegerRetentionDays", "jaegerDataNodes", "jaegerMaxTasks")


def _check_deploy_jaeger(exporter: str, endpoint: str | None, headers_secret: str | None) -> None:
    if exporter == "xray":
        raise ConfigError(
            "-c deployJaeger=true deploys a Jaeger for the functions to send to: add -c exporter=jaeger (or both)"
        )
    if endpoint is not None:
        raise ConfigError(
            "-c deployJaeger=true sends to the Jaeger it deploys: drop -c jaegerEndpoint (or drop -c deployJaeger "
            "to use yours)"
        )
    if headers_secret is not None:
        raise ConfigError(
            "-c deployJaeger=true makes its own ingest credentials: drop -c jaegerHeadersSecret (or drop "
            "-c deployJaeger to use your Jaeger)"
        )


def _python_runtime(
    get: Callable[[str], object], build_python: tuple[int, int], today: date, *, snap_start: bool
) -> str:
    offered = python_runtime.offered(today)
    given = _optional_str(get, "pythonRuntime")
    if given is not None:
        version = given.removeprefix("python")
        if version in python_runtime.DEPRECATION and version not in offered:
            raise ConfigError(
                f"-c pythonRuntime={given}: Lambda deprecated python{version} on "
                f"{python_runtime.DEPRECATION[version].isoformat()}: use one of {' | '.join(offered)}"
            )
        if version not in offered:
            raise ConfigError(f"-c pythonRuntime={given} is not valid: use one of {' | '.join(offered)}")
    else:
        version = python_runtime.default_version(build_python, today)
    if snap_start and not python_runtime.at_least(version, python_runtime.SNAPSTART_MINIMUM):
        newer = " | ".join(v for v in offered if python_runtime.at_least(v, python_runtime.SNAPSTART_MINIMUM))
        source = f"-c pythonRuntime={given}" if given else f"the Python running synth ({version})"
        raise ConfigError(
            f"-c snapStart=true needs python{python_runtime.SNAPSTART_MINIMUM} or newer and the runtime follows "
            f"{source}: use -c pythonRuntime={newer}"
        )
    return version


def _optional_str(get: Callable[[str], object], key: str) -> str | None:
    value = get(key)
    if value is None or value == "":
        return None
    return str(value).strip()


def _choice(get: Callable[[str], object], key: str, valid: tuple[str, ...], *, default: str) -> str:
    value = _optional_str(get, key) or default
    if value not in valid:
        raise ConfigError(f"-c {key}={value} is not valid: use one of {' | '.join(valid)} (e.g. -c {key}={default})")
    return value


def _flag(get: Callable[[str], object], key: str) -> bool:
    """`-c key=true|false` (or a JSON boolean in cdk.json); absent means false."""
    value = get(key)
    text = str(value).lower() if isinstance(value, bool) else value
    return _choice(lambda _: text, key, ("true", "false"), default="false") == "true"


def _fraction(get: Callable[[str], object], key: str, *, default: float) -> float:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(str(raw))
    except ValueError:
        raise ConfigError(
            f"-c {key}={raw} is not a number: use a value from 0 to 1 (e.g. -c {key}={default})"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"-c {key}={raw} is out of range: use a value from 0 to 1 (e.g. -c {key}={default})")
    return value


def _count(get: Callable[[str], object], key: str, *, default: int) -> int:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigError(f"-c {key}={raw} is not a whole number: use 0 or more (e.g. -c {key}={default})") from None
    if value < 0:
        raise ConfigError(f"-c {key}={raw} is negative: use 0 or more (e.g. -c {key}={default})")
    return value


def _within(
    get: Callable[[str], object], key: str, *, default: float, low: float, high: float, whole: bool = False
) -> float:
    raw = get(key)
    if raw is None or raw == "":
        return default
    valid = f"use {low:g} to {high:g} (e.g. -c {key}={default:g})"
    try:
        value = int(str(raw)) if whole else float(str(raw))
    except ValueError:
        raise ConfigError(f"-c {key}={raw} is not {'a whole number' if whole else 'a number'}: {valid}") from None
    if not low <= value <= high:
        raise ConfigError(f"-c {key}={raw} is out of range: {valid}")
    return value


_URL_EXAMPLES = {"jaegerEndpoint": "https://jaeger.example.com:4318", "externalUrl": "https://aws.amazon.com/"}


def _check_url(key: str, value: str) -> str:
    try:
        parsed = urlparse(value)
        parsed.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parsed = urlparse("")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"-c {key}={value} is not an http(s) URL: use e.g. -c {key}={_URL_EXAMPLES[key]}")
    if parsed.username or parsed.password:
        # A credential here would be written into the template in clear text.
        raise ConfigError(
            f"-c {key} must not carry credentials: put them in a secret and pass -c jaegerHeadersSecret=NAME"
        )
    return value
