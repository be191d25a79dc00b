"""A session's recording: an external link, or an audio or video file kept in the recordings folder.

Files live outside the database, in `RECORDINGS_DIR` (default: `recordings` in the instance folder),
which several app servers may share (a network mount): an upload is written to a temporary file in
that folder and renamed into place in one step, so no server ever sees half a file, and its name is
a random key, never the uploader's file name. What a file is comes from its first bytes, not from
its name or the browser's word for it.

A replaced or removed file is deleted only once the transaction that let go of it commits; a file
stored by a transaction that is rolled back is deleted at once. Services here flush; the caller commits.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, selectinload

from usabtest.config import recordings_dir
from usabtest.core.errors import DomainError, InvalidInput
from usabtest.extensions import db
from usabtest.observe.models import Note, RecordingKind, SessionRecording, TaskAttempt

if TYPE_CHECKING:
    from usabtest.accounts.models import User
    from usabtest.planning.models import StudySession

MAX_URL = 2000
# The session's start may lie up to a day into the recording (or before it, when it began late).
MAX_OFFSET_MS = 24 * 3600 * 1000
SNIFF_BYTES = 64
CHUNK = 1024 * 1024
_DELETE_ON_COMMIT = "usabtest_recordings_delete_on_commit"
_DELETE_ON_ROLLBACK = "usabtest_recordings_delete_on_rollback"


class TooLarge(DomainError):
    """An upload over the configured size limit (413)."""

    status = 413


# --- what a file is, from its first bytes ---------------------------------------------------------

def _iso_media(head: bytes) -> str | None:
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    return "video/quicktime" if brand == b"qt  " else "video/mp4"


def _riff_media(head: bytes) -> str | None:
    return "audio/wav" if head[:4] == b"RIFF" and head[8:12] == b"WAVE" else None


def _ebml_media(head: bytes) -> str | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    return "video/webm" if b"webm" in head else "video/x-matroska"


def _ogg_media(head: bytes) -> str | None:
    if head[:4] != b"OggS":
        return None
    return "video/ogg" if b"theora" in head else "audio/ogg"


def _mpeg_audio(head: bytes) -> str | None:
    if head[:3] == b"ID3":
        return "audio/mpeg"
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    # Frame sync: layer bits 00 mean AAC in an ADTS stream, any other layer is MPEG audio (MP3).
    return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"


def _flac(head: bytes) -> str | None:
    return "audio/flac" if head[:4] == b"fLaC" else None


_SNIFFERS = (_iso_media, _riff_media, _ebml_media, _ogg_media, _flac, _mpeg_audio)
ACCEPTED_KINDS = "MP4, M4A, MOV, WebM, Matroska, Ogg, MP3, AAC, WAV or FLAC"


def media_type(head: bytes) -> str | None:
    """The media type the file's first bytes show (`audio/...` or `video/...`), or None for anything else."""
    for sniff in _SNIFFERS:
        found = sniff(head)
        if found:
            return found
    return None


# --- where files live --------------------------------------------------------------------------

def folder() -> Path:
    """The recordings folder (created on first use)."""
    path = recordings_dir(current_app)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_path(recording: SessionRecording) -> Path:
    """Where an uploaded recording's bytes are."""
    if not recording.file_key:
        raise ValueError("an external recording has no file")
    return folder() / recording.file_key


def max_bytes() -> int:
    """The largest recording accepted, in bytes."""
    return int(current_app.config["RECORDING_MAX_BYTES"])


def _write_upload(stream: BinaryIO, limit: int) -> tuple[str, str, int]:
    """Copy `stream` into the folder under a new random key: (key, media type, size)."""
    head = stream.read(SNIFF_BYTES)
    kind = media_type(head)
    if kind is None:
        raise InvalidInput(f"the file is not an audio or video recording this app plays ({ACCEPTED_KINDS})",
                           "file")
    target = folder()
    handle, temp_name = tempfile.mkstemp(dir=target, prefix=".upload-", suffix=".part")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file is larger than the limit of {_megabytes(limit)}", "file")
                out.write(chunk)
                chunk = stream.read(CHUNK)
            out.flush()
            os.fsync(out.fileno())
        key = secrets.token_hex(16)
        os.replace(temp_name, target / key)  # atomic within one folder, also on shared mounts
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return key, kind, size


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


