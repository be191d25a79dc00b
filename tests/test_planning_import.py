"""Participant CSV import: a preview with each bad row's reason, then all good rows or nothing."""

import io
import re
from datetime import date
from unittest import mock

import pytest
import sqlalchemy as sa

from usabtest.planning import csv_import, services
from usabtest.planning.models import Participant

GOOD_AND_BAD = (
    "name,email,age band,experience,consent_date,consent_version\n"
    "Ann Lee,ann@example.net,25-34,daily,2025-03-01,v2\n"  # line 2: good
    ",nobody@example.net,35-44,weekly,,\n"  # line 3: missing name
    "Bob Stone,bob-at-example,45-54,rarely,,\n"  # line 4: bad email
    "Cleo Park,taken@example.net,18-24,daily,,\n"  # line 5: already in the study
    "Dan Roe,ANN@example.net,25-34,weekly,,\n"  # line 6: same email as line 2
    "\n"  # blank lines are skipped
    "Eve Marsh,,65+,rarely,,\n"  # line 8: good, no email
)


def _upload(client, study, text: str | bytes, filename="people.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(f"/studies/{study.id}/participants/import",
                       data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def _payload(html: str) -> str:
    return re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)


def _codes(db, study) -> list[str]:
    query = sa.select(Participant.code).where(Participant.study_id == study.id).order_by(Participant.number)
    return list(db.session.scalars(query))


def test_parser_reports_each_bad_row_with_its_line_and_reason():
    preview = csv_import.parse_participants(GOOD_AND_BAD, {"taken@example.net"})
    assert [(r.line, r.name) for r in preview.good] == [(2, "Ann Lee"), (8, "Eve Marsh")]
    assert [(r.line, r.reasons) for r in preview.bad] == [
        (3, ["missing name"]),
        (4, ["bad email 'bob-at-example'"]),
        (5, ["duplicate email: taken@example.net is already a participant in this study"]),
        (6, ["duplicate email: ANN@example.net is also on line 2"]),
    ]
    ann = preview.good[0]
    assert ann.segments == {"age band": "25-34", "experience": "daily"}
    assert (ann.consent_date, ann.consent_version) == (date(2025, 3, 1), "v2")


def test_parser_accepts_semicolons_and_a_byte_order_mark():
    text = csv_import.decode("\ufeffName;E-mail;Region\nAnn;ann@example.net;North\n".encode())
    preview = csv_import.parse_participants(text, set())
    assert preview.good[0].segments == {"Region": "North"} and preview.good[0].email == "ann@example.net"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    (b"email,phone\nann@example.net,1\n", 'including a "name" column'),
    ("name\nZo\xeb\n".encode("latin-1"), "not UTF-8"),
])
def test_unreadable_files_are_refused_as_a_whole(data, message):
    with pytest.raises(csv_import.ImportFileError, match=message):
        csv_import.parse_participants(csv_import.decode(data), set())


def test_consent_needs_a_valid_date_and_a_version():
    text = "name,consent_date,consent_version\nA,2025-02-30,v1\nB,2025-01-01,\nC,,v1\n"
    bad = csv_import.parse_participants(text, set()).bad
    assert [(r.line, r.reasons) for r in bad] == [
        (2, ["consent date '2025-02-30' is not a date like 2025-03-31"]),
        (3, ["consent date given without the consent form version"]),
        (4, ["consent form version given without the consent date"]),
    ]


def test_preview_shows_reasons_and_imports_nothing_until_confirmed(client, login, db, make_study,
                                                                    make_participant):
    study = make_study()
    make_participant(study, email="taken@example.net")  # P01
    login(study.owner)
    response = _upload(client, study, GOOD_AND_BAD)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>2</strong> rows can be imported; <strong>4</strong> rows will be left out" in html
    for line, reason in [(3, "missing name"), (4, "bad email"), (5, "already a participant in this study"),
                         (6, "is also on line 2")]:
        assert re.search(rf'<td class="num">{line}</td>.*?{re.escape(reason)}', html, re.S), line
    assert "P02" in html and "P03" in html  # the pseudonyms the good rows will get
    assert _codes(db, study) == ["P01"]

    confirmed = client.post(f"/studies/{study.id}/participants/import/confirm",
                            data={"payload": _payload(html)})
    assert confirmed.status_code == 302
    db.session.rollback()
    people = db.session.scalars(sa.select(Participant).where(Participant.study_id == study.id)
                                .order_by(Participant.number)).all()
    assert [(p.code, p.personal.name) for p in people] == [("P01", "Person 1"), ("P02", "Ann Lee"),
                                                           ("P03", "Eve Marsh")]
    assert people[1].has_consent and people[1].consents[0].form_version == "v2"
    assert not people[2].has_consent
    assert "2 participants imported (P02–P03); 4 rows were left out." in client.get(
        f"/studies/{study.id}").get_data(as_text=True)


def test_failure_during_import_leaves_no_participant_behind(client, login, db, make_study):
    study = make_study()
    login(study.owner)
    payload = _payload(_upload(client, study, GOOD_AND_BAD).get_data(as_text=True))
    real_add = services.add_participant
    calls = []

    def failing_second(*args, **kwargs):
        calls.append(kwargs["name"])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_add(*args, **kwargs)

    with mock.patch.object(services, "add_participant", failing_second):
        response = client.post(f"/studies/{study.id}/participants/import/confirm", data={"payload": payload})
    assert response.status_code == 500
    assert calls == ["Ann Lee", "Cleo Park"]  # the first was added, then the second failed
    db.session.rollback()
    assert _codes(db, study) == []
    db.session.refresh(study)
    assert study.last_participant_number == 0


def test_rows_added_meanwhile_send_the_researcher_back_to_the_preview(client, login, db, make_study,
                                                                      make_participant):
    study = make_study()
    login(study.owner)
    payload = _payload(_upload(client, study, GOOD_AND_BAD).get_data(as_text=True))
    make_participant(study, email="ann@example.net")  # someone added Ann by hand in between
    response = client.post(f"/studies/{study.id}/participants/import/confirm", data={"payload": payload})
    assert response.status_code == 409
    assert "changed since the preview" in response.get_data(as_text=True)
    assert _codes(db, study) == ["P01"]


def test_tampered_or_foreign_payload_is_refused(client, login, db, make_study, make_member):
    study, other = make_study(), make_study()
    login(study.owner)
    payload = _payload(_upload(client, study, GOOD_AND_BAD).get_data(as_text=True))
    confirm_url = f"/studies/{study.id}/participants/import/confirm"
    tampered = client.post(confirm_url, data={"payload": payload + "x"})
    assert tampered.status_code == 302 and _codes(db, study) == []
    make_member(other, study.owner)
    foreign = client.post(f"/studies/{other.id}/participants/import/confirm", data={"payload": payload})
    assert foreign.status_code == 302 and _codes(db, other) == []


def test_unreadable_upload_shows_the_reason_on_the_form(client, login, make_study):
    study = make_study()
    login(study.owner)
    response = _upload(client, study, "email\nann@example.net\n")
    assert response.status_code == 400
    assert 'including a &#34;name&#34; column' in response.get_data(as_text=True)
