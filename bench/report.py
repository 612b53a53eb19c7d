"""The benchmark's tables, from bench/results.json: printed, and written into the docs.

`tables(results)` gives every table as (title, header, rows); `write(results)` replaces what stands
between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in docs/benchmark.md (every table) and the
README (the headline), so the figures there are always those of the last run, never typed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmark.md"
README = ROOT / "README.md"
NAMES = {
    "plain": "plain",
    "ours": "**ours**",
    "ours_delay": "**ours**, `TRACING_EXPORT_DELAY_S=5`",
    "powertools": "Powertools",
    "adot": "ADOT Python layer",
    "otel_lite": "lambda-otel-lite",
}


def _m(instructions: float) -> str:
    return f"{instructions / 1e6:.0f} M" if instructions >= 100e6 else f"{instructions / 1e6:.2f} M"


def tables(results: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    twins, spans, emulated = results["twins"], results["spans"], results["emulated"]
    direct_instructions = [
        [
            NAMES[n],
            _m(t["cold_instructions"]),
            f"{t['cold_instructions_ratio']:.3f}",
            _m(t["warm_instructions_per_invocation"]),
            f"{t['warm_instructions_ratio']:.3f}",
        ]
        for n, t in twins.items()
    ]
    wall = [
        [
            NAMES[n],
            f"{t['cold_ms_median']:.0f}",
            f"{t['cold_wall_ratio']:.2f}",
            f"{t['warm_ms_p50']:.2f}",
            f"{t['warm_wall_added_p50_ms']:+.2f}",
            f"{t['peak_rss_mib_median']:.1f}",
            f"{spans[n]['received']}/{spans[n]['expected']}",
        ]
        for n, t in twins.items()
    ]
    response = [
        [
            NAMES[n],
            f"{r['warm_response_ms_p50']:.2f}",
            f"{r['warm_response_added_p50_ms']:+.2f}",
            f"{r['warm_response_ms_p99']:.2f}",
            f"{r['warm_environment_held_ms_p50']:.1f}",
            f"{r['cold_response_ms']:.0f}",
            f"{r['cost_per_million_usd']:.2f}" if "cost_per_million_usd" in r else "",
            f"{emulated['spans'][n]['received']}/{emulated['spans'][n]['expected']}",
        ]
        for n, r in emulated["response"].items()
    ]
    outages = [
        [
            fault,
            NAMES[n],
            f"{o['first_held_ms']:.0f}",
            f"{o['second_held_ms']:.0f}",
            f"{o['held_ms_p50']:.1f}",
            f"{o['held_ms_max']:.1f}",
            f"{o['added_p50_ms']:+.1f}",
        ]
        for fault, by_twin in emulated.get("outages", {}).items()
        for n, o in by_twin.items()
    ]
    under_client = [
        [NAMES[n], _m(c["cold"]), f"{c['cold_ratio']:.3f}", _m(c["warm_per_invocation"]), f"{c['warm_ratio']:.3f}"]
        for n, c in emulated["instructions"].items()
    ]
    collector = results["collector"]
    collector_rows = (
        [[f"`collector/{name}.yaml`", f"{c['ready_ms']:.0f}", f"{c['rss_mib']:.1f}"] for name, c in collector.items()]
        if isinstance(collector, dict)
        else [[collector, "", ""]]
    )
    targets = [
        [name.replace("_", " "), f"{t['measured']}", f"≤ {t['target']}", t["why"], "yes" if t["met"] else "**no**"]
        for name, t in results["ours_against_targets"].items()
    ]
    backend = f"{emulated['backend_answers_after_ms']:.0f} ms"
    memory = f"{emulated.get('memory_mb', 512)} MB"
    return [
        (
            f"the bill: under the runtime client at {memory}'s CPU share, frozen between invocations, the OTLP "
            f"backend answering {backend} late (warm invocations; cold = init + first response as the caller "
            "waits; $ at the held p50; spans counted after shutdown)",
            [
                "twin",
                "response p50 ms",
                "added (paired p50)",
                "response p99 ms",
                "environment held (billed) p50 ms",
                "cold ms",
                "$ per million",
                "spans got/expected",
            ],
            response,
        ),
        (
            "ours through a backend outage: environment held per invocation (ms), from the sixth on",
            ["backend", "twin", "1st", "2nd", "p50 from 6th", "max from 6th", "p50 vs healthy"],
            outages,
        ),
        (
            "instructions, invoked directly (callgrind, whole process)",
            ["twin", "cold", "vs plain", "warm / invocation", "vs plain"],
            direct_instructions,
        ),
        (
            "instructions under the runtime client (callgrind, the runtime process)",
            ["twin", "cold", "vs plain", "warm / invocation", "vs plain"],
            under_client,
        ),
        (
            "wall clock, invoked directly (medians of fresh processes) and memory",
            ["twin", "cold ms", "vs plain", "warm p50 ms", "added", "peak RSS MiB", "spans got/expected"],
            wall,
        ),
        (
            "the collector layer's own start (medians of fresh starts)",
            ["config", "start to ready ms", "RSS when ready MiB"],
            collector_rows,
        ),
        ("ours against the targets", ["measure", "measured", "limit", "why", "met"], targets),
    ]


def markdown(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _keeping_markers(body: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.group(1) + body + match.group(2)


def _run(results: dict) -> str:
    machine = results["machine"]
    return f"`{results['command']}` on Python {machine['python']}, {machine['cpus']} cores"


def write(results: dict, others: list[dict] | None = None) -> list[Path]:
    """Rewrite the marked sections of docs/benchmark.md and the README; returns the files changed.

    `others`: runs on other interpreters, each written to docs/benchmark.md's `tables-pythonX.Y`."""
    every = tables(results)
    sections = {
        DOCS: {"tables": f"{_run(results)}:\n\n" + "\n".join(markdown(*t) for t in every)},
        README: {"headline": "\n".join(markdown(*t) for t in (every[0], every[1], every[-1]))},
    }
    for other in others or []:
        version = ".".join(other["machine"]["python"].split(".")[:2])
        sections[DOCS][f"tables-python{version}"] = f"{_run(other)}:\n\n" + "\n".join(
            markdown(*t) for t in tables(other)
        )
    changed = []
    for path, replacements in sections.items():
        if not path.exists():
            continue
        text = path.read_text()
        for name, body in replacements.items():
            pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.DOTALL)
            text, found = pattern.subn(_keeping_markers(body), text)
            if not found:
                raise RuntimeError(f"{path.relative_to(ROOT)} has no <!-- bench:{name} --> section to write")
        path.write_text(text)
        changed.append(path)
    return changed


if __name__ == "__main__":  # python -m bench.report [RESULTS.json [OTHER.json…]]: rewrite the docs' tables
    import json
    import sys

    main, *others = [Path(p) for p in sys.argv[1:]] or [ROOT / "bench" / "results.json"]
    for written in write(json.loads(main.read_text()), [json.loads(p.read_text()) for p in others]):
        print(f"wrote the tables in {written.relative_to(ROOT)}")
