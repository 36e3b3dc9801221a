"""Faculty label kept sessions, blind, then see their agreement with one another and with the monitor (issue 15).

- `GET /alliance/label/{thread}`: the transcript, one label per turn (the taxonomy's values, the party who
  ruptures, the evidence span copied from the turn). The monitor's findings are not on this page: labels are
  given blind. `POST` saves the rater's labels (all turns at once, replacing theirs of before); a turn whose
  evidence is not in it is refused with a message beside it, and everything typed is shown again.
- `GET /alliance/agreement/{thread}`: Cohen's kappa for each pair of raters, Krippendorff's alpha over them all,
  both label by label; each rater and the consensus against the monitor; the turns they disagree on, each with
  a consensus form (`POST .../consensus`). Shown only to a rater who has labelled the session (still blind
  before), with the monitor's label of each turn.
Faculty only (403 for a learner); a session that does not exist is a 404. Same-origin POSTs only (the origin
check of `agent.web.security`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agent.config import Settings
from agent.domain.annotation import ANNOTATION_LABELS, NONE, RUPTURE_LABELS, TurnAnnotation, annotation, monitor_label
from agent.domain.session import Turn
from agent.domain.taxonomy import Lang, Speaker, display
from agent.eval.rater_agreement import CONSENSUS, MONITOR, PairAgreement, rater_agreement
from agent.i18n.catalog import number, t
from agent.persona.loader import load_library
from agent.storage.access import AccessDenied, Requester
from agent.storage.labels import LabelStore
from agent.storage.sessions import SessionStore, StoredSession
from agent.web.pages import render
from agent.web.review import PREFIX, StoreGetter, _lang, _requester


@dataclass
class TurnRow:
    """One turn on the labelling page, with what the rater chose (or typed, when it was refused)."""

    id: int
    speaker: str
    text: str
    label: str = ""
    party: str = ""
    evidence: str = ""
    error: str = ""


def label_options(lang: Lang) -> list[tuple[str, list[tuple[str, str]]]]:
    """The labels grouped as the taxonomy groups them: rupture markers, repair attempts, none."""
    rupture = [(v, display(v, lang)) for v in RUPTURE_LABELS]
    repair = [(v, display(v, lang)) for v in ANNOTATION_LABELS if v not in RUPTURE_LABELS and v != NONE]
    return [
        (display("rupture_marker", lang), rupture),
        (display("repair_attempt", lang), repair),
        ("", [(NONE, t("labels.none", lang))]),
    ]


SPEAKER_KEYS = {Speaker.clinician: "labels.clinician", Speaker.patient: "labels.patient"}


def _who(turn: Turn, lang: Lang) -> str:
    return t(SPEAKER_KEYS[turn.speaker], lang)


def _coefficient(value: float | None, lang: Lang) -> str:
    return "—" if value is None else number(value, lang, decimals=2, fixed=True)


def read_form(form: dict[str, str], turns: list[Turn], lang: Lang) -> tuple[list[TurnAnnotation], list[TurnRow]]:
    """The rater's labels from the submitted form, and the rows to show again (with an error where refused)."""
    labels: list[TurnAnnotation] = []
    rows: list[TurnRow] = []
    for turn in turns:
        row = TurnRow(
            turn.id,
            _who(turn, lang),
            turn.text,
            form.get(f"label_{turn.id}", ""),
            form.get(f"party_{turn.id}", ""),
            form.get(f"evidence_{turn.id}", ""),
        )
        if row.label:
            try:
                labels.append(annotation(turn.id, row.label, turn.speaker, turn.text, row.party, row.evidence))
            except ValueError:
                row.error = t("labels.bad_evidence" if row.evidence.strip() else "labels.bad_label", lang)
        rows.append(row)
    return labels, rows


def _pairs(pairs: list[PairAgreement], labels: list[str], lang: Lang) -> list[dict[str, object]]:
    def name(rater: str) -> str:
        return {MONITOR: t("labels.monitor", lang), CONSENSUS: t("labels.consensus", lang)}.get(rater, rater)

    return [
        {
            "first": name(p.first),
            "second": name(p.second),
            "units": p.units,
            "agreed": p.agreed,
            "kappa": _coefficient(p.kappa, lang),
            "by_label": [_coefficient(p.by_label.get(label), lang) for label in labels],
        }
        for p in pairs
    ]


