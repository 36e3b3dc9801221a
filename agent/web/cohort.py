"""The cohort page for faculty (issue 15): `/alliance/cohort`, per learner and per patient, with a Plotly
chart of each visit's alliance and a CSV export (`?format=csv`, the same rows).

Faculty see every learner; a learner sees only their own line and lines (the store's access rule: every
session is read through `SessionStore` with the requester). Filters: `persona`, and `from` / `to` (ISO days,
both included) on the day of the visit's last turn. The counting is `agent.debrief.cohort`'s.

The chart is drawn in the browser by plotly.js, served from here (the plotly package's own offline copy,
never a CDN: class rooms may have no network). The page allows scripts from its own origin only
(`script-src 'self'`), so the figure's data travels as a JSON data block read by `cohort.js`, not as an
inline script. The scripts hold no data and need no login.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from agent.config import Settings
from agent.debrief.cohort import Cohort, CohortFilter, CohortRow, CohortVisit, build_cohort, repair_columns
from agent.domain.taxonomy import Lang, RuptureType, Speaker, display
from agent.i18n.catalog import percent, t
from agent.persona.loader import load_library
from agent.persona.model import Persona
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import SessionStore
from agent.web.pages import render

PREFIX = "/alliance"
SCRIPT_CACHE = "public, max-age=86400"
# One colour per learner (Plotly's default qualitative palette), in the order of the rows.
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880", "#ff97ff", "#fecb52")


@cache
def plotly_js() -> bytes:
    """plotly.min.js as the installed plotly package ships it (read once)."""
    return resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()


@cache
def chart_js() -> bytes:
    return resources.files("agent.web").joinpath("templates/cohort.js").read_bytes()


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None  # the form sends an empty field for "any"
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{name}: an ISO date (YYYY-MM-DD) is expected") from None


def _when(updated_at: str) -> datetime:
    """The kept time, always aware (UTC when it says nothing): aware and naive times do not sort together."""
    try:
        when = datetime.fromisoformat(updated_at)
    except ValueError:
        when = datetime.min
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def visible_visits(store: SessionStore, requester: Requester) -> list[CohortVisit]:
    """Every kept visit the requester may see, read through the store's access rule."""
    visits = []
    for summary in await store.list_visible(requester, limit=5000):
        try:
            stored = await store.read(summary.thread_id, requester)
        except AccessDenied:
            continue
        if stored is None or (requester.role != "faculty" and stored.owner != requester.identifier):
            continue
        visits.append(
            CohortVisit(stored.thread_id, stored.owner, _when(stored.updated_at), stored.session, stored.view.readings)
        )
    return visits


# --------------------------------------------------------------------------- CSV


def to_csv(rows: list[CohortRow]) -> str:
    """One line per learner and patient; column names are stable ids (taxonomy values), for spreadsheets."""
    repairs = repair_columns(rows)
    head = ["learner", "persona", "visits", "turns"]
    head += [f"ruptures_{r.value}" for r in RuptureType] + [f"ruptures_by_{s.value}" for s in Speaker]
    head += [f"repairs_{label}" for label in repairs] + [f"repairs_by_{s.value}" for s in Speaker]
    head += ["missed_repairs", "repairs_worked", "repairs_assessed", "readings", "reading_mean"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(head)
    for row in rows:
        writer.writerow(
            [row.learner, row.persona_id, row.visits, row.turns]
            + [row.ruptures_by_type.get(r, 0) for r in RuptureType]
            + [row.ruptures_by_party.get(s, 0) for s in Speaker]
            + [row.repairs_by_function.get(label, 0) for label in repairs]
            + [row.repairs_by_party.get(s, 0) for s in Speaker]
            + [row.missed_repairs, row.repairs_worked, row.repairs_assessed, row.readings]
            + ["" if row.reading_mean is None else f"{row.reading_mean:.4f}"]
        )
    return out.getvalue()


# --------------------------------------------------------------------------- the page


def _parties(counts: dict[Speaker, int], lang: Lang) -> str:
    names = {Speaker.clinician: t("cohort.party_learner", lang), Speaker.patient: t("cohort.party_patient", lang)}
    return ", ".join(f"{names[s]} {counts.get(s, 0)}" for s in Speaker)


def _cells(row: CohortRow, lang: Lang) -> dict[str, str]:
    by_type = ", ".join(f"{display(r.value, lang)} {n}" for r, n in row.ruptures_by_type.items())
    repairs = ", ".join(f"{display(label, lang)} {n}" for label, n in sorted(row.repairs_by_function.items()))
    reading = (
        t("cohort.reading", lang, score=percent(row.reading_mean, lang), count=str(row.readings))
        if row.reading_mean is not None
        else t("cohort.no_reading", lang)
    )
    return {
        "learner": row.learner,
        "persona": row.persona_id,
        "visits": str(row.visits),
        "turns": str(row.turns),
        "ruptures": t(
            "cohort.ruptures",
            lang,
            total=str(row.ruptures),
            types=by_type,
            parties=_parties(row.ruptures_by_party, lang),
        ),
        "repairs": t(
            "cohort.repairs",
            lang,
            total=str(row.repairs),
            functions=repairs or t("debrief.none", lang),
            parties=_parties(row.repairs_by_party, lang),
        ),
        "missed": str(row.missed_repairs),
        "worked": t("cohort.worked", lang, worked=str(row.repairs_worked), assessed=str(row.repairs_assessed)),
        "reading": reading,
    }


def chart(cohort: Cohort, lang: Lang) -> dict[str, Any]:
    """Plotly's traces and layout: one line per visit, one colour (and one legend group) per learner."""
    learners = list(dict.fromkeys(row.learner for row in cohort.rows))
    traces, shown = [], set()
    for path in cohort.trajectories:
        colour = PALETTE[learners.index(path.learner) % len(PALETTE)]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": path.turns,
                "y": path.alliance,
                "name": path.learner,
                "legendgroup": path.learner,
                "showlegend": path.learner not in shown,
                "line": {"color": colour},
                "hovertext": f"{path.learner} · {path.persona_id} · {path.updated_at:%Y-%m-%d %H:%M}",
                "hoverinfo": "text+y",
            }
        )
        shown.add(path.learner)
    layout = {
        "xaxis": {"title": {"text": t("debrief.turn", lang)}},
        "yaxis": {"title": {"text": t("debrief.alliance_axis", lang)}, "range": [0.8, 7.2]},
        "margin": {"t": 20},
        "height": 420,
    }
    return {"traces": traces, "layout": layout}


