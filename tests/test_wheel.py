"""A wheel built from the repository carries templates, static files and migrations."""

import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CHECK_SCRIPT = textwrap.dedent("""
    import sys
    import usabtest
    from usabtest import create_app, paths
    from flask_migrate import upgrade
    assert "site-packages" in usabtest.__file__, usabtest.__file__
    assert paths.TEMPLATES.is_relative_to(paths.PACKAGE_DIR), paths.TEMPLATES
    app = create_app({"DATABASE_URL": "sqlite:///" + sys.argv[1], "SECRET_KEY": "k"})
    with app.app_context():
        upgrade()
    client = app.test_client()
    page = client.get("/login")
    css = client.get("/static/css/app.css")
    assert page.status_code == 200 and b"<h1>Sign in</h1>" in page.data, page.status_code
    assert css.status_code == 200 and b"--accent" in css.data
    from flask import g
    from flask_babel import gettext
    with app.test_request_context():
        g.screen_language = "de"  # the participant screen's catalogues ship compiled in the wheel
        assert gettext("Welcome") == "Willkommen", gettext("Welcome")
    print("wheel ok")
""")


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel once (no network: uses the installed hatchling)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True, capture_output=True,
    )
    return next(out.glob("usabtest-*.whl"))


def test_wheel_contains_resources(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "usabtest/_resources/templates/base.html" in names
    assert "usabtest/_resources/static/css/app.css" in names
    assert any(n.startswith("usabtest/_resources/migrations/versions/") for n in names)
    for language in ("de", "fr", "es"):
        assert f"usabtest/translations/{language}/LC_MESSAGES/messages.mo" in names


def test_wheel_installed_in_fresh_venv_renders_sign_in(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
         str(wheel)],
        check=True, capture_output=True,
    )
    # Dependencies come from the test environment's site-packages, appended after the fresh
    # venv's own, so `usabtest` itself resolves to the wheel's copy (its .pth is not processed).
    fresh_site = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    (fresh_site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run(
        [python, "-c", CHECK_SCRIPT, str(tmp_path / "wheel.sqlite")],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "wheel ok" in result.stdout
