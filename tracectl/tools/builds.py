"""Build the local run's real parts from their pinned Go modules: `python -m tracectl.tools [NAME …]`.

Three binaries land in `.tools/bin/` (git-ignored):
- `aws-lambda-rie`: AWS's Lambda Runtime Interface Emulator, from the wrapper module in
  `tracectl/tools/gomod/rie`; every local run executes each function under it (`make demo` needs only this);
- `otelcol-lambda`: the OpenTelemetry Collector with exactly the ADOT Lambda layer's components,
  built by the OpenTelemetry Collector Builder from `collector/local/otelcol-builder.yaml`;
- `jaeger`: Jaeger v2 all-in-one, from the wrapper module in `tracectl/tools/gomod/jaeger`.

Every module is verified against go.sum files committed here (`tracectl/tools/gomod/`); the checksum
database is not consulted, so a module the proxy serves differently fails the build. Each binary
is cached outside the repository under the hash of its own pins and of the Go version: a rebuild
happens only when one of its pins changes. `--update-pins` rewrites the collector's go.sum after a
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "collector" / "local" / "otelcol-builder.yaml"
GOMOD = Path(__file__).resolve().parent / "gomod"
COLLECTOR_SUM = GOMOD / "otelcol-lambda" / "go.sum"
BIN = ROOT / ".tools" / "bin"
COLLECTOR = "otelcol-lambda"
JAEGER = "jaeger"
RIE = "aws-lambda-rie"
# Jaeger's Go module has no /v2 suffix: its release v2.13.0 is the module version v1.76.0.
JAEGER_RELEASE, JAEGER_MODULE_VERSION = "2.13.0", "v1.76.0"
# The emulator's go.mod asks for this Go (the collector and Jaeger need 1.24).
GO_NEEDED = "1.26.6"


class ToolsError(RuntimeError):
    """A build step failed; the message says which and how to go on."""


@dataclass(frozen=True)
class Build:
    """Where one build happens: `target` (the cache entry), Go's environment, the log, the pins mode."""

    target: Path
    env: dict[str, str]
    log: Path
    update_pins: bool

    @property
    def bin(self) -> Path:
        return self.target / "bin"


@dataclass(frozen=True)
class Tool:
    name: str
    """The binary's name in .tools/bin."""
    pins: tuple[Path, ...]
    """Every file whose content decides the build (its cache key)."""
    build: Callable[[Build], None]
    """Compiles `name` into `Build.bin`."""


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


def _stamp(name: str) -> Path:
    return BIN / f".{name}.pins"


def installed(*names: str) -> bool:
    """True when every named binary (all three by default) is in .tools/bin, built from its current pins."""
    for name in names or tuple(TOOLS):
        stamp = _stamp(name)
        if not (binary(name).exists() and stamp.exists() and stamp.read_text() == pins_key(TOOLS[name])):
            return False
    return True


def go_version() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolsError(f"Go ≥ {GO_NEEDED} is not installed: the emulator, collector and Jaeger are Go modules")
    return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()


def pins_key(tool: Tool) -> str:
    digest = hashlib.sha256(tool.name.encode())
    for pin in tool.pins:
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


def _run(command: list[str], cwd: Path, build: Build, what: str, *, env: dict[str, str] | None = None) -> None:
    with build.log.open("a") as out:
        out.write(f"\n$ (cd {cwd} && {' '.join(command)})\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env or build.env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = build.log.read_text().strip().splitlines()[-5:]
        raise ToolsError(f"{what} failed (exit {done.returncode}); last lines of {build.log}:\n" + "\n".join(tail))


def _go_build(module_dir: Path, package: str, output: Path, build: Build, what: str) -> None:
    """`go build` of `package` as the wrapper module in `module_dir` pins it (go.mod + go.sum)."""
    command = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(output), package]
    _run(command, module_dir, build, what)


