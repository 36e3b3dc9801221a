"""The tests mirror the package, and share helpers only through tests/support (a pytest plugin)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
SHARED = ("tests.support", "tests.fixtures")
NOT_A_PART = {"support", "fixtures", "e2e", "architecture"}  # helpers, data, the real app, the layout itself


def imports_of_other_tests(source: str) -> list[str]:
    """Modules a test file imports that are other test modules (or conftest), not shared helpers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom):
            if node.level > 0:  # a relative import inside tests/ reaches another test module
                found.append("." * node.level + (node.module or ""))
                continue
            names = [node.module or ""]
            if node.module == "tests":
                names = [f"tests.{a.name}" for a in node.names]
        for name in names:
            leaf = name.rsplit(".", 1)[-1]
            in_tests = name.startswith("tests.") and not name.startswith(SHARED)
            if in_tests or leaf.startswith("test_") or leaf == "conftest":
                found.append(name)
    return found


def test_the_check_catches_a_test_importing_another() -> None:
    assert imports_of_other_tests("from test_auth import web\n") == ["test_auth"]
    assert imports_of_other_tests("from tests.web.test_app_handlers import harness\n")
    assert imports_of_other_tests("import conftest\n") == ["conftest"]
    assert imports_of_other_tests("from .test_app_handlers import harness\n") == [".test_app_handlers"]
    assert imports_of_other_tests("from tests import conftest\n") == ["tests.conftest"]
    assert imports_of_other_tests("from tests.support.network import NetworkGuard\n") == []


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(REPO)): hits
        for path in TESTS.rglob("*.py")
        if (hits := imports_of_other_tests(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"share helpers through tests/support instead: {offenders}"


def test_test_folders_mirror_the_subpackages() -> None:
    parts = {p.parent.name for p in (REPO / "agent").glob("*/__init__.py")}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders - NOT_A_PART <= parts, f"test folders with no subpackage: {folders - NOT_A_PART - parts}"
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert loose == ["test_config.py", "test_conversation.py"], (
        f"put these tests in the folder of the part they test: {loose}"
    )
