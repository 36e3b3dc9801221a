"""Fit the monitor's calibration on the dev split (never on held-out, external or ordinary sets).

    python -m agent.devtools.calibrate [--dev evals/datasets/gold_fr_dev.jsonl ...]   (make calibrate)

Runs the detector and the alliance layer, uncalibrated, on the dev items; every finding is right or
wrong against the item's gold labels; `agent.evaluator.calibration.Calibration.fit` fits a Platt map
and a threshold per family; the result goes to `agent/evaluator/data/calibration.json`, with the
detector's training-data hash (refit after `make detector`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent.config import REPO_ROOT
from agent.domain.events import AllianceEvent
from agent.eval.dataset import LabelledItem, read_items
from agent.evaluator.calibration import CALIBRATION_PATH, Calibration, family
from agent.evaluator.detector import Detector, load_default_model
from agent.evaluator.merge import AllianceEvaluator

DEV = sorted((REPO_ROOT / "evals" / "datasets").glob("gold_*_dev.jsonl"))


def finding_is_right(event: AllianceEvent, item: LabelledItem) -> bool | None:
    """Whether a finding agrees with the item's gold labels (None: a missed repair, not scored here)."""
    name = family(event)
    if name == "clin_repair":
        return event.function is not None and (event.function.value == item.gold_label or event.function in item.repair)
    if name == "clin_perspectives":
        return "explore_perspectives" in item.repair
    if name == "clin_rupture":
        return event.rupture is not None and event.rupture.value == item.rupture
    if name == "pat_rupture":
        return event.rupture is not None and event.rupture.value == item.gold_label
    if name == "pat_repair":
        return bool(item.repair)
    return None


async def dev_findings(items: list[LabelledItem]) -> list[tuple[str, float, bool]]:
    evaluator = AllianceEvaluator(Detector(), calibration=Calibration())  # raw confidences
    out = []
    for item in items:
        for event in await evaluator.evaluate(item.transcript(), item.lang or "en"):
            right, name = finding_is_right(event, item), family(event)
            if right is not None and name is not None:
                out.append((name, event.confidence, right))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", nargs="*", type=Path, default=DEV, help="dev split(s) (never held-out)")
    parser.add_argument("--out", type=Path, default=CALIBRATION_PATH)
    args = parser.parse_args(argv)
    if any("heldout" in p.name or "ordinary" in p.name or "external" in p.name for p in args.dev):
        parser.error("only the dev split may tune the calibration")
    items = [item for path in args.dev for item in read_items(path).items]
    findings = asyncio.run(dev_findings(items))
    meta = {
        "dev_files": sorted(p.name for p in args.dev),
        "dev_findings": len(findings),
        "detector_train_sha256": load_default_model().meta.get("train_sha256", "?"),
    }
    calibration = Calibration.fit(findings, meta)
    calibration.save(args.out)
    for name, platt in sorted(calibration.maps.items()):
        print(
            f"{name:>18}  a={platt.a:.3f} b={platt.b:.3f} threshold={platt.threshold:.3f} fitted_on={platt.fitted_on}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
