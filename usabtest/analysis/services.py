"""Analysis operations: notes board, findings and their evidence, CSV rows. Services flush; views commit."""

from __future__ import annotations

import io
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import selectinload

from usabtest.accounts.models import User
from usabtest.analysis import figures, metrics, results
from usabtest.analysis.models import (
    EFFORT_LABELS,
    PRIORITY_LABELS,
    SEVERITY_LABELS,
    Finding,
    Screenshot,
    finding_note,
)
from usabtest.core import audit
from usabtest.core.errors import InvalidInput, NotFound
from usabtest.core.versioning import claim
from usabtest.extensions import db
from usabtest.observe.models import Note, SusResponse, TaskAttempt
from usabtest.planning.models import Participant, StudySession, Task
from usabtest.timefmt import format_elapsed

NOTES_PER_PAGE = 200
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
SCREENSHOT_MAX_PIXELS = 40_000_000  # a 4K screen is 8.3 million; the report's PDF decodes every pixel


# --- Notes board ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteFilters:
    """What the notes board shows; None means "any"."""

    task: int | None = None
    no_task: bool = False
    tag: str | None = None
    kind: str | None = None
    participant: int | None = None
    severity: int | None = None
    no_severity: bool = False
    session: int | None = None
    text: str | None = None

    @property
    def active(self) -> bool:
        """True when any filter narrows the board."""
        return any(v not in (None, False, "") for v in self.__dict__.values())


@dataclass(frozen=True)
class NoteRow:
    """One note on the board with its participant, task, author and the findings it backs."""

    note_id: int
    body: str
    tags: tuple[str, ...]
    severity: int | None
    kind: str
    participant_id: int
    participant_code: str
    session_id: int
    session_starts_at: datetime
    task_id: int | None
    task_number: int | None
    task_title: str | None
    elapsed_ms: int
    author_name: str
    created_at: datetime
    edited_at: datetime | None = None
    findings: tuple[tuple[int, str], ...] = ()

    @property
    def elapsed_text(self) -> str:
        """Time into the session, e.g. "12:41" or "1:05:00" (the console's format)."""
        return format_elapsed(self.elapsed_ms)


@dataclass(frozen=True)
class BoardOptions:
    """Choices for the board's filters."""

    tasks: list[results.TaskRef]
    participants: list[results.ParticipantRef]
    sessions: list[tuple[int, str, datetime]]
    tags: list[str]


@dataclass(frozen=True)
class NotesBoard:
    """A page of filtered notes, with the total and the filter choices."""

    rows: list[NoteRow]
    total: int
    page: int
    pages: int
    options: BoardOptions
    findings: list[tuple[int, str]] = field(default_factory=list)


def _board_query(study_id: int, filters: NoteFilters) -> sa.Select:
    query = (
        sa.select(Note.id, Note.body, Note.tags, Note.severity, Note.kind, Note.session_id, Note.task_id,
                  Note.elapsed_ms, Note.created_at, Note.edited_at, StudySession.starts_at,
                  StudySession.participant_id, Participant.code, User.name.label("author_name"))
        .join(StudySession, StudySession.id == Note.session_id)
        .join(Participant, Participant.id == StudySession.participant_id)
        .join(User, User.id == Note.author_id)
        .where(StudySession.study_id == study_id, Note.deleted_at.is_(None))
        .order_by(Participant.number, StudySession.starts_at, Note.elapsed_ms, Note.id)
    )
    if filters.no_task:
        query = query.where(Note.task_id.is_(None))
    elif filters.task is not None:
        query = query.where(Note.task_id == filters.task)
    if filters.kind is not None:
        query = query.where(Note.kind == filters.kind)
    if filters.participant is not None:
        query = query.where(StudySession.participant_id == filters.participant)
    if filters.session is not None:
        query = query.where(Note.session_id == filters.session)
    if filters.no_severity:
        query = query.where(Note.severity.is_(None))
    elif filters.severity is not None:
        query = query.where(Note.severity == filters.severity)
    if filters.text:
        escaped = filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Note.body.ilike(f"%{escaped}%", escape="\\"))
    return query


