"""`usabtest purge-deleted`: delete for good what has been in Recently deleted for 30 days (run daily)."""

import click

from usabtest.analysis import trash
from usabtest.extensions import db


@click.command("purge-deleted")
@click.option("--days", default=trash.RETENTION_DAYS, show_default=True, type=click.IntRange(min=1),
              help="Purge what was deleted more than this many days ago.")
def purge_deleted_command(days: int) -> None:
    """Delete for good the findings (with their screenshots) and notes deleted more than DAYS days ago."""
    try:
        result = trash.purge(days=days)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo(f"Purged {result.findings} finding{'s' if result.findings != 1 else ''} "
               f"({result.screenshots} screenshot{'s' if result.screenshots != 1 else ''}) and "
               f"{result.notes} note{'s' if result.notes != 1 else ''} deleted before "
               f"{result.before:%Y-%m-%d %H:%M} UTC.")
