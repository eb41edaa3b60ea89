"""The README stays true to the project: its commands, keys and layout exist."""

from __future__ import annotations

import re

from conftest import PROJECT_FILE, ROOT

README = (ROOT / "README.md").read_text()


def test_every_config_key_is_in_the_readme_table():
    missing = [key for key in PROJECT_FILE["config"] if f"`{key}`" not in README]
    assert missing == []


def test_ci_runs_the_readmes_test_command():
    assert "make test" in README
    ci = (ROOT / ".ci/run").read_text()
    assert "exec make test" in ci


def test_every_component_file_is_in_the_layout():
    missing = [
        path.name
        for path in (ROOT / "components").glob("*.py")
        if path.name != "__init__.py" and f"components/{path.name}" not in README
    ]
    assert missing == []


def test_every_make_target_in_the_readme_exists_and_every_target_is_documented():
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, re.M)[1].split())
    mentioned = set(re.findall(r"`make ([a-z-]+)", README)) | set(
        re.findall(r"^make ([a-z-]+)", README, re.M)
    )
    assert mentioned <= phony, mentioned - phony
    internal = {"stack", "lint", "python-check"}
    assert phony - internal <= mentioned, phony - internal - mentioned


def test_every_tool_is_in_the_layout():
    missing = [
        path.name
        for path in (ROOT / "tools").glob("*.py")
        if path.name != "__init__.py" and f"tools/{path.name}" not in README
    ]
    assert missing == []


def test_the_readme_lists_the_init_flags_the_script_passes():
    script = (ROOT / "components/scripts/init-control-plane.sh").read_text()
    passed = set(re.findall(r"(--[a-z-]+)", script.split("init_flags=(", 1)[1]))
    listed = set(re.findall(r"(--[a-z-]+)", README.split("kubeadm init --apiserver", 1)[1][:400]))
    listed.add("--apiserver-advertise-address")
    assert passed == listed
