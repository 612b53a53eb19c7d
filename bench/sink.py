"""The benchmark's trace endpoints, in their own process so their work never competes with moto's.

    python bench/sink.py OUT_DIR [ANSWER_AFTER_S]
        → prints one JSON line {"otlp": URL, "xray_daemon": "127.0.0.1:PORT"}, serves until killed

ANSWER_AFTER_S: answer each OTLP/HTTP export that much later, as the ADOT collector layer answers
only once it has exported to X-Ray or Jaeger (the UDP paths are never answered: nothing waits).

OTLP/HTTP (ours) goes to OUT_DIR/otlp.jsonl. X-Ray daemon datagrams: segment documents
(Powertools' X-Ray SDK) to OUT_DIR/xray.jsonl, one per line; OTLP over UDP (the ADOT Python layer's
exporter in Lambda, `T1S`/`T1U` + base64 protobuf, unless a traces endpoint is configured) to
OUT_DIR/udp-otlp.jsonl in the OTLP JSON the receiver writes.
"""

from __future__ import annotations

import base64
import json
import socketserver
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracectl.traces.otlp_receiver import OtlpReceiver, to_otlp_json


def serve_xray_daemon(out_dir: Path) -> socketserver.UDPServer:
    """A UDP endpoint speaking the X-Ray daemon's protocol (a JSON header line, then the payload),
    serving on a thread of its own until `shutdown()`."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            _header, _, payload = self.request[0].decode().partition("\n")
            if payload.startswith(("T1S", "T1U")):
                request = ExportTraceServiceRequest.FromString(base64.b64decode(payload[3:]))
                line, out_file = json.dumps(to_otlp_json(request)), out_dir / "udp-otlp.jsonl"
            else:
                line, out_file = payload.strip(), out_dir / "xray.jsonl"
            with out_file.open("a") as f:
                f.write(line + "\n")

    server = socketserver.UDPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    out = Path(sys.argv[1])
    answer_after_s = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    with OtlpReceiver(out / "otlp.jsonl", answer_after_s=answer_after_s) as receiver:
        host, port = serve_xray_daemon(out).server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        print(json.dumps({"otlp": receiver.endpoint, "xray_daemon": f"{host}:{port}"}), flush=True)
        threading.Event().wait()
