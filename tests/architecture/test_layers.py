"""The layout is enforced, not described: import contracts, the shape of `agent/`, module size.

The contracts live in pyproject.toml (`[tool.importlinter]`) and `make lint` runs them; these tests
run them too, prove that a breach is caught, and keep the contracts complete when a subpackage is added.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agent"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
MAX_MODULE_LINES = 450
LOOSE_MODULES_ALLOWED = 4  # __init__, config (the one settings object), conversation (the one orchestrator)


def _subpackages() -> set[str]:
    return {p.parent.name for p in AGENT.glob("*/__init__.py")}


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the `agent` package found under `root`, with the repository's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy_of_agent(tmp_path: Path) -> Path:
    """The package's Python files only (no model weights), importable from tmp_path."""
    shutil.copytree(
        AGENT, tmp_path / "agent", ignore=shutil.ignore_patterns("data", "__pycache__", "*.toml", "templates")
    )
    return tmp_path


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("agent/domain/session.py", "import agent.persona.loader", "The domain imports nothing of ours but itself"),
        ("agent/domain/events.py", "import sqlalchemy", "The domain is free of frameworks"),
        ("agent/feedback/hints.py", "import chainlit", "Only the web edge imports Chainlit, Starlette or FastAPI"),
        (
            "agent/evaluator/detector.py",
            "import agent.patient.guard",
            "The evaluator never imports the patient or the persona",
        ),
        (
            "agent/evaluator/judge.py",
            "import agent.conversation",
            "The evaluator never imports the patient or the persona",
        ),
        ("agent/patient/engine.py", "import agent.evaluator.merge", "The patient never imports the evaluator"),
        ("agent/cli/main.py", "import agent.devtools.stub_llm", "The runtime never imports agent.devtools"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    root = _copy_of_agent(tmp_path)
    target = root / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # a breach, on purpose\n", encoding="utf-8")
    result = _lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout, result.stdout


def test_every_subpackage_is_placed_in_the_contracts() -> None:
    """A new subpackage must say where it stands: the contracts name every part explicitly."""
    by_name = {c["name"]: c for c in CONTRACTS}
    parts = {f"agent.{name}" for name in _subpackages()} | {"agent.config", "agent.conversation"}
    domain_may_not = set(by_name["The domain imports nothing of ours but itself"]["forbidden_modules"])
    assert domain_may_not == parts - {"agent.domain"}
    web_free = set(by_name["Only the web edge imports Chainlit, Starlette or FastAPI"]["source_modules"])
    assert web_free == parts - {"agent.web", "agent.devtools"}
    runtime = set(by_name["The runtime never imports agent.devtools"]["source_modules"])
    assert runtime == parts - {"agent.devtools"}


def test_agent_shows_its_subpackages_and_few_loose_modules() -> None:
    loose = sorted(p.name for p in AGENT.glob("*.py"))
    assert len(loose) <= LOOSE_MODULES_ALLOWED, loose
    expected = {"domain", "persona", "llm", "patient", "evaluator", "feedback", "debrief", "storage", "web", "cli"}
    expected |= {"eval", "devtools", "i18n"}
    assert _subpackages() == expected


def test_no_module_is_over_the_size_limit() -> None:
    too_long = {
        str(path.relative_to(REPO)): n
        for path in AGENT.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these modules (limit {MAX_MODULE_LINES} lines): {too_long}"


def test_the_devtools_stay_out_of_the_wheel() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"][
        "find"
    ]
    assert "agent.devtools" in find["exclude"] and "agent.devtools.*" in find["exclude"]