def _forget_file(orm_session: Session, key: str | None) -> None:
    """Delete `key`'s file once this transaction commits (kept if it rolls back)."""
    if key:
        orm_session.info.setdefault(_DELETE_ON_COMMIT, []).append(folder() / key)


def _stored_file(orm_session: Session, key: str) -> None:
    """A file this transaction stored: deleted again if the transaction rolls back."""
    orm_session.info.setdefault(_DELETE_ON_ROLLBACK, []).append(folder() / key)


def _unlink_all(paths) -> None:
    for path in paths or ():
        path.unlink(missing_ok=True)


@sa.event.listens_for(Session, "after_commit")
def _after_commit(orm_session: Session) -> None:
    orm_session.info.pop(_DELETE_ON_ROLLBACK, None)
    _unlink_all(orm_session.info.pop(_DELETE_ON_COMMIT, None))


@sa.event.listens_for(Session, "after_soft_rollback")
def _after_rollback(orm_session: Session, previous_transaction) -> None:
    if previous_transaction.nested:
        return  # only a savepoint was rolled back: the outer transaction may still commit
    orm_session.info.pop(_DELETE_ON_COMMIT, None)
    _unlink_all(orm_session.info.pop(_DELETE_ON_ROLLBACK, None))


# --- links --------------------------------------------------------------------------------------

def clean_link(url: str) -> str:
    """An external recording's address, checked: http or https with a host, nothing else."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("give the recording's address", "url")
    if len(url) > MAX_URL:
        raise InvalidInput(f"the address is longer than {MAX_URL:,} characters", "url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidInput("the address contains spaces or control characters", "url")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidInput("the address is not a valid web address", "url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("only http and https addresses are accepted", "url")
    if not parts.hostname:
        raise InvalidInput("the address has no host name", "url")
    return url


def clean_offset(offset_ms: int | None) -> int:
    """The session start's place in the recording, within a day either way."""
    offset = int(offset_ms or 0)
    if abs(offset) > MAX_OFFSET_MS:
        raise InvalidInput("the offset must be within 24 hours", "offset_ms")
    return offset


def parse_offset(text: str | None) -> int:
    """"1:30", "0:01:30", "90" or "-5" (seconds, decimals allowed) as milliseconds; blank is 0."""
    text = (text or "").strip()
    if not text:
        return 0
    sign = -1 if text.startswith("-") else 1
    parts = (text[1:] if sign < 0 else text).split(":")
    try:
        if len(parts) > 3 or any(not p.strip() or p.strip()[0] in "+-" for p in parts):
            raise ValueError(text)
        seconds = float(parts[-1])
        whole = [int(p) for p in parts[:-1]]
    except ValueError:
        raise InvalidInput("give the time as minutes:seconds (e.g. 1:30) or seconds (e.g. 90)",
                           "offset") from None
    if seconds < 0 or any(n < 0 for n in whole) or (whole and seconds >= 60) or seconds != seconds:
        raise InvalidInput("give the time as minutes:seconds (e.g. 1:30) or seconds (e.g. 90)", "offset")
    for place, number in enumerate(reversed(whole), start=1):
        seconds += number * 60 ** place
    if seconds * 1000 > MAX_OFFSET_MS:
        raise InvalidInput("the offset must be within 24 hours", "offset")
    return sign * round(seconds * 1000)


def link_at(url: str, seconds: int) -> str:
    """The external recording's address opened at `seconds` in, in the way its platform understands."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith(("youtube.com", "youtu.be")):
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        return urlunsplit(parts._replace(query=urlencode([*query, ("t", f"{seconds}s")])))
    if host.endswith("vimeo.com"):
        return urlunsplit(parts._replace(fragment=f"t={seconds}s"))
    # Media fragments (#t=) are what browsers understand for a plain audio or video address.
    return urlunsplit(parts._replace(fragment=f"t={seconds}"))


# --- changing a session's recording -------------------------------------------------------------

def _replace(study_session: StudySession, user: User, **fields) -> SessionRecording:
    recording = study_session.recording
    if recording is None:
        recording = SessionRecording(study_session=study_session)
        db.session.add(recording)
    elif recording.file_key:
        _forget_file(db.session(), recording.file_key)
    for name, value in fields.items():
        setattr(recording, name, value)
    recording.added_by = user
    db.session.flush()
    return recording


def set_link(study_session: StudySession, user: User, url: str, offset_ms: int | None) -> SessionRecording:
    """Make an external recording the session's (any file it had is deleted once this commits)."""
    return _replace(study_session, user, kind=RecordingKind.LINK, url=clean_link(url),
                    offset_ms=clean_offset(offset_ms), file_key=None, content_type="", size_bytes=None)


