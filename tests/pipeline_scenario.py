"""Drive the local app against a given OTLP endpoint in a process of its own (moto keeps state per process).

Usage: python tests/pipeline_scenario.py SPEC.json OUT.json
SPEC: {"otlp": URL, "record": DIR, "rounds": R, "requests": N, "pump": bool, "fault_rate": F, "seed": S,
       "xray": the X-Ray API that gets the segments API Gateway and Lambda write themselves (optional)}
OUT:  {"seconds": [per API request, end to end: handler + export], "responded": [per API request, until
       the runtime posted the response], "statuses": [...], "invocations": {...},
       "function_errors": {...}, "dead_letters": {...}, "rss_kib": [{function: KiB} after each round]}
Each round sends N API requests and (with "pump") delivers every SNS/SQS event they caused.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def main(spec_path: str, out_path: str) -> None:
    from tracectl.emulation.local_run import LocalRun

    spec = json.loads(Path(spec_path).read_text())
    result: dict = {"seconds": [], "statuses": [], "rss_kib": []}
    with tempfile.TemporaryDirectory() as work, LocalRun(
        otlp_endpoint=spec["otlp"],
        work_dir=Path(spec.get("work_dir") or work),
        fault_rate=spec.get("fault_rate", 0.0),
        seed=spec.get("seed"),
        exporter=spec.get("exporter", "both"),
        span_record_dir=Path(spec["record"]),
        xray_endpoint=spec.get("xray"),
    ) as run:
        for round_number in range(spec.get("rounds", 1)):
            for i in range(spec["requests"]):
                started = time.monotonic()
                response = run.request(f"/e2e/{round_number}/{i}")
                result["seconds"].append(time.monotonic() - started)
                result["statuses"].append(response.get("statusCode"))
            if spec.get("pump", True):
                run.pump(timeout_s=600)
            pids = {name: e.runtime_pid() for name, e in run.environments.items()}
            result["rss_kib"].append({name: rss_kib(pid) for name, pid in pids.items() if pid is not None})
        result["responded"] = run.stats.responded_s
        result["invocations"] = dict(run.stats.invocations)
        result["function_errors"] = dict(run.stats.function_errors)
        result["dead_letters"] = run.dead_letters()
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
