"""A published version keeps its report as data: re-rendered gives the same bytes, dated when published."""

from __future__ import annotations

import json
import re
import zlib

import pytest

from tests.test_reports_pdf import sample_report
from usabtest.reports import pdf, services, snapshot


def _creation_date(data: bytes) -> bytes:
    return re.search(rb"/CreationDate \(([^)]*)\)", data).group(1)


def test_snapshot_gives_back_the_same_report_screenshots_included():
    report = sample_report()
    again = snapshot.decode(snapshot.encode(report))
    assert again == report
    assert again.findings[0].screenshots[0].data == report.findings[0].screenshots[0].data


def test_snapshot_without_a_field_added_later_reads_its_default():
    payload = json.loads(zlib.decompress(snapshot.encode(sample_report())))
    del payload["report"]["contact_details"]
    payload["report"]["a_field_since_removed"] = "ignored"
    again = snapshot.decode(zlib.compress(json.dumps(payload).encode()))
    assert again.contact_details == ""
    assert again.study_title == sample_report().study_title


@pytest.mark.parametrize("data", [b"", b"not zlib", zlib.compress(b"[1, 2]"),
                                  zlib.compress(b'{"format": 99}')])
def test_bytes_that_are_no_snapshot_are_refused(data):
    with pytest.raises(ValueError):
        snapshot.decode(data)


def test_pdf_is_dated_by_the_report_not_the_clock():
    assert _creation_date(pdf.render(sample_report())) == b"D:20250310090000+00'00'"


def test_published_version_rerenders_byte_identical_and_is_dated_when_published(db, make_study):
    study = make_study(tasks=2, title="Payments")
    report = services.publish(study, study.owner, "Letter")
    db.session.commit()
    document = services.version_document(report)
    assert document.version_label == "Version 1"
    assert document.generated_on == report.published_at
    assert pdf.render(document, report.page_size) == report.pdf
    assert _creation_date(report.pdf) == report.published_at.strftime("D:%Y%m%d%H%M%S+00'00'").encode()


def test_version_published_before_snapshots_has_only_its_pdf(db, make_study):
    study = make_study(tasks=1)
    report = services.publish(study, study.owner)
    report.document = None
    db.session.commit()
    with pytest.raises(services.NotFound, match="only its PDF exists"):
        services.version_document(report)
