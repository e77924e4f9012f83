"""Guards for the promises the repository makes about itself: two commands, a strict CI script, docs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CI_RUN = ROOT / ".ci" / "run"


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def test_makefile_has_the_targets_the_docs_promise() -> None:
    assert {"install", "demo", "test", "lint", "typecheck"} <= _make_targets()


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:8])
    assert "make demo" in head
    assert "make test" in head


def test_readme_links_to_the_developer_guide() -> None:
    assert "(DEVELOPERS.md)" in (ROOT / "README.md").read_text()
    assert (ROOT / "DEVELOPERS.md").is_file()


def test_ci_script_is_strict_bash() -> None:
    text = CI_RUN.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to syntax-check .ci/run")
    subprocess.run([bash, "-n", str(CI_RUN)], check=True)


def test_ci_script_runs_lint_typecheck_and_tests_against_the_real_services() -> None:
    text = CI_RUN.read_text()
    for command in ("make install", "make lint", "make typecheck", "make test"):
        assert command in text
    for variable in (
        "CARLOOP_TEST_DATABASE_URL",
        "CARLOOP_TEST_MQTT_URL",
        "CARLOOP_TEST_NATS_URL",
        "CARLOOP_CHROMIUM",
    ):
        assert f"export {variable}" in text


def test_ci_script_treats_no_tests_as_a_failure() -> None:
    text = CI_RUN.read_text()
    assert "no tests ran" in text
    assert re.search(r"\[0-9\]\+ passed", text)