def _build_collector(build: Build) -> None:
    ocb = build.target / "ocb"
    builder = "go.opentelemetry.io/collector/cmd/builder"
    _go_build(GOMOD / "builder", builder, ocb, build, "building the Collector Builder")
    source = build.target / "otelcol-src"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["dist"]["output_path"] = str(source)
    manifest_copy = build.target / "builder-config.yaml"
    manifest_copy.write_text(yaml.safe_dump(manifest, sort_keys=False))
    # Generate the sources, put our go.sum beside them, then let the builder tidy and compile:
    # `go mod tidy` verifies every module it already has a sum for against ours.
    generate = [str(ocb), "--config", str(manifest_copy), "--skip-compilation", "--skip-get-modules"]
    _run(generate, build.target, build, "generating the collector's sources")
    if COLLECTOR_SUM.exists() and not build.update_pins:
        shutil.copyfile(COLLECTOR_SUM, source / "go.sum")
    tidy_env = {**build.env, "GOFLAGS": "-mod=mod -buildvcs=false"}  # tidy writes go.mod; sums are checked below
    compile_ = [str(ocb), "--config", str(manifest_copy), "--skip-generate"]
    _run(compile_, build.target, build, "building the collector", env=tidy_env)
    produced = (source / "go.sum").read_text()
    if build.update_pins or not COLLECTOR_SUM.exists():
        COLLECTOR_SUM.parent.mkdir(parents=True, exist_ok=True)
        COLLECTOR_SUM.write_text(produced)
    elif produced != COLLECTOR_SUM.read_text():
        raise ToolsError(
            f"the collector's modules no longer match {shown(COLLECTOR_SUM)}: "
            "if you changed a version in collector/local/otelcol-builder.yaml on purpose, run "
            "`python -m tracectl.tools --update-pins` and commit the new go.sum"
        )
    shutil.copy2(source / COLLECTOR, build.bin / COLLECTOR)


def _wrapper_tool(name: str, directory: str, package: str, what: str) -> Tool:
    module_dir = GOMOD / directory
    return Tool(
        name,
        (module_dir / "go.mod", module_dir / "go.sum"),
        lambda build: _go_build(module_dir, package, build.bin / name, build, what),
    )


TOOLS: dict[str, Tool] = {
    RIE: _wrapper_tool(
        RIE, "rie", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie", "building the emulator"
    ),
    COLLECTOR: Tool(
        COLLECTOR,
        (MANIFEST, COLLECTOR_SUM, GOMOD / "builder" / "go.mod", GOMOD / "builder" / "go.sum"),
        _build_collector,
    ),
    JAEGER: _wrapper_tool(JAEGER, "jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger", "building Jaeger"),
}


def build(*names: str, update_pins: bool = False, say: Callable[[str], None] = print) -> Path:
    """Build (or reuse from the cache) the named binaries, all by default, into .tools/bin. Returns BIN."""
    for name in names or tuple(TOOLS):
        _build_one(TOOLS[name], update_pins=update_pins and name == COLLECTOR, say=say)
    return BIN


def _build_one(tool: Tool, *, update_pins: bool, say: Callable[[str], None]) -> None:
    if installed(tool.name) and not update_pins:
        say(f"{tool.name} is current in {shown(BIN)} (pins {pins_key(tool)})")
        return
    go_version()  # a clear error before anything else when Go is missing
    key = pins_key(tool)
    target = cache_root() / f"{tool.name}-{key}"
    if update_pins or not (target / "bin" / tool.name).exists():
        started = time.monotonic()
        step = Build(target, _go_env(), target / "build.log", update_pins)
        step.bin.mkdir(parents=True, exist_ok=True)
        step.log.write_text("")
        say(f"building {tool.name} from pinned Go modules into {target} (log: {step.log})")
        tool.build(step)
        say(f"  {tool.name} built ({time.monotonic() - started:.0f} s)")
        key = pins_key(tool)  # --update-pins may have rewritten the collector's go.sum
        if target != cache_root() / f"{tool.name}-{key}":
            shutil.rmtree(cache_root() / f"{tool.name}-{key}", ignore_errors=True)
            target = target.rename(cache_root() / f"{tool.name}-{key}")
    BIN.mkdir(parents=True, exist_ok=True)
    shutil.copy2(target / "bin" / tool.name, binary(tool.name))
    _stamp(tool.name).write_text(key)
    say(f"{tool.name} installed in {shown(BIN)} (pins {key}, from {target})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracectl.tools", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"what to build: {', '.join(TOOLS)} (default: all)")
    parser.add_argument("--update-pins", action="store_true", help="rewrite the collector's go.sum from this build")
    parser.add_argument("--check", action="store_true", help="exit 0 if the installed tools match the pins, else 1")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in TOOLS]
    if unknown:
        parser.error(f"unknown tool {unknown[0]}: use one of {', '.join(TOOLS)}")
    if args.check:
        return 0 if installed(*args.names) else 1
    try:
        build(*args.names, update_pins=args.update_pins)
    except ToolsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0

