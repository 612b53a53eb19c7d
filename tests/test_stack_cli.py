"""`tracectl stack` without the built tools: one clear line, exit 2, nothing started."""

from __future__ import annotations

from click.testing import CliRunner

from tracectl.cli import main
from tracectl.tools import builds


def test_stack_without_the_built_binaries_says_run_make_tools(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(builds, "BIN", tmp_path / "bin")  # GIVEN no .tools/bin
    result = CliRunner().invoke(main, ["stack", "--exporter", "both", "--work-dir", str(tmp_path / "stack")])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert "otelcol-lambda is missing: run make tools" in line
    assert not (tmp_path / "stack").exists()  # nothing was started


def test_stack_refuses_an_exporter_it_has_no_config_for() -> None:
    result = CliRunner().invoke(main, ["stack", "--exporter", "zipkin"])
    assert result.exit_code == 2
    assert "'zipkin' is not one of 'xray', 'jaeger', 'both'" in result.output
