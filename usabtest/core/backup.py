"""Backup and restore: every table of the database in one archive, with a manifest and checksums.

The archive is a gzip-compressed tar holding `manifest.json`, one `tables/<table>.jsonl` per table
(rows in primary-key order, one JSON object per line) and `files/...` for binary values (published
report PDFs, screenshots), each named in the manifest with its SHA-256. Values are written the same
way from SQLite and PostgreSQL and the archive carries no time stamps, so exporting what an import
loaded gives the same bytes again.

An import goes into an empty database (the schema is created when missing) whose code is at the
archive's migration head, in one transaction: rows first without the references that point to rows
not loaded yet (an organisation's creator, say), which are filled in afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from usabtest.extensions import db

FORMAT = "usabtest-backup/1"


class BackupError(Exception):
    """The archive cannot be written or loaded here; the message says why."""


# --- values ------------------------------------------------------------------------------------


def _encode(column: sa.Column, value: Any, file_name: str, files: dict[str, bytes]) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.LargeBinary):
        files[file_name] = bytes(value)
        return {"$file": file_name}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "value") and isinstance(column.type, sa.Enum):
        return value.value
    return value


def _decode(column: sa.Column, value: Any, files: dict[str, bytes]) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.LargeBinary):
        return files[value["$file"]]
    if isinstance(kind, sa.Enum) and kind.enum_class is not None:
        return kind.enum_class(value)
    python_type = _python_type(kind)
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    return value


def _python_type(kind: sa.types.TypeEngine) -> type | None:
    impl = getattr(kind, "impl", kind)
    try:
        return impl.python_type
    except NotImplementedError:
        return None


# --- export ------------------------------------------------------------------------------------


def _rows(connection: sa.Connection, table: sa.Table) -> Iterator[sa.Row]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = connection.execution_options(yield_per=500).execute(sa.select(table).order_by(*order))
    yield from result


def _row_name(table: sa.Table, row: sa.Row) -> str:
    return "-".join(str(row._mapping[c.name]) for c in table.primary_key.columns) or "row"


def export_archive(out: Path, revision: str) -> dict[str, int]:
    """Write every table into the archive `out`; returns the row count per table."""
    members: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            lines, files = [], {}
            for row in _rows(connection, table):
                name = _row_name(table, row)
                lines.append(json.dumps({
                    column.name: _encode(column, row._mapping[column.name],
                                         f"files/{table.name}/{name}.{column.name}", files)
                    for column in table.columns
                }, sort_keys=True, ensure_ascii=False, separators=(",", ":")))
            members[f"tables/{table.name}.jsonl"] = "".join(line + "\n" for line in lines).encode()
            members.update(files)
            counts[table.name] = len(lines)
    manifest = {
        "format": FORMAT, "migration": revision,
        "tables": [table.name for table in db.metadata.sorted_tables], "rows": counts,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(members.items())},
    }
    members["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    _write_tar(out, members)
    return counts


def _write_tar(out: Path, members: dict[str, bytes]) -> None:
    # Fixed owners, modes and times, and gzip without a time stamp: the same data, the same bytes.
    with open(out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in ["manifest.json", *sorted(n for n in members if n != "manifest.json")]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            archive.addfile(info, io.BytesIO(members[name]))


# --- import ------------------------------------------------------------------------------------


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every member of the archive at `path`, checksums verified."""
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            members = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{path} is not a usabtest backup archive: {exc}") from None
    try:
        manifest = json.loads(members.pop("manifest.json"))
    except (KeyError, ValueError):
        raise BackupError(f"{path} has no readable manifest.json") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} (this version reads {FORMAT})")
    expected = manifest.get("sha256", {})
    if set(expected) != set(members):
        raise BackupError("the archive's files do not match its manifest")
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != expected[name]:
            raise BackupError(f"{name} is damaged: its checksum does not match the manifest")
    return manifest, members


def database_is_empty() -> bool:
    """True when no application table holds a row (missing tables count as empty)."""
    inspector = sa.inspect(db.engine)
    present = set(inspector.get_table_names())
    with db.engine.connect() as connection:
        return not any(
            connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
            for table in db.metadata.sorted_tables if table.name in present
        )


def import_archive(manifest: dict[str, Any], members: dict[str, bytes]) -> dict[str, int]:
    """Load the archive's rows into this (empty, current) database in one transaction."""
    tables = {table.name: table for table in db.metadata.sorted_tables}
    unknown = set(manifest["tables"]) - set(tables)
    if unknown:
        raise BackupError(f"the archive has tables this version does not know: {', '.join(sorted(unknown))}")
    loaded: set[str] = set()
    later: list[tuple[sa.Table, dict[str, Any], dict[str, Any]]] = []
    counts: dict[str, int] = {}
    with db.engine.begin() as connection:
        for table in db.metadata.sorted_tables:
            forward = _forward_references(table, loaded)
            rows = [json.loads(line) for line in members.get(f"tables/{table.name}.jsonl", b"").splitlines()]
            values = [{c.name: _decode(c, row.get(c.name), members) for c in table.columns} for row in rows]
            for value in values:
                patch = {name: value[name] for name in forward if value[name] is not None}
                if patch:
                    later.append((table, _key(table, value), patch))
                    value.update(dict.fromkeys(patch))
            if values:
                connection.execute(table.insert(), values)
            loaded.add(table.name)
            counts[table.name] = len(values)
        for table, key, patch in later:
            condition = sa.and_(*(table.c[name] == value for name, value in key.items()))
            connection.execute(table.update().where(condition).values(patch))
        _restart_sequences(connection)
    return counts


def _forward_references(table: sa.Table, loaded: set[str]) -> set[str]:
    """Columns referring to a table not loaded before this one (or to this table itself)."""
    return {fk.parent.name for fk in table.foreign_keys
            if fk.column.table.name not in loaded and fk.parent.nullable}


def _key(table: sa.Table, value: dict[str, Any]) -> dict[str, Any]:
    return {column.name: value[column.name] for column in table.primary_key.columns}


def _restart_sequences(connection: sa.Connection) -> None:
    """PostgreSQL: each table's next id after the highest one loaded."""
    if connection.dialect.name != "postgresql":
        return
    quote = connection.dialect.identifier_preparer
    for table in db.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or _python_type(keys[0].type) is not int:
            continue
        name = quote.format_table(table)
        highest = f"SELECT COALESCE(MAX({quote.quote(keys[0].name)}), 0) + 1 FROM {name}"
        restart = f"SELECT setval(pg_get_serial_sequence(:table, :column), ({highest}), false)"
        connection.execute(sa.text(restart), {"table": name, "column": keys[0].name})
