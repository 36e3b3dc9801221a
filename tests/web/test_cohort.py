"""The cohort page (/alliance/cohort): faculty see every learner, a learner their own line; the filters, the
CSV export, the chart's data and its scripts, served from our own origin."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any

from sqlalchemy import text

from agent.domain.reading import PatientReading
from agent.domain.visit import VisitState
from agent.storage.sessions import SESSIONS_TABLE
from tests.support.cohort import counted_visit, exact_reading, half_reading
from tests.support.web_client import Web

DATA = re.compile(r"<script type='application/json' id='cohort-data'>(.*?)</script>", re.S)


async def _kept(
    web: Web, owner: str, persona: str, day: str, readings: tuple[PatientReading, ...] = (), at: str = "T10:00:00+00:00"
) -> str:
    """A kept visit of `counted_visit`, its last turn on that day (YYYY-MM-DD) at that time."""
    thread_id = str(uuid.uuid4())
    view = VisitState(ended=True, readings=list(readings))
    await web.layer.sessions.save(thread_id, owner, counted_visit(persona), view)
    async with web.layer.sessions.engine.begin() as conn:
        await conn.execute(
            text(f'UPDATE {SESSIONS_TABLE} SET "updated_at" = :at WHERE "thread_id" = :id'),
            {"at": f"{day}{at}", "id": thread_id},
        )
    return thread_id


async def _three_visits(web: Web) -> None:
    await _kept(web, "alice", "bertrand.fr", "2026-03-01", (exact_reading(),))
    await _kept(web, "alice", "bertrand.en", "2026-03-05", (half_reading(),))
    await _kept(web, "bob", "bertrand.fr", "2026-03-09")


def _rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def _chart(page: str) -> dict[str, Any]:
    found = DATA.search(page)
    assert found, "no chart data on the page"
    chart: dict[str, Any] = json.loads(found.group(1))
    return chart


async def test_the_cohort_page_needs_a_login(web: Web) -> None:
    await _three_visits(web)
    anonymous = web.client()
    for path in ("/alliance/cohort", "/alliance/cohort?format=csv"):
        response = await anonymous.get(path)
        assert response.status_code == 401 and "alice" not in response.text


async def test_faculty_see_every_learner_with_a_line_of_the_chart_per_visit(web: Web) -> None:
    await _three_visits(web)
    prof = await web.login("prof")

    review = await prof.get("/alliance/review?lang=en")
    assert "/alliance/cohort?lang=en" in review.text and "Cohort in numbers" in review.text
    page = await prof.get("/alliance/cohort?lang=en")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("class='cohort-row'") == 3
    assert "<td>alice</td><td>bertrand.en</td>" in page.text and "<td>bob</td><td>bertrand.fr</td>" in page.text
    assert "2 of 2" in page.text  # repairs followed by a rise
    assert "100% (readings: 1)" in page.text and "33% (readings: 1)" in page.text and "no reading" in page.text
    traces = _chart(page.text)["traces"]
    assert [t["name"] for t in traces] == ["alice", "alice", "bob"]
    assert traces[0]["line"]["color"] == traces[1]["line"]["color"] != traces[2]["line"]["color"]
    assert [t["showlegend"] for t in traces] == [True, False, True]
    assert traces[0]["y"][1:] == [3.0, 4.0, 2.0, 3.0]

    french = await prof.get("/alliance/cohort", headers={"accept-language": "fr-CA"})
    assert "Cohorte" in french.text and "2 sur 2" in french.text and "100\u00a0%" in french.text


async def test_a_learner_sees_only_their_own_line_and_chart(web: Web) -> None:
    await _three_visits(web)
    alice, bob = await web.login("alice"), await web.login("bob")

    page = await alice.get("/alliance/cohort?lang=en")
    assert page.status_code == 200 and page.text.count("class='cohort-row'") == 2
    assert "bob" not in page.text
    assert {t["name"] for t in _chart(page.text)["traces"]} == {"alice"}
    assert {r["learner"] for r in _rows((await alice.get("/alliance/cohort?format=csv")).text)} == {"alice"}

    own = await bob.get("/alliance/cohort?lang=en")
    assert own.text.count("class='cohort-row'") == 1 and "alice" not in own.text


async def test_the_persona_and_date_filters_narrow_the_rows_and_the_chart(web: Web) -> None:
    await _three_visits(web)
    prof = await web.login("prof")

    by_persona = await prof.get("/alliance/cohort?lang=en&persona=bertrand.fr")
    assert by_persona.text.count("class='cohort-row'") == 2 and "<td>bertrand.en</td>" not in by_persona.text
    assert "<option value='bertrand.fr' selected>" in by_persona.text

    by_days = await prof.get("/alliance/cohort?lang=en&from=2026-03-02&to=2026-03-09")
    assert by_days.text.count("class='cohort-row'") == 2
    assert "<td>alice</td><td>bertrand.fr</td>" not in by_days.text
    assert len(_chart(by_days.text)["traces"]) == 2

    # The form sends empty fields for "any": they filter nothing.
    form = await prof.get("/alliance/cohort?lang=en&persona=&from=&to=2026-03-01")
    assert form.text.count("class='cohort-row'") == 1 and "<td>alice</td><td>bertrand.fr</td>" in form.text
    nothing = await prof.get("/alliance/cohort?lang=en&from=2027-01-01")
    assert "No visit matches." in nothing.text and "cohort-data" not in nothing.text
    assert (await prof.get("/alliance/cohort?from=March")).status_code == 400


async def test_the_csv_export_has_the_page_s_rows_with_the_same_filters(web: Web) -> None:
    await _three_visits(web)
    prof = await web.login("prof")

    response = await prof.get("/alliance/cohort?format=csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _rows(response.text)
    assert [(r["learner"], r["persona"]) for r in rows] == [
        ("alice", "bertrand.en"),
        ("alice", "bertrand.fr"),
        ("bob", "bertrand.fr"),
    ]
    alice_fr = rows[1]
    assert alice_fr["visits"] == "1" and alice_fr["turns"] == "9"
    assert (alice_fr["ruptures_withdrawal"], alice_fr["ruptures_confrontation"]) == ("1", "2")
    assert (alice_fr["ruptures_by_clinician"], alice_fr["ruptures_by_patient"]) == ("1", "2")
    repairs = ("clarifying", "reflective", "emotional", "exploratory")
    assert [alice_fr[f"repairs_{f}"] for f in repairs] == ["1", "1", "1", "0"]
    assert (alice_fr["repairs_by_clinician"], alice_fr["repairs_by_patient"]) == ("2", "1")
    assert (alice_fr["missed_repairs"], alice_fr["repairs_worked"], alice_fr["repairs_assessed"]) == ("1", "2", "2")
    assert (alice_fr["readings"], alice_fr["reading_mean"]) == ("1", "1.0000")
    assert (rows[0]["reading_mean"], rows[2]["readings"], rows[2]["reading_mean"]) == ("0.3333", "0", "")

    filtered = _rows((await prof.get("/alliance/cohort?format=csv&persona=bertrand.fr&to=2026-03-05")).text)
    assert [(r["learner"], r["persona"]) for r in filtered] == [("alice", "bertrand.fr")]


async def test_the_chart_s_scripts_come_from_our_own_origin_and_the_page_runs_no_inline_script(web: Web) -> None:
    await _three_visits(web)
    prof = await web.login("prof")
    page = (await prof.get("/alliance/cohort")).text

    assert "script-src 'self'" in page and "cdn" not in page.lower()
    for tag in re.findall(r"<script[^>]*>", page):
        assert " src='/alliance/cohort/" in tag or "type='application/json'" in tag, tag
    same_origin = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script"}
    plotly = await prof.get("/alliance/cohort/plotly.min.js", headers=same_origin)
    assert plotly.status_code == 200 and plotly.headers["content-type"].startswith("text/javascript")
    assert "plotly.js" in plotly.text[:2000] and len(plotly.content) > 1_000_000
    chart = await web.client().get("/alliance/cohort/cohort.js", headers=same_origin)
    assert chart.status_code == 200 and "Plotly.newPlot" in chart.text and "cohort-data" in chart.text
    elsewhere = {**same_origin, "sec-fetch-site": "cross-site"}
    assert (await prof.get("/alliance/cohort/plotly.min.js", headers=elsewhere)).status_code == 403


async def test_hostile_names_stay_text_on_the_page_and_in_the_chart_data(web: Web) -> None:
    payload = "</script><script>alert(1)</script>"
    await _kept(web, f"o {payload}", f"p {payload}", "2026-03-01")
    prof = await web.login("prof")

    page = (await prof.get("/alliance/cohort?lang=en")).text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert [t["name"] for t in _chart(page)["traces"]] == [f"o {payload}"]
    rows = _rows((await prof.get("/alliance/cohort?format=csv")).text)
    assert [(r["learner"], r["persona"]) for r in rows] == [(f"o {payload}", f"p {payload}")]


async def test_a_time_kept_without_its_zone_is_read_as_utc_beside_the_others(web: Web) -> None:
    await _three_visits(web)
    await _kept(web, "alice", "bertrand.fr", "2026-03-02", at="T09:00:00")  # an older row, or another writer
    prof = await web.login("prof")

    rows = _rows((await prof.get("/alliance/cohort?format=csv&from=2026-03-02&to=2026-03-02")).text)
    assert [(r["learner"], r["persona"], r["visits"]) for r in rows] == [("alice", "bertrand.fr", "1")]
    assert (await prof.get("/alliance/cohort")).text.count("class='cohort-row'") == 3