def labelling_router(store_of: StoreGetter, settings: Settings) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    label_stores: dict[int, LabelStore] = {}

    def stores() -> tuple[SessionStore, LabelStore]:
        sessions = store_of()
        if sessions is None:
            raise HTTPException(status_code=503, detail="sessions are not being kept")
        labels = label_stores.get(id(sessions.engine))
        if labels is None:
            labels = label_stores[id(sessions.engine)] = LabelStore(sessions.engine)
        return sessions, labels

    async def faculty_session(thread_id: str) -> tuple[Requester, StoredSession, LabelStore]:
        requester = _requester()
        if requester.role != "faculty":
            raise HTTPException(status_code=403, detail="faculty only")
        sessions, labels = stores()
        try:
            stored = await sessions.read(thread_id, requester)
        except AccessDenied:
            raise HTTPException(status_code=403, detail="not yours to see") from None
        if stored is None:
            raise HTTPException(status_code=404, detail="no such session")
        return requester, stored, labels

    def patient(stored: StoredSession) -> str:
        """The patient's name as the persona gives it (the id when the persona file is gone)."""
        loaded = load_library(settings.personas_dir).personas.get(stored.session.persona_id)
        return loaded.persona.display_name if loaded else stored.session.persona_id

    def label_page(stored: StoredSession, rows: list[TurnRow], lang: Lang, saved_error: bool = False) -> str:
        return render(
            "label.html.j2",
            lang=lang,
            prefix=PREFIX,
            thread=stored.thread_id,
            title=t("labels.title", lang, patient=patient(stored)),
            intro=t("labels.intro", lang),
            heads=[t("labels.col_" + c, lang) for c in ("turn", "who", "words", "label", "party", "evidence")],
            options=label_options(lang),
            parties=[("", t("labels.party_speaker", lang))] + [(s.value, t(SPEAKER_KEYS[s], lang)) for s in Speaker],
            unlabelled=t("labels.unlabelled", lang),
            save=t("labels.save", lang),
            refused=t("labels.refused", lang) if saved_error else "",
            rows=rows,
        )

    @router.get("/label/{thread_id}", response_class=HTMLResponse)
    async def label(request: Request, thread_id: str, lang: str | None = None) -> HTMLResponse:
        requester, stored, labels = await faculty_session(thread_id)
        mine = (await labels.ratings(thread_id, requester)).get(requester.identifier, {})
        language = _lang(request, lang)
        rows = []
        for turn in stored.session.turns:
            given = mine.get(turn.id)
            party = given.party.value if given and given.party and given.party is not turn.speaker else ""
            row = TurnRow(turn.id, _who(turn, language), turn.text)
            if given:
                row.label, row.party, row.evidence = given.label, party, given.evidence
            rows.append(row)
        return HTMLResponse(label_page(stored, rows, language))

    @router.post("/label/{thread_id}")
    async def save_labels(request: Request, thread_id: str, lang: str | None = None) -> Response:
        requester, stored, labels = await faculty_session(thread_id)
        language = _lang(request, lang)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        given, rows = read_form(form, stored.session.turns, language)
        if any(row.error for row in rows):
            return HTMLResponse(label_page(stored, rows, language, saved_error=True), status_code=422)
        await labels.save(thread_id, requester, given)
        return RedirectResponse(f"{PREFIX}/agreement/{thread_id}?lang={language}", status_code=303)

    @router.get("/agreement/{thread_id}", response_class=HTMLResponse)
    async def agreement(request: Request, thread_id: str, lang: str | None = None) -> HTMLResponse:
        requester, stored, labels = await faculty_session(thread_id)
        language = _lang(request, lang)
        ratings = await labels.ratings(thread_id, requester)
        consensus = await labels.consensus(thread_id, requester)
        blind = requester.identifier not in ratings
        turns = stored.session.turns
        monitor = {turn.id: monitor_label(stored.session.events, turn.id) for turn in turns}
        plain = {rater: {tid: a.label for tid, a in given.items()} for rater, given in ratings.items()}
        report = rater_agreement(plain, monitor, {tid: a.label for tid, a in consensus.items()})
        raters = report.raters
        disagreed = {d.unit for d in report.disagreements}
        rows = [
            {
                "id": turn.id,
                "who": _who(turn, language),
                "text": turn.text,
                "labels": [display(plain[r][turn.id], language) if turn.id in plain[r] else "" for r in raters],
                "monitor": display(monitor[turn.id], language),
                "consensus": consensus[turn.id].label if turn.id in consensus else "",
                "disagreed": turn.id in disagreed,
            }
            for turn in turns
        ]
        page = render(
            "agreement.html.j2",
            lang=language,
            prefix=PREFIX,
            thread=thread_id,
            t={key.removeprefix("labels."): t(key, language) for key in AGREEMENT_WORDS},
            title=t("labels.agreement_title", language, patient=patient(stored)),
            blind=blind,
            raters=raters,
            units=report.units,
            alpha=_coefficient(report.alpha, language),
            labels=[display(label, language) for label in report.labels],
            alpha_by_label=[_coefficient(report.alpha_by_label.get(label), language) for label in report.labels],
            pairs=_pairs(report.pairs, report.labels, language),
            with_monitor=_pairs(report.with_monitor, report.labels, language),
            rows=rows,
            options=label_options(language),
        )
        return HTMLResponse(page)

    @router.post("/agreement/{thread_id}/consensus")
    async def decide(request: Request, thread_id: str, lang: str | None = None) -> Response:
        requester, stored, labels = await faculty_session(thread_id)
        form = await request.form()
        turn = next((x for x in stored.session.turns if str(x.id) == form.get("turn")), None)
        chosen = str(form.get("label") or "")
        if turn is None or chosen not in ANNOTATION_LABELS:
            raise HTTPException(status_code=422, detail="a turn of this session and a label, please")
        await labels.decide(thread_id, requester, annotation(turn.id, chosen, turn.speaker, turn.text))
        language = _lang(request, lang)
        return RedirectResponse(f"{PREFIX}/agreement/{thread_id}?lang={language}#turn-{turn.id}", status_code=303)

    return router


AGREEMENT_WORDS = (  # the agreement page's words, by catalog key
    "labels.blind",
    "labels.label_first",
    "labels.raters",
    "labels.units",
    "labels.alpha",
    "labels.kappa",
    "labels.pairs",
    "labels.with_monitor",
    "labels.by_label",
    "labels.turns",
    "labels.turn",
    "labels.who",
    "labels.words",
    "labels.monitor",
    "labels.consensus",
    "labels.decide",
    "labels.agreed",
    "labels.none_yet",
    "labels.back",
)
