"""The funnel page's KPI table (per segment, a definition on hover for every heading) and lift
chart in a real headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright). The
database holds ``tests/kpi_history.py``: ``mql-proof`` lifts conversion, ``engaged-business``
does not, and the page says which. A screenshot goes to the test's temp dir (and to
``docs/screenshots/funnel-kpis.png`` with TRELLIS_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.ops.kpi_definitions import KPI_DEFINITIONS
from services.orchestrator.settings import OrchestratorSettings
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM, _serving
from tests.kpi_history import holdout_plan, seed_kpi_history
from trellis.settings import TrellisSettings

D0 = datetime(2026, 6, 1, tzinfo=UTC)
SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "funnel-kpis.png"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: `make install` installs Debian's chromium package",
)


async def test_the_funnel_page_shows_kpis_per_segment_and_which_sequence_lifts(
    settings: TrellisSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    history = await seed_kpi_history(engine, D0)
    plan = holdout_plan(tmp_path / "plan.yaml")
    own = OrchestratorSettings(**settings.model_dump(), ops_serve=False, nurture=plan)
    now = D0 + timedelta(days=30)
    async with engine.begin() as conn:
        key = (await issue_key(conn, Scope.READ, now, name="e2e-read")).secret
    app = FastAPI()
    app.include_router(dashboard_router(engine, own, lambda: now))
    problems: list[str] = []
    async with _serving(app) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.on("console", lambda m: problems.extend([m.text] if m.type == "error" else []))
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            await page.goto(f"{base}/ui/login?next=/ui/")
            await page.fill("input[name=key]", key)
            await page.click("form.login button[type=submit]")
            await page.wait_for_url(f"{base}/ui/")
            await page.goto(f"{base}/ui/?since=2026-06-01&until=2026-06-30&segment=industry")

            table = page.locator("#kpis")
            assert await table.locator("tbody tr").count() == 3  # all, fintech, retail
            retail = table.locator('tr[data-segment="retail"]')
            assert await retail.locator("td.pipeline").inner_text() == "USD 2,000.50"
            everyone = table.locator('tr[data-segment="all"]')
            assert await everyone.locator("td.pipeline").inner_text() == "EUR 1,000 · USD 2,000.50"
            assert await everyone.locator("td.churn").inner_text() == "50% (1/2)"
            nrr = table.locator("thead th", has_text="NRR")
            assert await nrr.get_attribute("title") == KPI_DEFINITIONS["nrr"]

            lifting = page.locator('#lift g.sequence[data-sequence^="mql-proof (mql"]')
            flat = page.locator('#lift g.sequence[data-sequence^="engaged-business"]')
            assert await lifting.get_attribute("class") == "sequence lifts"
            assert await flat.get_attribute("class") == "sequence unclear"
            t = history.tally["mql-proof"]
            points = round(100 * (t.treated_on / t.treated - t.held_on / t.held))
            assert f"+{points} pts" in (await lifting.text_content() or "")
            finance = page.locator('#lift g.sequence[data-sequence^="mql-proof-finance"]')
            assert await finance.get_attribute("class") == "sequence no-data"
            assert "no held-out contacts" in (await finance.text_content() or "")
            assert await page.locator("script").count() == 0

            await page.goto(f"{base}/ui/?since=2026-06-01&until=2026-06-30&goal=sql")
            to_sql = page.locator('#lift-goal g.sequence[data-sequence^="engaged-business"]')
            assert await to_sql.get_attribute("data-sequence") == "engaged-business (engaged → sql)"
            assert await page.locator("#kpis tbody tr").count() == 1  # no segment: all only
            await page.goto(f"{base}/ui/?since=2026-06-01&until=2026-06-30&segment=industry")

            target = tmp_path / "funnel-kpis.png"
            await page.locator("#kpis").scroll_into_view_if_needed()
            await page.screenshot(path=str(target), full_page=True)
            if os.environ.get("TRELLIS_UPDATE_SCREENSHOTS") == "1":
                shutil.copyfile(target, SHOT)
        finally:
            await browser.close()
    assert problems == []
