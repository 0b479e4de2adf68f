"""Each helper that the tests, the fault suite, the benches and the CI scripts share is defined once, in testutils.

A copy of a helper (a port finder, a wait, a process stopper, an account over HTTP...) drifts from the original:
its timeouts, its messages, its fixes. The files are parsed, not imported: a bench or a script is never run here.
"""

import ast
from collections import Counter
from pathlib import Path

from testutils import PROJECT

HOME = PROJECT / "testutils"
# Where helpers get copied: the root conftest, the apps' tests, the fault suite, the benches, the CI scripts.
TREES = [PROJECT / "conftest.py", *PROJECT.glob("*/tests"), PROJECT / "faults", PROJECT / "bench", PROJECT / ".ci"]
# Names of copies that were folded into testutils under another name: they must not come back either.
FORMER_COPIES = {
    "wait_for": "wait_until",
    "wait_http": "wait_for_http",
    "children": "child_pids",
    "worker_pid": "child_pids",
    "WebhookReceiver": "Receiver",
    "s3_client": "S3Server.client",
    "_database_url": "current_database_url",
}


def python_files() -> list[Path]:
    files: list[Path] = []
    for tree in TREES:
        found = [tree] if tree.is_file() else tree.rglob("*.py")
        files += [path for path in found if "node_modules" not in path.parts]
    return sorted(files)


def definitions(path: Path) -> list[tuple[str, int]]:
    """(name, line) of every class and function defined in a file, nested ones included; methods left out (a
    `kill` method of an object is not a copy of the function `kill`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    methods = {
        id(node)
        for parent in ast.walk(tree)
        if isinstance(parent, ast.ClassDef)
        for node in parent.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return [(node.name, node.lineno) for node in ast.walk(tree) if isinstance(node, kinds) and id(node) not in methods]


def shared_helpers() -> dict[str, Path]:
    """The public classes and functions testutils defines at the top of its modules, and where."""
    found: dict[str, Path] = {}
    for path in sorted(HOME.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                found[node.name] = path
    return found


def test_the_scan_sees_the_trees_and_the_helpers():
    files = python_files()
    for expected in ("conftest.py", "faults/stack.py", "bench/service.py", ".ci/browser/stack.py"):
        assert PROJECT / expected in files
    assert any(path.match("images/tests/test_api.py") for path in files)
    assert {"free_port", "wait_until", "wait_for_http", "terminate", "kill_group", "account_over_http"} <= set(
        shared_helpers()
    )


def test_testutils_defines_each_helper_once():
    names = Counter(
        node.name
        for path in HOME.glob("*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    )
    assert [name for name, count in names.items() if count > 1] == []


def test_no_shared_helper_is_defined_again_outside_testutils():
    shared = shared_helpers()
    copies = []
    for path in python_files():
        for name, line in definitions(path):
            home = shared.get(name) or FORMER_COPIES.get(name)
            if home:
                where = home.relative_to(PROJECT) if isinstance(home, Path) else f"testutils ({home})"
                copies.append(f"{path.relative_to(PROJECT)}:{line} defines {name}: import it from {where}")
    assert copies == []
