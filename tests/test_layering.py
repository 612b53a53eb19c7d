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
        "import sys, tracectl.cli, tracectl.local_run, tracectl.compare, tracectl.xray_source, tracectl.jaeger_source;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'cdk_nag')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


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
