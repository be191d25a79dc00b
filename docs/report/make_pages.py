"""Render the demo study's published report as PNG pages for the README: `python docs/report/make_pages.py`.

Builds the demo in a throw-away SQLite database (with a fixed clock, so the pages only change when
the report's layout or the demo does), publishes version 1 as a client would receive it, writes
the pages with poppler's pdftoppm next to this file and prints how full each page is.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DPI = 72  # readable in a browser, small in the repository


def demo_report_pdf(workdir: Path) -> bytes:
    """Version 1 of the demo study's report, published in a fresh database under `workdir`."""
    import flask_migrate
    import sqlalchemy as sa

    from usabtest.app import create_app
    from usabtest.demo import load_demo
    from usabtest.extensions import db
    from usabtest.planning.models import Study
    from usabtest.reports import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'demo.sqlite'}",
                      "SECRET_KEY": "report-pages", "PUBLIC_URL": "http://localhost", "REQUEST_LOG": False})
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(now=NOW)
        study = db.session.scalar(sa.select(Study))
        report = services.publish(study, study.owner, "A4", "As delivered to the client")
        db.session.commit()
        return report.pdf


def ink_share(png: Path) -> float:
    """How much of the page's text area is used: the lowest non-white row, as a share of the height."""
    from PIL import Image

    image = Image.open(png).convert("L")
    width, height = image.size
    top, bottom = int(height * 0.08), int(height * 0.90)  # leave out the running header and footer
    rows = [y for y in range(top, bottom) if image.crop((0, y, width, y + 1)).getextrema()[0] < 200]
    return (max(rows) - top) / (bottom - top) if rows else 0.0


def main() -> int:
    """Write docs/report/page-N.png for every page of the demo report."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        pdf = workdir / "demo-report.pdf"
        pdf.write_bytes(demo_report_pdf(workdir))
        for old in HERE.glob("page-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", str(DPI), str(pdf), str(HERE / "page")], check=True)
    pages = sorted(HERE.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    for number, page in enumerate(pages, start=1):
        page.rename(HERE / f"page-{number}.png")
    for number in range(1, len(pages) + 1):
        print(f"page {number:2d}: {ink_share(HERE / f'page-{number}.png'):4.0%} of the text area used")
    return 0


if __name__ == "__main__":
    sys.exit(main())