def _tag_elements(dialect: str) -> sa.TableValuedAlias:
    """The elements of each note's JSON tag list as rows with a `value` column, in the dialect's own SQL."""
    if dialect == "postgresql":
        # json_array_elements_text refuses a scalar: a JSON null in the column counts as no tags.
        tags = sa.case((sa.func.json_typeof(Note.tags) == "array", Note.tags),
                       else_=sa.literal_column("'[]'::json"))
        return sa.func.json_array_elements_text(tags).table_valued("value").render_derived()
    return sa.func.json_each(Note.tags).table_valued("value")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _with_tag(query: sa.Select, tag: str) -> sa.Select:
    elements = _tag_elements(_dialect())
    return query.where(sa.exists(sa.select(sa.literal(1)).select_from(elements)
                                 .where(elements.c.value == tag)))


def _note_findings(study_id: int, note_ids: list[int] | None = None) -> dict[int, list[tuple[int, str]]]:
    """The live findings each note backs: of the notes `note_ids`, or of every note of the study."""
    links: dict[int, list[tuple[int, str]]] = defaultdict(list)
    query = (sa.select(finding_note.c.note_id, Finding.id, Finding.title)
             .join(Finding, Finding.id == finding_note.c.finding_id)
             .where(Finding.study_id == study_id, Finding.deleted_at.is_(None))
             .order_by(Finding.id))
    if note_ids is not None:
        if not note_ids:
            return links
        query = query.where(finding_note.c.note_id.in_(note_ids))
    rows = db.session.execute(query)
    for note_id, finding_id, title in rows:
        links[note_id].append((finding_id, title))
    return links


def _study_note_tags(study_id: int) -> set[str]:
    elements = _tag_elements(_dialect())
    found = db.session.scalars(
        sa.select(elements.c.value).distinct().select_from(Note).join(elements, sa.true())
        .join(StudySession, StudySession.id == Note.session_id)
        .where(StudySession.study_id == study_id, Note.deleted_at.is_(None))
    )
    return {str(tag) for tag in found if tag is not None}


def board_options(study_id: int, tag_names: list[str]) -> BoardOptions:
    """Tasks, participants, sessions and tags a study's notes can be filtered by."""
    tasks = list(results.task_refs(study_id).values())
    sessions = db.session.execute(
        sa.select(StudySession.id, Participant.code, StudySession.starts_at, Participant.id,
                  Participant.number)
        .join(Participant, Participant.id == StudySession.participant_id)
        .where(StudySession.study_id == study_id)
        .order_by(Participant.number, StudySession.starts_at)
    ).all()
    people = {row[3]: results.ParticipantRef(row[3], row[4], row[1]) for row in sessions}
    tags = set(tag_names or []) | _study_note_tags(study_id)
    return BoardOptions(tasks=tasks, participants=list(people.values()),
                        sessions=[(row[0], row[1], row[2]) for row in sessions],
                        tags=sorted(tags, key=str.casefold))


def _filtered_notes(study_id: int, filters: NoteFilters) -> sa.Select:
    query = _board_query(study_id, filters)
    return _with_tag(query, filters.tag) if filters.tag else query


