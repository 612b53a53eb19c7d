"""The four times stay apart (shared/DESIGN.md §1): who may import whom."""

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
