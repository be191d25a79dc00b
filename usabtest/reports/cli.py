"""`usabtest report ...`: build, publish and withdraw reports from the command line."""

from pathlib import Path

import click
import sqlalchemy as sa

from usabtest.accounts.models import Role, User
from usabtest.core.errors import DomainError
from usabtest.core.mail import wait_for_outbox
from usabtest.extensions import db
from usabtest.planning.models import Study
from usabtest.reports import checks, services
from usabtest.reports.models import PublishedReport

PAGE_SIZE = click.Choice(["A4", "Letter"], case_sensitive=False)


def _study(study_id: int) -> Study:
    study = db.session.get(Study, study_id)
    if study is None:
        raise click.ClickException(f"no study with id {study_id}")
    return study


def _page_size(value: str) -> str:
    return "Letter" if value.lower() == "letter" else "A4"


def _researcher(email: str | None) -> User | None:
    if not email:
        return None
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None or user.role not in (Role.ADMIN, Role.RESEARCHER):
        raise click.ClickException(f"no researcher or admin with email {email}")
    return user


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
    publisher = _researcher(by_email)
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


@report.command("withdraw")
@click.argument("study_id", type=int)
@click.argument("version", type=int)
@click.option("--reason", required=True, help="Why it is withdrawn (kept with it, mailed to the client).")
@click.option("--by", "by_email", default=None, help="Email of the researcher withdrawing (for the record).")
def withdraw_command(study_id: int, version: int, reason: str, by_email: str | None) -> None:
    """Withdraw VERSION of STUDY_ID's report: the client no longer sees it and its share links stop."""
    study = _study(study_id)
    actor = _researcher(by_email)
    published = db.session.scalar(sa.select(PublishedReport).where(
        PublishedReport.study_id == study.id, PublishedReport.version == version))
    if published is None:
        raise click.ClickException(f"study {study.id} has no published version {version}")
    try:
        services.withdraw(published, actor, reason)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    mailed = services.notify_withdrawal(published)
    db.session.commit()
    wait_for_outbox()
    click.echo(f"Withdrew version {version} of study {study.id}.")
    if mailed:
        click.echo(f"Told {mailed} client user(s).")
