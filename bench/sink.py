"""The benchmark's OTLP endpoint, in its own process so its work never competes with moto's.

python bench/sink.py OUT.jsonl   → prints its endpoint, serves until killed
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracectl.otlp_receiver import OtlpReceiver

if __name__ == "__main__":
    with OtlpReceiver(Path(sys.argv[1])) as receiver:
        print(receiver.endpoint, flush=True)
        while True:
            time.sleep(3600)
