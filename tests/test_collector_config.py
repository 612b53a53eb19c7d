"""collector/*.yaml use only what exists in the ADOT collector Lambda layer (docs/architecture.md)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from infra.config import TracerConfig
from infra.exporter_profile import profile_for, tracing_environment
from tests.conftest import ROOT

# The ADOT collector for Lambda v0.43.0 layer (ver-0-117-0): nothing else exists there.
ADOT_LAYER = {
    "receivers": {"otlp"},
    "processors": set(),
    "exporters": {"awsxray", "otlp", "otlphttp", "debug", "awsemf", "prometheusremotewrite"},
    "extensions": {"sigv4auth"},
}
# Documented configuration keys of the exporters we use (collector-contrib READMEs).
EXPORTER_KEYS = {
    "awsxray": {
        "num_workers",
        "endpoint",
        "request_timeout_seconds",
        "max_retries",
        "no_verify_ssl",
        "proxy_address",
        "region",
        "local_mode",
        "resource_arn",
        "role_arn",
        "indexed_attributes",
        "index_all_attributes",
        "aws_log_groups",
        "telemetry",
    },
    "otlphttp": {
        "endpoint",
        "traces_endpoint",
        "headers",
        "timeout",
        "compression",
        "retry_on_failure",
        "sending_queue",
        "tls",
        "encoding",
        "read_buffer_size",
        "write_buffer_size",
        "proxy_url",
        "auth",
    },
}
CONFIGS = {"xray": "xray.yaml", "jaeger": "jaeger.yaml", "both": "both.yaml"}


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "collector" / name).read_text())


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def config_for(exporter: str) -> TracerConfig:
    return TracerConfig(exporter=exporter, jaeger_endpoint=None if exporter == "xray" else "https://j.example.com:4318")


def test_there_is_one_config_per_exporter_and_the_profile_points_at_it() -> None:
    assert sorted(p.name for p in (ROOT / "collector").glob("*.yaml")) == sorted(CONFIGS.values())
    for exporter, file_name in CONFIGS.items():
        assert profile_for(config_for(exporter)).collector_config == file_name


@pytest.mark.parametrize("name", CONFIGS.values())
def test_every_component_exists_in_the_adot_layer(name: str) -> None:
    config = load(name)
    for kind, available in ADOT_LAYER.items():
        for component_id in config.get(kind) or {}:
            assert component_type(component_id) in available, f"{name}: {kind} {component_id} is not in the ADOT layer"


@pytest.mark.parametrize("name", CONFIGS.values())
def test_pipelines_refer_only_to_defined_components(name: str) -> None:
    config = load(name)
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces"}
    for pipeline in pipelines.values():
        assert pipeline.get("processors", []) == []
        for kind in ("receivers", "exporters"):
            assert pipeline[kind], f"{name}: empty {kind}"
            for component_id in pipeline[kind]:
                assert component_id in config[kind], f"{name}: {component_id} used but not defined"
    for extension in config["service"].get("extensions", []):
        assert extension in config.get("extensions", {})


@pytest.mark.parametrize("name", CONFIGS.values())
def test_exporter_settings_are_known_keys(name: str) -> None:
    for component_id, settings in load(name)["exporters"].items():
        unknown = set(settings or {}) - EXPORTER_KEYS[component_type(component_id)]
        assert not unknown, f"{name}: {component_id} has unknown keys {unknown}"


@pytest.mark.parametrize(
    ("exporter", "expected"), [("xray", {"awsxray"}), ("jaeger", {"otlphttp"}), ("both", {"awsxray", "otlphttp"})]
)
def test_each_config_sends_where_its_exporter_says(exporter: str, expected: set[str]) -> None:
    config = load(CONFIGS[exporter])
    used = {component_type(c) for c in config["service"]["pipelines"]["traces"]["exporters"]}
    assert used == expected
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "localhost:4318"


@pytest.mark.parametrize("name", ["jaeger.yaml", "both.yaml"])
def test_a_dead_jaeger_holds_an_invocation_for_a_bounded_time(name: str) -> None:
    [jaeger] = [v for k, v in load(name)["exporters"].items() if component_type(k) == "otlphttp"]
    timeout = re.fullmatch(r"(\d+)s", jaeger["timeout"])
    assert timeout and int(timeout.group(1)) <= 2
    assert jaeger["retry_on_failure"] == {"enabled": False}
    assert jaeger["sending_queue"] == {"enabled": False}


@pytest.mark.parametrize("name", ["xray.yaml", "both.yaml"])
def test_xray_calls_are_bounded(name: str) -> None:
    xray = load(name)["exporters"]["awsxray"]
    assert xray["request_timeout_seconds"] * (1 + xray["max_retries"]) <= 4


@pytest.mark.parametrize("exporter", CONFIGS)
def test_every_env_var_the_yaml_reads_is_set_by_the_construct(exporter: str) -> None:
    text = (ROOT / "collector" / CONFIGS[exporter]).read_text()
    wanted = set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", text))
    assert wanted <= set(tracing_environment(config_for(exporter), "svc"))


@pytest.mark.live
def test_contrib_collector_validates_each_config() -> None:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("needs a running Docker engine (docker info failed): none on this machine")
    for name in CONFIGS.values():
        result = subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "-e",
                "JAEGER_ENDPOINT=http://localhost:4318",
                "-e",
                "JAEGER_AUTHORIZATION=",
                "-v",
                f"{ROOT / 'collector'}:/cfg:ro",
                "otel/opentelemetry-collector-contrib:0.117.0",
                "validate",
                f"--config=/cfg/{name}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr


def test_indexed_attributes_cover_every_annotation_key_the_handlers_use() -> None:
    import ast

    keys = set()
    for path in (ROOT / "functions").rglob("handler.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "annotate" and node.args:
                assert isinstance(node.args[0], ast.Constant), f"{path}: annotate() with a computed key"
                keys.add(node.args[0].value)
    assert keys >= {"request_path", "hit_count", "fault_injected", "message_count"}
    for name in ("xray.yaml", "both.yaml"):
        assert keys <= set(load(name)["exporters"]["awsxray"]["indexed_attributes"]), name


def test_docker_compose_runs_the_shipped_configs_on_loopback_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("collector", "collector-both"):
        service = services[name]
        [mount] = [v for v in service["volumes"] if v.startswith("./collector/")]
        assert (ROOT / mount.split(":")[0]).is_file()
        assert service["environment"]["JAEGER_ENDPOINT"] == "http://jaeger:4318"
        assert "--set=receivers.otlp.protocols.http.endpoint=0.0.0.0:4318" in service["command"]
    for service in services.values():
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))


def test_docker_compose_and_tracectl_stack_run_the_same_releases_and_files() -> None:
    from tracectl import tools

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    manifest = yaml.safe_load(tools.MANIFEST.read_text())
    jaeger_go_mod = (tools.GOMOD / "jaeger" / "go.mod").read_text()
    # the Jaeger release the image runs is the one `make tools` builds, with the same config file
    assert compose["jaeger"]["image"] == f"jaegertracing/jaeger:{tools.JAEGER_RELEASE}"
    assert f"github.com/jaegertracing/jaeger {tools.JAEGER_MODULE_VERSION}" in jaeger_go_mod
    assert "./collector/local/jaeger.yaml:/etc/jaeger/jaeger.yaml:ro" in compose["jaeger"]["volumes"]
    # the collector image is the contrib release our build's components come from
    for name in ("collector", "collector-both"):
        assert compose[name]["image"] == f"otel/opentelemetry-collector-contrib:{manifest['dist']['version']}"
    assert all(
        m["gomod"].endswith(f" v{manifest['dist']['version']}")
        for m in manifest["exporters"] + manifest["receivers"] + manifest["extensions"]
    )
    # the ports compose publishes and JAEGER_ENDPOINT names are the defaults of Jaeger's one config
    jaeger_config = (ROOT / "collector" / "local" / "jaeger.yaml").read_text()
    assert "${env:JAEGER_QUERY_HTTP_ENDPOINT:-0.0.0.0:16686}" in jaeger_config
    assert "${env:JAEGER_OTLP_HTTP_ENDPOINT:-0.0.0.0:4318}" in jaeger_config
    assert "127.0.0.1:16686:16686" in compose["jaeger"]["ports"]