def notes_board(study_id: int, filters: NoteFilters, tag_names: list[str], page: int = 1,
                per_page: int = NOTES_PER_PAGE) -> NotesBoard:
    """The study's notes matching `filters`, one page at a time, with their linked findings.

    Filtering, counting and paging happen in the database, so a page costs the same whatever the
    size of the study.
    """
    options = board_options(study_id, tag_names)
    tasks = {t.id: t for t in options.tasks}
    query = _filtered_notes(study_id, filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    chosen = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    links = _note_findings(study_id, [row.id for row in chosen])
    findings = db.session.execute(
        sa.select(Finding.id, Finding.title).where(Finding.study_id == study_id, Finding.deleted_at.is_(None))
        .order_by(Finding.title)
    ).all()
    return NotesBoard(
        rows=[_note_row(row, tasks, links) for row in chosen], total=total, page=page, pages=pages,
        options=options, findings=[(fid, title) for fid, title in findings],
    )


def _note_row(row, tasks: dict[int, results.TaskRef], links: dict[int, list]) -> NoteRow:
    task = tasks.get(row.task_id) if row.task_id is not None else None
    return NoteRow(
        note_id=row.id, body=row.body, tags=tuple(row.tags or ()), severity=row.severity,
        kind=row.kind.value if row.kind else "observation",
        participant_id=row.participant_id, participant_code=row.code, session_id=row.session_id,
        session_starts_at=row.starts_at, task_id=row.task_id, edited_at=row.edited_at,
        task_number=task.number if task else None, task_title=task.title if task else None,
        elapsed_ms=row.elapsed_ms or 0, author_name=row.author_name, created_at=row.created_at,
        findings=tuple(links.get(row.id, ())),
    )


# --- Findings ---------------------------------------------------------------------------------


def study_notes(study_id: int, note_ids: list[int]) -> list[Note]:
    """The non-deleted notes of the study among `note_ids`; any other id is refused."""
    wanted = set(note_ids)
    if not wanted:
        return []
    notes = db.session.scalars(
        sa.select(Note).join(StudySession, StudySession.id == Note.session_id)
        .where(Note.id.in_(wanted), StudySession.study_id == study_id, Note.deleted_at.is_(None))
    ).all()
    if len(notes) != len(wanted):
        raise InvalidInput("Some of the selected notes no longer exist in this study. Reload and try again.")
    return list(notes)


def study_tasks(study_id: int, task_ids: list[int]) -> list[Task]:
    """The study's tasks among `task_ids`; any other id is refused."""
    wanted = set(task_ids)
    if not wanted:
        return []
    tasks = db.session.scalars(sa.select(Task).where(Task.id.in_(wanted), Task.study_id == study_id)).all()
    if len(tasks) != len(wanted):
        raise InvalidInput("Some of the chosen tasks are not part of this study.", "tasks")
    return list(tasks)


def _link_tasks_of_notes(finding: Finding, notes: list[Note]) -> None:
    known = {task.id for task in finding.tasks}
    for note in notes:
        if note.task is not None and note.task.id not in known:
            finding.tasks.append(note.task)
            known.add(note.task.id)


def _check_rating(priority: str, effort: str) -> None:
    """Refuse a priority or effort outside the scales, naming the ones that exist."""
    if priority not in ("", *PRIORITY_LABELS):
        raise InvalidInput("Priority is high, medium or low (or empty: not rated).", "priority")
    if effort not in ("", *EFFORT_LABELS):
        raise InvalidInput("Effort is small, medium or large (or empty: not rated).", "effort")


def create_finding(study_id: int, actor: User, *, title: str, severity: int, description: str = "",
                   recommendation: str = "", task_ids: list[int] | None = None,
                   note_ids: list[int] | None = None, priority: str = "", effort: str = "",
                   positive: bool = False) -> Finding:
    """A new finding, backed by `note_ids`; the notes' tasks are marked affected."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput("A finding needs a title.", "title")
    if severity not in SEVERITY_LABELS:
        raise InvalidInput("Severity must be between 0 and 4.", "severity")
    _check_rating(priority, effort)
    notes = study_notes(study_id, note_ids or [])
    finding = Finding(study_id=study_id, title=title[:300], severity=severity, description=description,
                      recommendation=recommendation, priority=priority, effort=effort, positive=positive,
                      created_by_id=actor.id)
    finding.tasks = study_tasks(study_id, task_ids or [])
    finding.notes = notes
    _link_tasks_of_notes(finding, notes)
    db.session.add(finding)
    db.session.flush()
    audit.record(actor, "finding.create", finding, {"notes": len(notes)})
    return finding


def update_finding(finding: Finding, actor: User, *, version: int | None, title: str, severity: int,
                   description: str, recommendation: str, task_ids: list[int], priority: str | None = None,
                   effort: str | None = None, positive: bool | None = None) -> None:
    """Change a finding's text, severity, rating and affected tasks, as edited from its `version`.

    `priority`, `effort` and `positive` left as None keep their saved value.
    """
    claim(finding, version)
    if not (title or "").strip():
        raise InvalidInput("A finding needs a title.", "title")
    priority = finding.priority if priority is None else priority
    effort = finding.effort if effort is None else effort
    _check_rating(priority, effort)
    tasks = study_tasks(finding.study_id, task_ids)  # refuses unknown tasks before anything changes
    finding.title = title.strip()[:300]
    finding.severity = severity
    finding.description = description
    finding.recommendation = recommendation
    finding.priority, finding.effort = priority, effort
    if positive is not None:
        finding.positive = positive
    finding.tasks = tasks
    db.session.flush()
    audit.record(actor, "finding.update", finding)


def attach_notes(finding: Finding, actor: User, note_ids: list[int]) -> int:
    """Link more notes to `finding` as evidence; returns how many were new."""
    notes = study_notes(finding.study_id, note_ids)
    known = {note.id for note in finding.notes}
    added = [note for note in notes if note.id not in known]
    finding.notes.extend(added)
    _link_tasks_of_notes(finding, added)
    db.session.flush()
    audit.record(actor, "finding.attach_notes", finding, {"notes": [n.id for n in added]})
    return len(added)


def unlink_note(finding: Finding, actor: User, note_id: int) -> None:
    """Remove one note from a finding's evidence (the note itself stays)."""
    finding.notes = [note for note in finding.notes if note.id != note_id]
    db.session.flush()
    audit.record(actor, "finding.unlink_note", finding, {"note": note_id})


def _joined(first: str, second: str) -> str:
    parts = [p.strip() for p in (first, second) if p and p.strip()]
    unique = list(dict.fromkeys(parts))
    return "\n\n".join(unique)


def merge_findings(target: Finding, source: Finding, actor: User) -> None:
    """Fold `source` into `target`: evidence, tasks and screenshots move, the higher severity wins."""
    if target.id == source.id:
        raise InvalidInput("Choose two different findings to merge.", "source")
    if target.study_id != source.study_id:
        raise InvalidInput("Findings of different studies cannot be merged.", "source")
    known_notes = {note.id for note in target.notes}
    target.notes.extend(note for note in source.notes if note.id not in known_notes)
    known_tasks = {task.id for task in target.tasks}
    target.tasks.extend(task for task in source.tasks if task.id not in known_tasks)
    for shot in list(source.screenshots):
        shot.finding = target
    target.severity = max(target.severity, source.severity)
    target.description = _joined(target.description, source.description)
    target.recommendation = _joined(target.recommendation, source.recommendation)
    audit.record(actor, "finding.merge", target, {"merged": source.id, "merged_title": source.title})
    db.session.delete(source)
    db.session.flush()


def move_finding(study_id: int, finding_id: int, offset: int, actor: User) -> None:
    """Move a finding up (-1) or down (+1) in the report's order; this fixes the order by hand."""
    order = [f.id for f in results.ranked_findings(study_id)]
    if finding_id not in order:
        raise NotFound("That finding is not part of this study.")
    index = order.index(finding_id)
    other = index + offset
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    findings = {f.id: f for f in db.session.scalars(
        sa.select(Finding).where(Finding.study_id == study_id, Finding.deleted_at.is_(None)))}
    for position, fid in enumerate(order):
        findings[fid].position = position
    db.session.flush()
    audit.record(actor, "finding.reorder", findings[finding_id], {"offset": offset})


def reset_order(study_id: int, actor: User) -> None:
    """Forget the hand-made order: rank by severity then frequency again."""
    db.session.execute(sa.update(Finding).where(Finding.study_id == study_id).values(position=None))
    db.session.flush()
    audit.record(actor, "finding.order_reset", None, {"study": study_id})


def add_screenshot(finding: Finding, actor: User, data: bytes, filename: str, caption: str,
                   max_bytes: int, max_pixels: int = SCREENSHOT_MAX_PIXELS) -> Screenshot:
    """Attach a PNG or JPEG after checking its size and pixels, re-encoded as that format.

    Only the decoded pixels are kept (written again by Pillow): no metadata, no trailing data, and
    at most `max_pixels`, so the report's PDF never has to decode a giant image.
    """
    if not data:
        raise InvalidInput("The uploaded file is empty.", "image")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"The image is larger than {max_bytes // 1024:,} KB; please upload a smaller one.", "image")
    content_type, width, height, data = _verified_image(data, max_pixels)
    shot = Screenshot(finding=finding, filename=(filename or "screenshot")[-255:], content_type=content_type,
                      width=width, height=height, caption=(caption or "").strip()[:500], data=data)
    db.session.add(shot)
    db.session.flush()
    audit.record(actor, "finding.screenshot_add", finding, {"screenshot": shot.id})
    return shot


