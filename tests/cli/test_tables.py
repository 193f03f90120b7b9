"""Tables keep every word whole at any width: narrowed columns, then no outer box, then one
block per row (the COLUMNS=80 defect: `UNRESOLV│ED_BOROU│GH`)."""

from __future__ import annotations

import io

import pytest

from migration.console import RichConsole

COLUMNS = ["stage", "table", "reason", "rows", "blank business key", "runs"]
ROWS = [("mps_crime", "tblMPSCrime", "UNRESOLVED_BOROUGH", "1,234", "0", "12,13"),
        ("transport_crime", "tblTransportCrime", "INVALID_DATE_REPORTED", "12", "3", "14")]
WORDS = {w for r in ROWS for c in r for w in c.split()} | {"stage", "reason", "business"}


class _Out(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("width", [200, 100, 80, 60, 40])
def test_every_word_stays_whole_and_within_the_width(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    out = _Out()
    RichConsole(out=out).table("Quarantine", COLUMNS, ROWS)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width, text
    tokens = set(text.replace("│", " ").replace("┃", " ").replace(":", " ").split())
    assert WORDS <= tokens, (WORDS - tokens, text)
    if width >= 100:
        assert "┏" in text  # the boxed table while it fits
    if width <= 60:
        assert "reason: UNRESOLVED_BOROUGH" in text  # one block per row


def test_without_columns_set_a_pipe_gets_160(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert RichConsole(out=_Out())._out.width == 160
