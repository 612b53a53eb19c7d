"""Trace ids: the same 128-bit id as 32 hex (W3C, Jaeger) and `1-<8 hex>-<24 hex>` (X-Ray)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from functions.tracing import from_xray_id, to_xray_id
from tests.trace_documents import TRACE
from tracectl.cli import main


@pytest.mark.parametrize("hex_id", [TRACE, "0" * 32, "f" * 32, "5f8a1b2c0af7651916cd43dd8448eb21"])
def test_ids_round_trip(hex_id: str) -> None:
    xray_id = to_xray_id(hex_id)
    assert xray_id == f"1-{hex_id[:8]}-{hex_id[8:]}"
    assert from_xray_id(xray_id) == hex_id
    assert to_xray_id(int(hex_id, 16)) == xray_id


@pytest.mark.parametrize(
    "bad",
    ["", "1-abc-def", "2-6b032926-5bf6e192d56ebd46172c790f", "1-6b032926-5bf6e192d56ebd46172c790", "xyz", "1-" * 20],
)
def test_malformed_ids_are_rejected_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match="trace id"):
        from_xray_id(bad) if bad.startswith(("1-", "2-")) else to_xray_id(bad)
    result = CliRunner().invoke(main, ["id", bad or "''"])
    assert result.exit_code == 2
    assert "use 32 hex digits or an X-Ray id" in result.output


def test_id_command_prints_both_forms_and_deep_links() -> None:
    result = CliRunner().invoke(main, ["id", f"1-{TRACE[:8]}-{TRACE[8:]}", "--region", "eu-west-1", "--json"])
    links = json.loads(result.output)
    assert links["trace_id"] == TRACE
    assert links["xray_console"].endswith(f"region=eu-west-1#xray:traces/1-{TRACE[:8]}-{TRACE[8:]}")
    assert links["jaeger_ui"] == f"http://127.0.0.1:16686/trace/{TRACE}"
