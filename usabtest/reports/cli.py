"""`usabtest report ...`: build and publish reports from the command line."""

from pathlib import Path

import click
import sqlalchemy as sa

from usabtest.accounts.models import Role, User
from usabtest.core.errors import DomainError
from usabtest.core.mail import wait_for_outbox
from usabtest.extensions import db
from usabtest.planning.models import Study
from usabtest.reports import checks, services

PAGE_SIZE = click.Choice(["A4", "Letter"], case_sensitive=False)


def _study(study_id: int) -> Study:
    study = db.session.get(Study, study_id)
    if study is None:
        raise click.ClickException(f"no study with id {study_id}")
    return study


def _page_size(value: str) -> str:
    return "Letter" if value.lower() == "letter" else "A4"


@click.group("report")
def report() -> None:
    """Build and publish study reports."""


@report.command("build")
@click.argument("study_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the PDF.")
@click.option("--page-size", default="A4", type=PAGE_SIZE, show_default=True)
def build_command(study_id: int, out: Path, page_size: str) -> None:
    """Render the current draft of STUDY_ID's report to a PDF file."""
    data = services.render_draft(_study(study_id), _page_size(page_size))
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote {out} ({len(data):,} bytes).")


@report.command("publish")
@click.argument("study_id", type=int)
@click.option("--note", default="", help="What changed since the previous version.")
@click.option("--by", "by_email", default=None, help="Email of the researcher publishing (for the record).")
@click.option("--page-size", default="A4", type=PAGE_SIZE, show_default=True)
@click.option("--reason", default="", help="Why the version is published although the pre-publish check "
              "finds gaps (required then; kept with the version).")
def publish_command(study_id: int, note: str, by_email: str | None, page_size: str, reason: str) -> None:
    """Freeze STUDY_ID's report as its next published version and notify the client.

    The pre-publish check runs first: with gaps, --reason must say why the version goes out anyway.
    """
    study = _study(study_id)
    publisher = None
    if by_email:
        publisher = db.session.scalar(sa.select(User).where(User.email == by_email.strip().lower()))
        if publisher is None or publisher.role not in (Role.ADMIN, Role.RESEARCHER):
            raise click.ClickException(f"no researcher or admin with email {by_email}")
    try:
        published = services.publish(study, publisher, _page_size(page_size), note, gap_reason=reason)
    except DomainError as exc:
        db.session.rollback()
        gaps = checks.check_study(study).gaps if exc.field == "gap_reason" else []
        raise click.ClickException("\n  - ".join([exc.message, *gaps])) from exc
    mailed = services.notify_clients(published)
    db.session.commit()
    wait_for_outbox()
    click.echo(f"Published version {published.version} of study {study.id} "
               f"(sha256 {published.sha256[:12]}…, {len(published.pdf):,} bytes).")
    if mailed:
        click.echo(f"Notified {mailed} client user(s).")
