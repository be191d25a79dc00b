"""`usabtest export` and `usabtest import`: the whole database in one archive, and back."""

from pathlib import Path

import click
from flask import current_app

from usabtest.config import recordings_dir
from usabtest.core import backup
from usabtest.core.operations import migration_heads


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The archive to write (.tar.gz).")
def export_command(out: Path) -> None:
    """Write all data (published reports and screenshots included) into one archive.

    Uploaded session recordings stay in the recordings folder (the archive keeps their rows): copy it too.
    """
    current, code = migration_heads()
    if current != code:
        raise click.ClickException("the database is not at the code's migration head: "
                                   "run `usabtest db upgrade` first")
    counts = backup.export_archive(out, ",".join(sorted(code)))
    click.echo(f"Wrote {out}: {sum(counts.values())} rows in {len(counts)} tables.")
    _mention_recordings(counts)


@click.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(archive: Path) -> None:
    """Load ARCHIVE into this empty database (SQLite or PostgreSQL); a database with data is refused."""
    try:
        manifest, members = backup.read_archive(archive)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not backup.database_is_empty():
        raise click.ClickException("this database already holds data: import only into an empty one")
    from flask_migrate import upgrade  # Alembic only for the command that migrates: see `extensions`

    upgrade(directory=current_app.extensions["migrate"].directory)
    _current, code = migration_heads()
    if manifest["migration"] != ",".join(sorted(code)):
        raise click.ClickException(
            f"the archive was written at migration {manifest['migration']}, this version is at "
            f"{','.join(sorted(code))}: import it with the version that wrote it, then upgrade")
    try:
        counts = backup.import_archive(manifest, members)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Loaded {sum(counts.values())} rows into {len(counts)} tables from {archive}.")
    _mention_recordings(counts)


def _mention_recordings(counts: dict[str, int]) -> None:
    """Session recordings' files can be gigabytes: they stay in their folder, outside the archive."""
    if counts.get("session_recording"):
        click.echo(f"{counts['session_recording']} session recordings: the archive holds their links and "
                   "details, not uploaded files. Copy the recordings folder "
                   f"({recordings_dir(current_app)}) together with the archive.")
