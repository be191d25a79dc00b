"""Accessibility audit of a page with axe-core, injected into the page by Playwright.

axe-core comes from the npm registry (`npm ci` in the repository, as `.ci/run` does); the package
is a test tool only. Without it the audit skips locally and fails in CI.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import IN_CI

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


@cache
def axe_source() -> str:
    path = Path(os.environ.get("USABTEST_AXE_JS", AXE_JS))
    if not path.exists():
        message = f"{path} is missing: run `npm ci` in the repository to install axe-core"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path.read_text(encoding="utf-8")


def audit(page, context: str | None = None) -> list[dict]:
    """Every axe violation on the page as it is now (WCAG 2.x A and AA rules plus best practices)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the pages' Content-Security-Policy (no
        # inline scripts) does not apply to, unlike an added <script> tag.
        page.evaluate(axe_source() + "\n;undefined")
    return page.evaluate(
        """async (context) => {
            const result = await axe.run(context ? document.querySelector(context) : document,
                {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
        }""",
        context,
    )


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in violation["nodes"][:5])
    return "\n".join(lines)


def assert_accessible(page, context: str | None = None) -> None:
    """Fail with a readable list when the page has a serious or critical violation."""
    found = blocking(audit(page, context))
    assert not found, f"{page.url}\n{describe(found)}"

