"""CSV exports: UTF-8 with a BOM, text round-trips through Python's csv module, formulas neutralised."""

from __future__ import annotations

import csv
import io

import pytest

from usabtest.analysis.export import neutralise, to_csv
from usabtest.analysis.models import Finding
from usabtest.observe.models import Outcome, SusResponse, TaskAttempt
from usabtest.planning.models import SessionStatus


@pytest.mark.parametrize("cell", ["=SUM(A1:A2)", "+1", "-2+3", "@cmd", "\tx", "\rx", "=HYPERLINK(\"x\")"])
def test_formula_like_cells_get_a_leading_quote(cell):
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell, text", [("plain", "plain"), ("a=b", "a=b"), (None, ""), (3, "3"),
                                        (2.5, "2.5"), (True, "yes"), ("Zoë’s “quote”", "Zoë’s “quote”")])
def test_ordinary_cells_are_left_alone(cell, text):
    assert neutralise(cell) == text


def _read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_to_csv_round_trips_awkward_text():
    awkward = 'Line one\nline two, with "quotes" and a comma; Zoë ✓'
    rows = _read(to_csv(["a", "b"], [[awkward, 1], ["=1+1", None]]))
    assert rows == [["a", "b"], [awkward, "1"], ["'=1+1", ""]]


def test_study_exports_round_trip_and_neutralise(db, client, login, make_study, make_participant,
                                                 make_session, make_note):
    study = make_study(tasks=1)
    study_session = make_session(study=study, participant=make_participant(study),
                                 status=SessionStatus.COMPLETED)
    body = '=IMPORTXML("http://evil")\nand a second line, “smart quotes”, Zoë'
    note = make_note(study_session, study.owner, body=body, tags=["@mention", "nav"], elapsed_ms=125_000,
                     task=study.tasks[0])
    make_note(study_session, study.owner, body="deleted", deleted_at=note.created_at)
    db.session.add_all([
        Finding(study=study, title="+Plus title", severity=3, notes=[note], recommendation="-Do less"),
        TaskAttempt(study_session=study_session, task=study.tasks[0], outcome=Outcome.ASSISTED,
                    started_at=note.created_at, ended_at=note.created_at, error_count=2, seq=4),
        SusResponse(study_session=study_session, answers=[4, 2] * 5),
    ])
    db.session.commit()
    login(study.owner)

    def export(kind):
        response = client.get(f"/studies/{study.id}/exports/{kind}.csv")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert f"study-{study.id}-{kind}.csv" in response.headers["Content-Disposition"]
        return _read(response.data)

    notes = export("notes")
    assert len(notes) == 2  # the deleted note is not exported
    row = dict(zip(notes[0], notes[1], strict=True))
    assert row["note"] == "'" + body
    assert (row["participant"], row["elapsed"], row["tags"], row["findings"]) == (
        "P01", "2:05", "'@mention; nav", "'+Plus title")

    attempts = dict(zip(*export("attempts"), strict=True))
    assert (attempts["outcome"], attempts["errors"], attempts["seq"]) == ("assisted", "2", "4")
    assert (attempts["attempt"], attempts["counted"]) == ("1", "yes")

    findings = dict(zip(*export("findings"), strict=True))
    assert findings["finding"] == "'+Plus title" and findings["recommendation"] == "'-Do less"
    assert (findings["participants_affected"], findings["participants_observed"]) == ("1", "1")

    sus = dict(zip(*export("sus"), strict=True))
    assert [sus[f"q{i}"] for i in range(1, 11)] == ["4", "2"] * 5 and sus["score"] == "75.0"

    assert client.get(f"/studies/{study.id}/exports/passwords.csv").status_code == 404


def test_iter_csv_sends_the_header_first_then_rows_in_chunks():
    from usabtest.analysis.export import iter_csv

    rows = [[i, f"=cell {i}"] for i in range(5)]
    chunks = list(iter_csv(["a", "b"], iter(rows), rows_per_chunk=2))
    assert chunks[0] == "\ufeffa,b\r\n".encode()
    assert len(chunks) == 4  # header, 2 + 2 + 1 rows
    assert b"".join(chunks) == to_csv(["a", "b"], rows)
    assert _read(b"".join(chunks))[1] == ["0", "'=cell 0"]
