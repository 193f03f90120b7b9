"""`safestats-migrate report sign [DIR] --as ROLE --name "…" [--incomplete]`."""

from __future__ import annotations

from pathlib import Path

import typer

from migration import api
from migration.cli.state import state


def register(group: typer.Typer) -> None:
    @group.command("sign")
    def sign(
        ctx: typer.Context,
        folder: Path | None = typer.Argument(None, metavar="DIR",
                                             help="The report folder (default: the newest report under the "
                                                  "reports folder)."),
        role: str = typer.Option(..., "--as", help="The signer's role, e.g. QA."),
        name: str = typer.Option(..., "--name", help="The signer's name."),
        incomplete: bool = typer.Option(False, "--incomplete",
                                        help="Sign although the verdict is not PASS or quarantine is undecided; "
                                             "the signature records it."),
    ) -> None:
        """Append a sign-off record (name, role, user@host, time, the report's digest) to the ledger."""
        st = state(ctx)
        rep, sig = api.sign_report(st.settings, folder, name=name, role=role, incomplete=incomplete)
        st.console.table(f"Signed: {sig.verdict}" + (" (INCOMPLETE)" if sig.incomplete else ""),
                         ["signature", "name", "role", "who", "when", "report sha256"],
                         [(sig.signature_id, sig.name, sig.role, sig.actor, f"{sig.at:%Y-%m-%d %H:%M:%S %Z}",
                           sig.report_sha256)])
        st.console.info(f"{rep.path}: a ledger record, not a cryptographic signature")
