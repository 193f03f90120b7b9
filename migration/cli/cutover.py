"""`safestats-migrate cutover [freeze]`: the go/no-go checklist, and the freeze of the legacy."""

from __future__ import annotations

import json

import typer

from migration import api
from migration.cli.confirm import confirm
from migration.cli.state import state
from migration.errors import CheckFailed


def register(app: typer.Typer) -> None:
    cut = typer.Typer(help="The cutover: go/no-go checklist (records nothing) and the freeze.",
                      invoke_without_command=True)
    app.add_typer(cut, name="cutover")

    @cut.callback()
    def checklist(ctx: typer.Context,
                  as_json: bool = typer.Option(False, "--json", help="Print the checklist as JSON.")) -> None:
        """Evaluate the go/no-go checklist; each item with its evidence. Exit 0 all green, 1 otherwise."""
        if ctx.invoked_subcommand is not None:
            return

        st = state(ctx)
        cl = api.cutover_checklist(st.settings)
        if as_json:
            typer.echo(json.dumps(cl.to_dict(), indent=2, ensure_ascii=False))
        else:
            st.console.table("Cutover go/no-go", ["item", "", "evidence"],
                             [(i.name, "OK" if i.ok else "NO", i.evidence) for i in cl.items])
        if not cl.green:
            first = next(i for i in cl.items if not i.ok)
            raise CheckFailed(f"no-go: {sum(not i.ok for i in cl.items)} item(s) not met; first: {first.name}: "
                              f"{first.evidence}", hint="fix each item marked NO, then `safestats-migrate cutover` "
                                                        "again")
        st.console.info("GO: every item is green (`safestats-migrate cutover go` records the decision)")

    @cut.command("go")
    def go_(ctx: typer.Context, yes: bool = typer.Option(False, "--yes", help="Do not ask (required when not on a "
                                                                              "terminal).")) -> None:
        """Check again under the lock, record the go decision, then run the post-cutover checks."""

        confirm("record the cutover decision (after it, run, run --delta and rollback refuse)", yes=yes)
        st = state(ctx)
        g = api.cutover_go(st.settings)
        st.console.info(f"GO recorded (run {g.run_id}) by {g.actor} at {g.at:%Y-%m-%d %H:%M:%S%z} on "
                        f"{g.report['path']} (sha256 {g.report['sha256'][:16]}…)")
        st.console.table("Post-cutover checks", ["check", "", "evidence"],
                         [(i.name, "OK" if i.ok else "NO", i.evidence) for i in g.post])
        if not g.post_ok:
            first = next(i for i in g.post if not i.ok)
            raise CheckFailed(f"post-cutover check failed: {first.name}: {first.evidence}",
                              hint="the go is recorded; fix the target before the application connects "
                                   "(runbooks/cutover.md)")

    @cut.command("post-checks")
    def post_checks_(ctx: typer.Context) -> None:
        """Run the post-cutover checks again (sequences, rows per dataset, row-level security)."""

        st = state(ctx)
        go_event, items = api.cutover_post_checks(st.settings)
        st.console.table(f"Post-cutover checks (go of run {go_event['run_id']})", ["check", "", "evidence"],
                         [(i.name, "OK" if i.ok else "NO", i.evidence) for i in items])
        if not all(i.ok for i in items):
            first = next(i for i in items if not i.ok)
            raise CheckFailed(f"post-cutover check failed: {first.name}: {first.evidence}",
                              hint="fix the target before the application connects (runbooks/cutover.md)")

    @cut.command("freeze")
    def freeze_(ctx: typer.Context) -> None:
        """Record the freeze: the legacy's rows, highest keys, watermarks and key-set digests, now."""
        st = state(ctx)
        f = api.cutover_freeze(st.settings)
        st.console.info(f"freeze recorded (run {f.run_id}) by {f.actor} at {f.at:%Y-%m-%d %H:%M:%S%z}: "
                        f"{len(f.tables)} legacy tables, {sum(t['rows'] for t in f.tables.values()):,} rows")