def _verified_image(data: bytes, max_pixels: int) -> tuple[str, int, int, bytes]:
    too_many = InvalidInput(
        f"The image has more than {max_pixels / 1e6:g} million pixels; a screenshot needs far fewer: "
        "scale it down or crop it and upload it again.", "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                image.verify()
            if kind not in IMAGE_FORMATS:
                raise InvalidInput("Only PNG and JPEG images can be attached.", "image")
            if width * height > max_pixels:  # told by the header: refused before decoding
                raise too_many
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() skips the pixel data; decoding it catches truncated files
                encoded = io.BytesIO()
                if kind == "JPEG":
                    image.save(encoded, "JPEG", quality=90)
                else:
                    image.save(encoded, "PNG", optimize=False)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_many from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("The file is not a readable PNG or JPEG image.", "image") from exc
    return IMAGE_FORMATS[kind], width, height, encoded.getvalue()


def delete_screenshot(shot: Screenshot, actor: User) -> None:
    """Remove a screenshot from its finding."""
    audit.record(actor, "finding.screenshot_delete", shot.finding, {"screenshot": shot.id})
    db.session.delete(shot)
    db.session.flush()


def load_finding(study_id: int, finding_id: int) -> Finding | None:
    """A live finding of the study with its notes and tasks, or None (also when it is deleted)."""
    return db.session.scalar(
        sa.select(Finding).where(Finding.id == finding_id, Finding.study_id == study_id,
                                 Finding.deleted_at.is_(None))
        .options(selectinload(Finding.notes), selectinload(Finding.tasks))
    )


# --- CSV rows ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


NOTES_PER_BATCH = 1000


def notes_rows(study_id: int) -> tuple[list[str], Iterator[list[object]]]:
    """Every non-deleted note of the study, one row each, read from the database in batches as the
    rows are consumed (the CSV export streams them)."""
    header = ["note_id", "participant", "session_id", "task_number", "task", "elapsed", "elapsed_ms",
              "author", "created_at_utc", "kind", "severity", "tags", "note", "findings", "edited_at_utc"]
    return header, _note_csv_rows(study_id)


def _note_csv_rows(study_id: int) -> Iterator[list[object]]:
    tasks = results.task_refs(study_id)
    # Evidence links are few beside the notes (findings x their notes): read once, in one query.
    links = _note_findings(study_id)
    query = _board_query(study_id, NoteFilters()).execution_options(yield_per=NOTES_PER_BATCH)
    for batch in db.session.execute(query).partitions():
        for row in batch:
            # The board's columns, without building a NoteRow per note: this loop runs 40,000 times.
            elapsed_ms = row.elapsed_ms or 0
            task = tasks.get(row.task_id) if row.task_id is not None else None
            findings = "; ".join(title for _, title in links.get(row.id, ()))
            yield [row.id, row.code, row.session_id, task.number if task else None,
                   task.title if task else None, format_elapsed(elapsed_ms), elapsed_ms, row.author_name,
                   _iso(row.created_at), row.kind.value if row.kind else "observation", row.severity,
                   "; ".join(row.tags or ()), row.body, findings, _iso(row.edited_at)]


def attempts_rows(study_id: int) -> tuple[list[str], list[list[object]]]:
    """Every task attempt of the study's sessions with outcome, time, errors and SEQ.

    `attempt` numbers a restarted task's attempts in its session; `counted` says which one the
    analysis counts (`metrics.ATTEMPT_RULE`).
    """
    tasks = results.task_refs(study_id)
    found = db.session.execute(
        sa.select(TaskAttempt, Participant.code, StudySession.status)
        .join(StudySession, StudySession.id == TaskAttempt.session_id)
        .join(Participant, Participant.id == StudySession.participant_id)
        # Like the results: participants who withdrew consent are left out of the metrics' data.
        .where(StudySession.study_id == study_id, Participant.consent_withdrawn_at.is_(None))
        .order_by(Participant.number, StudySession.starts_at, TaskAttempt.started_at, TaskAttempt.id)
    ).all()
    counted = {attempt.id for attempt in metrics.counted_attempts(a for a, _code, _status in found)}
    header = ["participant", "session_id", "session_status", "task_number", "task", "outcome",
              "started_at_utc", "ended_at_utc", "duration_s", "errors", "seq", "attempt", "counted"]
    rows = []
    for attempt, code, status in found:
        task = tasks.get(attempt.task_id)
        duration = attempt.duration_s
        rows.append([code, attempt.session_id, status.value, task.number if task else None,
                     task.title if task else None, attempt.outcome.value if attempt.outcome else "",
                     _iso(attempt.started_at), _iso(attempt.ended_at),
                     round(duration, 1) if duration is not None else None, attempt.error_count, attempt.seq,
                     attempt.number, "yes" if attempt.id in counted else "no"])
    return header, rows


def results_rows(study_id: int) -> tuple[list[str], list[list[object]]]:
    """Each task's figures exactly as the results page and the report print them (rounded half up,
    `figures`), with each figure's n and its interval bounds (empty below n = 2)."""
    data = results.compute_study_results(study_id)
    header = ["task_number", "task", "attempts", "successes", "assisted", "skipped", "completion",
              "completion_method", "completion_observed", "completion_ci_low", "completion_ci_high",
              "time_on_task", "time_n", "time_ci_low", "time_ci_high", "errors_mean", "errors_n",
              "seq_mean", "seq_n", "seq_ci_low", "seq_ci_high", "confidence"]
    level = figures.confidence_label(data.confidence).removesuffix(" CI")
    rows = []
    for task in data.tasks:
        completion, time_s, seq = task.completion, task.time_s, task.seq
        rows.append([
            task.number, task.title, task.attempts, task.successes, task.assisted, task.skipped,
            *_csv_estimate(completion, figures.percent, task.attempts), task.completion_method or None,
            task.completion_observed_text if task.attempts else None,
            *_csv_bounds(completion, figures.percent, task.attempts),
            *_csv_estimate(time_s, figures.duration, task.timed), task.timed,
            *_csv_bounds(time_s, figures.duration, task.timed),
            figures.decimal(task.errors_mean) if task.errors_mean is not None else None, task.errors_n,
            *_csv_estimate(seq, figures.decimal, task.seq_n), task.seq_n,
            *_csv_bounds(seq, figures.decimal, task.seq_n), level,
        ])
    return header, rows


def _csv_estimate(estimate: results.Estimate | None, shown, n: int) -> list[object]:
    return [shown(estimate.value) if estimate is not None and n else None]


def _csv_bounds(estimate: results.Estimate | None, shown, n: int) -> list[object]:
    if estimate is None or not estimate.has_interval or n < 2:
        return [None, None]
    return [shown(estimate.low), shown(estimate.high)]


def findings_rows(study_id: int) -> tuple[list[str], list[list[object]]]:
    """Findings in ranked order with severity, frequency, tasks and evidence."""
    header = ["rank", "finding", "severity", "severity_label", "participants_affected",
              "participants_observed", "participants", "tasks", "description", "recommendation",
              "priority", "effort", "worked_well", "evidence_note_ids"]
    rows = [[f.rank, f.title, f.severity, f.severity_label, f.frequency, f.participants_observed,
             "; ".join(p.code for p in f.participants), "; ".join(f"{t.number}. {t.title}" for t in f.tasks),
             f.description, f.recommendation, f.priority_label, f.effort_label, f.positive,
             "; ".join(str(e.note_id) for e in f.evidence)]
            for f in results.ranked_findings(study_id)]
    return header, rows


def sus_rows(study_id: int) -> tuple[list[str], list[list[object]]]:
    """Each session's ten SUS answers and its score (blank when the questionnaire is incomplete)."""
    from usabtest.analysis.metrics import sus_score

    found = db.session.execute(
        sa.select(SusResponse.session_id, SusResponse.answers, Participant.code)
        .join(StudySession, StudySession.id == SusResponse.session_id)
        .join(Participant, Participant.id == StudySession.participant_id)
        .where(StudySession.study_id == study_id, Participant.consent_withdrawn_at.is_(None))
        .order_by(Participant.number, StudySession.starts_at)
    ).all()
    header = ["participant", "session_id"] + [f"q{i}" for i in range(1, 11)] + ["score"]
    rows = []
    for session_id, answers, code in found:
        answers = list(answers or [])
        try:
            score: float | None = sus_score(answers)
        except ValueError:
            score = None
        rows.append([code, session_id] + (answers + [None] * 10)[:10] + [score])
    return header, rows


EXPORTS = {
    "notes": ("Notes", "Every note with participant, task, time into the session, tags and findings.",
              notes_rows),
    "attempts": ("Task attempts", "Each attempt's outcome, start and end, duration, errors and SEQ; a "
                 "restarted task's attempts are numbered, and the one the results count is marked.",
                 attempts_rows),
    "results": ("Results", "Each task's completion, time on task, errors and SEQ as the results page and the "
                "report show them, with each figure's n and its confidence interval.", results_rows),
    "findings": ("Findings", "Ranked findings with severity, frequency, tasks and evidence.", findings_rows),
    "sus": ("SUS answers", "The ten answers of each questionnaire and its score.", sus_rows),
}
