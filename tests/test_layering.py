"""The four times stay apart (docs/architecture.md): who may import whom."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

NEVER = {
    "functions": ("aws_cdk", "constructs", "cdk_nag", "infra", "tracectl"),
    "infra": ("functions", "tracectl"),
    "tracectl": ("aws_cdk", "constructs", "cdk_nag"),
}


def imported_modules(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder", NEVER)
def test_no_forbidden_imports(folder: str) -> None:
    offenders = []
    for path in (ROOT / folder).rglob("*.py"):
        for module in imported_modules(path):
            if module.split(".")[0] in NEVER[folder]:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_tracectl_never_loads_the_cdk_at_import() -> None:
    code = (
        "import sys, tracectl.cli, tracectl.emulation.local_run, tracectl.traces.compare, tracectl.traces.xray_source,"
        " tracectl.traces.jaeger_source;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'cdk_nag')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


# tracectl's rooms (docs/architecture.md, "tracectl"): the rooms each may import.
ROOMS = {
    "tools": set(),
    "traces": set(),
    "emulation": {"traces", "tools"},
    "pipeline": {"tools", "traces", "emulation"},
    "aws": {"traces"},
    "view": {"traces"},
    "commands": {"tools", "traces", "emulation", "pipeline", "aws", "view"},
}
LOOSE = {"cli", "emulator_identity", "http_relay", "processes", "stats"}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "tracectl" and len(parts) > 1 else None


def test_tracectl_is_rooms_and_a_few_loose_modules() -> None:
    top = {p.stem for p in (ROOT / "tracectl").glob("*.py")} - {"__init__"}
    rooms = {p.name for p in (ROOT / "tracectl").iterdir() if (p / "__init__.py").exists()}
    assert (top, rooms) == (LOOSE, set(ROOMS))


def test_each_tracectl_room_imports_only_the_rooms_it_may() -> None:
    offenders = []
    for room, allowed in ROOMS.items():
        for path in (ROOT / "tracectl" / room).rglob("*.py"):
            for module in imported_modules(path) | _imported_anywhere(path):
                other = _room(module)
                if other and other != room and other not in LOOSE and other not in allowed:
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_command_modules_share_through_options_and_output_only() -> None:
    offenders = []
    for path in (ROOT / "tracectl" / "commands").glob("*.py"):
        for module in imported_modules(path) | _imported_anywhere(path):
            if module.startswith("tracectl.commands.") and module.split(".")[2] not in ("options", "output"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_no_module_is_over_400_lines_and_no_import_circle_in_tracectl() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for folder in ("functions", "infra", "tracectl", "bench")
        for p in (ROOT / folder).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    ]
    assert long == []
    graph = {
        _module_name(p): {m for m in imported_modules(p) if m.startswith("tracectl.")}
        for p in (ROOT / "tracectl").rglob("*.py")
    }
    assert_no_import_circle(graph)


def assert_no_import_circle(graph: dict[str, set[str]]) -> None:
    """Fails naming the circle if one module of `graph` ({module: modules it imports}) imports itself back."""
    visiting: list[str] = []

    def walk(module: str, done: set[str]) -> None:
        assert module not in visiting, "import circle: " + " → ".join([*visiting[visiting.index(module):], module])
        if module in done:
            return
        visiting.append(module)
        for imported in graph.get(module, ()):
            walk(imported, done)
        visiting.pop()
        done.add(module)

    done: set[str] = set()
    for module in graph:
        walk(module, done)


def _module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_anywhere(path) -> set[str]:
    """Modules `from tracectl import x` names as `tracectl.x` (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("tracectl"):
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _tracing_imports(path) -> set[str]:
    """The functions.tracing modules `path` imports, anywhere in it (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "functions.tracing":
                found.update(f"functions.tracing.{a.name}" for a in node.names if a.name.startswith("_"))
                found.add("functions.tracing")
            elif node.module.startswith("functions.tracing."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("functions.tracing"))
    return found


def test_the_tracing_package_imports_no_module_back() -> None:
    """No import circle inside functions/tracing: state lives in one leaf module, _state."""
    package = ROOT / "functions" / "tracing"
    graph = {
        f"functions.tracing.{p.stem}": _tracing_imports(p) - {"functions.tracing"}
        for p in package.glob("_*.py")
        if p.stem != "__init__"
    }
    assert_no_import_circle(graph)
    assert graph["functions.tracing._state"] == set()  # the leaf every other module may import


def test_everything_outside_the_tracing_package_uses_its_one_door() -> None:
    offenders = []
    for folder in ("functions", "tracectl", "bench", "infra"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "functions" / "tracing"):
                continue
            inner = _tracing_imports(path) - {"functions.tracing"}
            offenders += [f"{path.relative_to(ROOT)} imports {m}" for m in inner]
    assert offenders == []


def test_the_tracing_package_keeps_its_internals_private() -> None:
    public = {p.name for p in (ROOT / "functions" / "tracing").glob("*.py")} - {"__init__.py"}
    assert all(name.startswith("_") for name in public), public


def test_the_repository_cites_nothing_it_does_not_contain() -> None:
    """Relative links in the README and docs/ resolve; no file points at documents kept elsewhere."""
    import re
    import subprocess as sp

    tracked = sp.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = [p for p in tracked if (ROOT / p).is_file() and re.search(r"shared/(DESIGN|STYLE)", _text(ROOT / p))]
    assert outside == []
    broken = []
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert broken == []


def _text(path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        return ""
