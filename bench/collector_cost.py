"""What the collector layer costs every cold start: the built collector's start-to-ready time and memory.

In Lambda the ADOT collector layer is an extension process: the environment's init waits for it,
and its memory comes out of the function's. Its local twin (otelcol-lambda, built by `make tools`
from the layer's components) runs each shipped config with the local overlay (tracectl/pipeline/local_pipeline.py:
loopback ports, the X-Ray endpoint) — backends are never contacted before a span arrives, so none
is needed. Ready = its OTLP/HTTP receiver answers a POST; its RSS and high-water mark are read from
/proc at that moment (what it holds before the first span: the floor of its memory).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

import urllib3
import yaml

from infra.config import EXPORTERS
from tracectl import tools
from tracectl.emulation.local_aws import FAKE_CREDENTIALS
from tracectl.pipeline.local_pipeline import COLLECTOR_DIR, collector_overlay
from tracectl.processes import free_port


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def _one_start(config: str, work: Path) -> dict[str, float]:
    port = free_port()
    overlay = work / f"overlay-{config}.yaml"
    overlay.write_text(
        yaml.safe_dump(
            collector_overlay(
                config, otlp_port=port, xray_endpoint=f"http://127.0.0.1:{free_port()}", metrics_port=free_port()
            )
        )
    )
    env = {
        "PATH": os.environ["PATH"],
        **FAKE_CREDENTIALS,
        "AWS_REGION": "us-east-1",
        "JAEGER_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "JAEGER_AUTHORIZATION": "",
    }
    command = [
        str(tools.binary(tools.COLLECTOR)),
        "--config",
        str(COLLECTOR_DIR / f"{config}.yaml"),
        "--config",
        str(overlay),
    ]
    http = urllib3.PoolManager(timeout=urllib3.Timeout(total=1.0), retries=False)
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the collector exited running {config}.yaml")
            try:
                answer = http.request(
                    "POST",
                    f"http://127.0.0.1:{port}/v1/traces",
                    body=b"",
                    headers={"Content-Type": "application/x-protobuf"},
                )
                if answer.status < 300:
                    break
            except urllib3.exceptions.HTTPError:
                pass
            if time.monotonic() - started > 30:
                raise RuntimeError(f"the collector did not get ready with {config}.yaml in 30 s")
            time.sleep(0.005)
        ready_ms = (time.monotonic() - started) * 1000
        return {
            "ready_ms": ready_ms,
            "rss_mib": _status_kib(process.pid, "VmRSS") / 1024,
            "peak_rss_mib": _status_kib(process.pid, "VmHWM") / 1024,
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(work: Path, starts: int = 7) -> dict[str, dict[str, float]] | str:
    """Per shipped config: medians over `starts` fresh starts; or why it could not be measured."""
    if not tools.installed(tools.COLLECTOR):
        return "the collector is not built here (make tools): not measured"
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for config in EXPORTERS:
        runs = [_one_start(config, work) for _ in range(starts)]
        results[config] = {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]} | {
            "starts": starts
        }
    return results
