"""Build the real pipeline's parts from their pinned Go modules: `python -m tracectl.tools`.

Two binaries land in `.tools/bin/` (git-ignored):
- `otelcol-lambda`: the OpenTelemetry Collector with exactly the ADOT Lambda layer's components,
  built by the OpenTelemetry Collector Builder from `collector/local/otelcol-builder.yaml`;
- `jaeger`: Jaeger v2 all-in-one, from the wrapper module in `tracectl/gomod/jaeger`.

Every module is verified against go.sum files committed here (`tracectl/gomod/`); the checksum
database is not consulted, so a module the proxy serves differently fails the build. A build is
cached outside the repository under the hash of every pin and of the Go version: a rebuild
happens only when a pin changes. `--update-pins` rewrites the collector's go.sum after a
deliberate version change in the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "collector" / "local" / "otelcol-builder.yaml"
GOMOD = ROOT / "tracectl" / "gomod"
COLLECTOR_SUM = GOMOD / "otelcol-lambda" / "go.sum"
PINS = (
    MANIFEST,
    COLLECTOR_SUM,
    GOMOD / "builder" / "go.mod",
    GOMOD / "builder" / "go.sum",
    GOMOD / "jaeger" / "go.mod",
    GOMOD / "jaeger" / "go.sum",
)
BIN = ROOT / ".tools" / "bin"
COLLECTOR = "otelcol-lambda"
JAEGER = "jaeger"
# Jaeger's Go module has no /v2 suffix: its release v2.13.0 is the module version v1.76.0.
JAEGER_RELEASE, JAEGER_MODULE_VERSION = "2.13.0", "v1.76.0"
STAMP = BIN / ".pins"


class ToolsError(RuntimeError):
    """A build step failed; the message says which and how to go on."""


def cache_root() -> Path:
    explicit = os.environ.get("TRACECTL_TOOLS_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "otel-tracer" / "tools"


def binary(name: str) -> Path:
    return BIN / name


def shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it: shorter in one-line messages."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def installed() -> bool:
    """True when both binaries are in .tools/bin and were built from the current pins."""
    return all(binary(n).exists() for n in (COLLECTOR, JAEGER)) and STAMP.exists() and STAMP.read_text() == pins_key()


def go_version() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolsError("Go is not installed: the collector and Jaeger are built from their Go modules")
    return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()


def pins_key() -> str:
    digest = hashlib.sha256()
    for pin in PINS:
        digest.update(pin.relative_to(ROOT).as_posix().encode())
        digest.update(pin.read_bytes() if pin.exists() else b"<missing>")
    try:
        digest.update(go_version().encode())
    except ToolsError:
        digest.update(b"no-go")
    return digest.hexdigest()[:16]


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            # Our go.sum files are the trust root: the checksum database is not asked (it does not
            # answer for these older modules here), and nothing may add or change a sum silently.
            "GOSUMDB": "off",
            "GOFLAGS": "-mod=readonly -buildvcs=false",
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
        }
    )
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"\n$ (cd {cwd} && {' '.join(command)})\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise ToolsError(f"{what} failed (exit {done.returncode}); last lines of {log}:\n" + "\n".join(tail))


def _build_builder(target: Path, env: dict[str, str], log: Path) -> Path:
    ocb = target / "ocb"
    command = ["go", "build", "-trimpath", "-o", str(ocb), "go.opentelemetry.io/collector/cmd/builder"]
    _run(command, GOMOD / "builder", env, "building the Collector Builder", log)
    return ocb


def _build_collector(ocb: Path, target: Path, env: dict[str, str], log: Path, *, update_pins: bool) -> None:
    source = target / "otelcol-src"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["dist"]["output_path"] = str(source)
    manifest_copy = target / "builder-config.yaml"
    manifest_copy.write_text(yaml.safe_dump(manifest, sort_keys=False))
    # Generate the sources, put our go.sum beside them, then let the builder tidy and compile:
    # `go mod tidy` verifies every module it already has a sum for against ours.
    _run([str(ocb), "--config", str(manifest_copy), "--skip-compilation", "--skip-get-modules"], target, env,
         "generating the collector's sources", log)
    if COLLECTOR_SUM.exists() and not update_pins:
        shutil.copyfile(COLLECTOR_SUM, source / "go.sum")
    tidy_env = {**env, "GOFLAGS": "-mod=mod -buildvcs=false"}  # tidy writes go.mod; sums are checked below
    _run([str(ocb), "--config", str(manifest_copy), "--skip-generate"], target, tidy_env, "building the collector", log)
    produced = (source / "go.sum").read_text()
    if update_pins or not COLLECTOR_SUM.exists():
        COLLECTOR_SUM.parent.mkdir(parents=True, exist_ok=True)
        COLLECTOR_SUM.write_text(produced)
    elif produced != COLLECTOR_SUM.read_text():
        raise ToolsError(
            f"the collector's modules no longer match {shown(COLLECTOR_SUM)}: "
            "if you changed a version in collector/local/otelcol-builder.yaml on purpose, run "
            "`python -m tracectl.tools --update-pins` and commit the new go.sum"
        )
    shutil.copy2(source / COLLECTOR, target / "bin" / COLLECTOR)


def _build_jaeger(target: Path, env: dict[str, str], log: Path) -> None:
    command = [
        "go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(target / "bin" / JAEGER),
        "github.com/jaegertracing/jaeger/cmd/jaeger",
    ]
    _run(command, GOMOD / "jaeger", env, "building Jaeger", log)


def build(*, update_pins: bool = False, say=print) -> Path:
    """Build (or reuse from the cache) both binaries and install them into .tools/bin. Returns BIN."""
    if installed() and not update_pins:
        say(f"tools are current in {shown(BIN)} (pins {pins_key()})")
        return BIN
    go_version()  # a clear error before anything else when Go is missing
    key = pins_key()
    target = cache_root() / key
    if update_pins or not all((target / "bin" / n).exists() for n in (COLLECTOR, JAEGER)):
        started = time.monotonic()
        (target / "bin").mkdir(parents=True, exist_ok=True)
        log = target / "build.log"
        log.write_text("")
        env = _go_env()
        say(f"building the collector and Jaeger from pinned Go modules into {target} (log: {log})")
        ocb = _build_builder(target, env, log)
        _build_collector(ocb, target, env, log, update_pins=update_pins)
        say(f"  collector built ({time.monotonic() - started:.0f} s)")
        _build_jaeger(target, env, log)
        say(f"  Jaeger built ({time.monotonic() - started:.0f} s)")
        key = pins_key()  # --update-pins may have rewritten the collector's go.sum
        if target != cache_root() / key:
            shutil.rmtree(cache_root() / key, ignore_errors=True)
            target = target.rename(cache_root() / key)
    BIN.mkdir(parents=True, exist_ok=True)
    for name in (COLLECTOR, JAEGER):
        shutil.copy2(target / "bin" / name, BIN / name)
    STAMP.write_text(key)
    say(f"tools installed in {shown(BIN)} (pins {key}, from {target})")
    return BIN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracectl.tools", description=__doc__.splitlines()[0])
    parser.add_argument("--update-pins", action="store_true", help="rewrite the collector's go.sum from this build")
    parser.add_argument("--check", action="store_true", help="exit 0 if the installed tools match the pins, else 1")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if installed() else 1
    try:
        build(update_pins=args.update_pins)
    except ToolsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