def _page(
    cohort: Cohort,
    requester: Requester,
    personas: Iterable[str],
    admit: CohortFilter,
    lang: Lang,
    names: dict[str, str],
) -> str:
    heads = ("learner", "persona", "visits", "turns", "ruptures", "repairs", "missed", "worked", "reading")
    query = {"persona": admit.persona or "", "from": str(admit.start or ""), "to": str(admit.end or "")}
    return render(
        "cohort.html.j2",
        lang=lang,
        prefix=PREFIX,
        title=t("cohort.title", lang),
        scope=t("cohort.scope_faculty" if requester.role == "faculty" else "cohort.scope_learner", lang),
        who=requester.identifier,
        empty=t("cohort.empty", lang),
        heads=[t("cohort.col_" + c, lang) for c in heads],
        columns=heads,
        rows=[_cells(row, lang) for row in cohort.rows],
        chart_title=t("cohort.chart_title", lang),
        chart_help=t("cohort.chart_help", lang),
        chart=chart(cohort, lang),
        filter_persona=t("cohort.filter_persona", lang),
        filter_all=t("cohort.filter_all", lang),
        filter_from=t("cohort.filter_from", lang),
        filter_to=t("cohort.filter_to", lang),
        filter_apply=t("cohort.filter_apply", lang),
        csv_link=t("cohort.csv", lang),
        back=t("cohort.back", lang),
        personas=[{"id": p, "name": names.get(p, p)} for p in personas],
        query=query,
    )


def cohort_router(
    store: Callable[[], SessionStore],
    settings: Settings,
    lang_of: Callable[[Request, str | None], Lang],
    requester_of: Callable[[], Requester],
) -> APIRouter:
    """The page and its two scripts. `store`, `lang_of` and `requester_of` are the review pages' own."""
    router = APIRouter(prefix=PREFIX)

    @router.get("/cohort")
    async def cohort_page(
        request: Request,
        persona: str | None = None,
        start: str | None = Query(None, alias="from"),
        end: str | None = Query(None, alias="to"),
        format: Literal["html", "csv"] = "html",
        lang: str | None = None,
    ) -> Response:
        requester: Requester = requester_of()
        admit = CohortFilter(persona or None, _day(start, "from"), _day(end, "to"))
        visits = await visible_visits(store(), requester)
        library = load_library(settings.personas_dir).personas

        def persona_of(persona_id: str) -> Persona | None:
            found = library.get(persona_id)
            return found.persona if found else None

        cohort = build_cohort(visits, persona_of, admit)
        if format == "csv":
            return Response(
                to_csv(cohort.rows),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": 'attachment; filename="cohort.csv"'},
            )
        personas = sorted({v.persona_id for v in visits})
        names = {p: found.persona.display_name for p in personas if (found := library.get(p)) is not None}
        return HTMLResponse(_page(cohort, requester, personas, admit, lang_of(request, lang), names))

    @router.get("/cohort/plotly.min.js")
    async def plotly_script() -> Response:
        return Response(
            plotly_js(), media_type="text/javascript; charset=utf-8", headers={"cache-control": SCRIPT_CACHE}
        )

    @router.get("/cohort/cohort.js")
    async def chart_script() -> Response:
        return Response(
            chart_js(), media_type="text/javascript; charset=utf-8", headers={"cache-control": SCRIPT_CACHE}
        )

    return router