def store_file(study_session: StudySession, user: User, stream: BinaryIO,
               offset_ms: int | None) -> SessionRecording:
    """Store an uploaded audio or video file as the session's recording (replacing any before it)."""
    offset = clean_offset(offset_ms)
    key, kind, size = _write_upload(stream, max_bytes())
    _stored_file(db.session(), key)
    return _replace(study_session, user, kind=RecordingKind.FILE, url="", offset_ms=offset, file_key=key,
                    content_type=kind, size_bytes=size)


def set_offset(recording: SessionRecording, offset_ms: int | None) -> SessionRecording:
    """Move the session's start within the recording."""
    recording.offset_ms = clean_offset(offset_ms)
    db.session.flush()
    return recording


def remove(study_session: StudySession) -> bool:
    """Take the session's recording away (its file is deleted once this commits); False when it had none."""
    recording = study_session.recording
    if recording is None:
        return False
    _forget_file(db.session(), recording.file_key)
    db.session.delete(recording)
    study_session.recording = None
    db.session.flush()
    return True


def forget_files(keys) -> None:
    """Delete these recordings' files once the current transaction commits (participant erasure)."""
    for key in keys:
        _forget_file(db.session(), key)


def recorded_sessions(session_ids: set[int]) -> set[int]:
    """Which of these sessions have a recording (one query)."""
    if not session_ids:
        return set()
    return set(db.session.scalars(sa.select(SessionRecording.session_id)
                                  .where(SessionRecording.session_id.in_(session_ids))))


# --- the review page's timeline ------------------------------------------------------------------

@dataclass(frozen=True)
class Moment:
    """A point of the review timeline: a note, or a task's start or end, at its session time."""

    elapsed_ms: int
    kind: str  # "note", "task-start" or "task-end"
    text: str
    detail: str = ""
    note_id: int | None = None

    @property
    def seconds(self) -> int:
        """Whole seconds into the session (what `?t=` carries)."""
        return self.elapsed_ms // 1000


def _since_start(study_session: StudySession, moment: datetime | None) -> int | None:
    if moment is None or study_session.started_at is None:
        return None
    return max(0, int((moment - study_session.started_at).total_seconds() * 1000))


def timeline(study_session: StudySession, task_numbers: dict[int, int]) -> list[Moment]:
    """The session's notes and task starts and ends, in session order (`task_numbers`: task id -> number)."""
    notes = db.session.scalars(
        sa.select(Note).where(Note.session_id == study_session.id, Note.deleted_at.is_(None))
        .options(selectinload(Note.author)).order_by(Note.elapsed_ms, Note.id)
    ).all()
    moments = [Moment(note.elapsed_ms, "note", note.body, note.author.name, note.id) for note in notes]
    attempts = db.session.scalars(
        sa.select(TaskAttempt).where(TaskAttempt.session_id == study_session.id)
        .options(selectinload(TaskAttempt.task))
    ).all()
    for attempt in attempts:
        label = f"Task {task_numbers.get(attempt.task_id, '')}".strip() + f" “{attempt.task.title}”"
        if attempt.number > 1:
            label += f" (attempt {attempt.number})"
        started = _since_start(study_session, attempt.started_at)
        if started is not None:
            moments.append(Moment(started, "task-start", f"{label} started"))
        ended = _since_start(study_session, attempt.ended_at)
        if ended is not None:
            outcome = attempt.outcome.label if attempt.outcome else "no outcome"
            moments.append(Moment(ended, "task-end", f"{label} ended: {outcome}"))
    order = {"task-start": 0, "note": 1, "task-end": 2}
    return sorted(moments, key=lambda m: (m.elapsed_ms, order[m.kind]))
