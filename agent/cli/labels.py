"""`alliance labels export --out FILE.jsonl` and `alliance labels agreement [--session ID]`: the faculty's labels
of kept sessions, read from the app's database (DATABASE_URL, else the SQLite file under DATA_DIR).

Whoever runs this has the database itself, so reads it as faculty would. The agreement is printed as `key=value`
lines (for scripts and CI logs): `alpha`, `kappa[a,b]` for each pair of raters, `kappa[rater,monitor]` for each
rater and the consensus, and the same label by label (`alpha[withdrawal]`, ...); `-` where undefined.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from agent.config import Settings
from agent.domain.annotation import monitor_label
from agent.eval.label_export import LabelledSession, export_items
from agent.eval.rater_agreement import PairAgreement, RaterAgreement, rater_agreement
from agent.i18n.catalog import cli_lang, t
from agent.storage.access import Requester
from agent.storage.labels import LabelStore
from agent.storage.sessions import SessionStore, database_url, make_engine

OPERATOR = Requester("alliance-cli", "faculty")


class LabelsError(Exception):
    """A problem the user can fix, reported as one line."""


async def load_labelled(settings: Settings, thread: str | None = None) -> list[LabelledSession]:
    """The labelled sessions (or the one named), with every rater's labels and the consensus."""
    engine = make_engine(database_url(settings))
    try:
        sessions, labels = SessionStore(engine), LabelStore(engine)
        threads = [thread] if thread else await labels.labelled_threads(OPERATOR)
        out = []
        for each in threads:
            stored = await sessions.read(each, OPERATOR)
            if stored is None:
                raise LabelsError(t("cli.labels.no_session", cli_lang(), thread=each))
            ratings = await labels.ratings(each, OPERATOR)
            consensus = await labels.consensus(each, OPERATOR)
            out.append(LabelledSession(each, stored.owner, stored.session, ratings, consensus))
        return out
    finally:
        await engine.dispose()


def pooled_agreement(labelled: list[LabelledSession]) -> RaterAgreement:
    """Every labelled turn of these sessions as one set of units, (session, turn)."""
    ratings: dict[str, dict[tuple[str, int], str]] = {}
    monitor: dict[tuple[str, int], str] = {}
    consensus: dict[tuple[str, int], str] = {}
    for each in labelled:
        for rater, given in each.ratings.items():
            ratings.setdefault(rater, {}).update({(each.thread_id, tid): a.label for tid, a in given.items()})
        monitor.update({(each.thread_id, x.id): monitor_label(each.session.events, x.id) for x in each.session.turns})
        consensus.update({(each.thread_id, tid): a.label for tid, a in each.consensus.items()})
    return rater_agreement(ratings, monitor, consensus)


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def agreement_lines(report: RaterAgreement) -> list[str]:
    lines = [f"raters={','.join(report.raters)} units={report.units} alpha={_value(report.alpha)}"]
    lines += [f"alpha[{label}]={_value(report.alpha_by_label.get(label))}" for label in report.labels]

    def pair(p: PairAgreement) -> list[str]:
        head = f"kappa[{p.first},{p.second}]={_value(p.kappa)} units={p.units} agreed={p.agreed}"
        return [head] + [f"kappa[{p.first},{p.second}][{lab}]={_value(p.by_label.get(lab))}" for lab in report.labels]

    for each in [*report.pairs, *report.with_monitor]:
        lines += pair(each)
    return lines


def run(args: argparse.Namespace, settings: Settings) -> int:
    lang = cli_lang()
    try:
        labelled = asyncio.run(load_labelled(settings, getattr(args, "session", None)))
        if not labelled:
            raise LabelsError(t("cli.labels.none", lang))
    except LabelsError as exc:
        print(t("cli.labels.error", lang, message=exc), file=sys.stderr)
        return 2
    if args.labels_command == "agreement":
        print("\n".join(agreement_lines(pooled_agreement(labelled))))
        return 0
    items = export_items(labelled, consensus_only=args.consensus_only, with_learner=args.with_learner)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    print(t("cli.labels.exported", lang, count=len(items), sessions=len(labelled), path=args.out))
    return 0
