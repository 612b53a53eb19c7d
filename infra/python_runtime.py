"""Which Lambda Python runtime the functions run on, and why that follows the Python that builds them.

Lambda's `/var/task` is read-only, so a module without bytecode the runtime's interpreter can use is
compiled again on every cold start (measured with callgrind on our bundle: 3.08 G instructions of
cold start instead of 1.48 G). Bytecode is only usable by the interpreter version that wrote it, so
by default the runtime is the version of the Python running `cdk synth`: the bundler then compiles
the bundle with that very interpreter. `-c pythonRuntime=3.X` picks another runtime; the bundle
then carries bytecode only if `python3.X` is on PATH.

No aws_cdk import: tracectl builds the same bundle for its local run.
"""

from __future__ import annotations

from datetime import date

# Lambda's Python runtimes and the day each one is (or is projected to be) deprecated, from AWS's
# "Lambda runtimes" table (checked 2026-12). After that day AWS no longer patches the runtime and
# soon refuses to create functions on it (3.10: creation blocked from 2027-02-01).
DEPRECATION = {
    "3.10": date(2026, 10, 31),
    "3.11": date(2027, 6, 30),
    "3.12": date(2028, 10, 31),
    "3.13": date(2029, 6, 30),
    "3.14": date(2029, 6, 30),
}
NEWEST = max(DEPRECATION, key=lambda v: tuple(int(p) for p in v.split(".")))
SNAPSTART_MINIMUM = "3.12"


def offered(today: date) -> list[str]:
    """The runtimes Lambda offers and still patches on `today`, oldest first."""
    return [version for version, deprecated in DEPRECATION.items() if today < deprecated]


def default_version(build_python: tuple[int, int], today: date) -> str:
    """The build Python's version when Lambda offers it, else the newest runtime (then no bytecode)."""
    version = f"{build_python[0]}.{build_python[1]}"
    return version if version in offered(today) else NEWEST


def identifier(version: str) -> str:
    """Lambda's runtime identifier, e.g. `python3.12`."""
    return f"python{version}"


def at_least(version: str, minimum: str) -> bool:
    return tuple(int(p) for p in version.split(".")) >= tuple(int(p) for p in minimum.split("."))
