"""The README stays true to the project: its commands, keys and layout exist."""

from __future__ import annotations

import re

from conftest import PROJECT_FILE, ROOT

from components.platforms import platform, tracks

README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs/configuration.md").read_text()


def table_rows(heading: str) -> list[list[str]]:
    """The cells of each row of the first table of docs/configuration.md after heading."""
    table = CONFIGURATION.split(heading, 1)[1].split("\n\n", 1)[0]
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("|") and not line.startswith("| ---")
    ]


def configuration_rows() -> list[tuple[list[str], list[str]]]:
    """(keys, their default cells) of each row of the table of every stack's settings."""
    return [
        (re.findall(r"`([A-Za-z]+)`", cells[0]), cells[1].split(" / "))
        for cells in table_rows("| key | default | what it is |")
    ]


def track_rows() -> dict[str, dict[str, str]]:
    """key -> track -> its cell, of the table of settings whose default depends on the track."""
    rows = {}
    for cells in table_rows("| key | tutorial | current | what it is |"):
        (key,) = re.findall(r"`([A-Za-z]+)`", cells[0])
        rows[key] = {"tutorial": cells[1], "current": cells[2]}
    return rows


def test_every_config_key_is_in_the_configuration_reference_once():
    listed = [key for keys, _ in configuration_rows() for key in keys] + list(track_rows())
    assert sorted(listed) == sorted(PROJECT_FILE["config"])


def test_the_configuration_reference_shows_the_project_defaults():
    """Where a row shows a default as code, it is the one Pulumi.yaml declares."""
    checked = 0
    for keys, defaults in configuration_rows():
        if len(keys) != len(defaults):
            continue
        for key, cell in zip(keys, defaults, strict=True):
            declared = PROJECT_FILE["config"][key]["default"]
            shown = re.match(r"\s*`([^`]*)`", cell)
            if shown is None or not isinstance(declared, (str, int, bool)):
                continue
            expected = str(declared).lower() if isinstance(declared, bool) else str(declared)
            assert shown[1] in (expected, '""' if expected == "" else expected), (key, cell)
            checked += 1
    assert checked >= 25


def test_the_track_table_shows_each_platforms_defaults():
    """The track keys are empty in Pulumi.yaml, and the reference says what each track makes of
    them: its platform's default, or a dash where the key is the other track's only."""
    for key, cells in track_rows().items():
        assert PROJECT_FILE["config"][key]["default"] in ("", []), key
        for track, cell in cells.items():
            default = platform(track).defaults.get(key)
            if default is None:
                assert cell == "—" and key in {k for p in tracks() for k in p.own_keys}, key
                continue
            values = default if isinstance(default, tuple) else (default,)
            assert re.findall(r"`([^`]*)`", cell)[: len(values)] == list(values), (key, track)


def test_the_quick_start_comes_first():
    lines = README.splitlines()
    assert lines.index("## Quick start") < 60
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:3] == ["## Quick start", "## Requirements", "## The phases"]


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
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, re.M)[1].split())
    mentioned = set(re.findall(r"`make ([a-z-]+)", README)) | set(
        re.findall(r"^make ([a-z-]+)", README, re.M)
    )
    assert mentioned <= phony, mentioned - phony
    internal = {"stack", "existing-stack", "lint", "python-check", "names", "state", "cli"}
    assert phony - internal <= mentioned, phony - internal - mentioned


def test_every_tool_is_in_the_layout():
    missing = [
        path.name
        for path in (ROOT / "tools").glob("*.py")
        if path.name != "__init__.py" and f"tools/{path.name}" not in README
    ]
    assert missing == []


def test_the_readme_lists_the_init_flags_the_tutorial_passes():
    from conftest import run_with_fake_home, script_of, script_values, stack_config

    run = run_with_fake_home(stack_config("dev", keepSwap=True))
    values = script_values(script_of(run.named("control-plane-init").plain_inputs["create"]))
    passed = {flag.split("=")[0] for flag in values["INIT_FLAGS"].splitlines() if flag[:2] == "--"}
    sentence = README.split("kubeadm init --apiserver", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"(--[a-z-]+)", sentence))
    listed.add("--apiserver-advertise-address")
    assert passed == listed


def test_make_mutants_copies_every_stack_file_the_tests_read():
    """mutmut runs the tests in a copy holding only source_paths and also_copy: a shipped stack
    file left out fails every test that reads it there, and no mutant is judged."""
    # A regular expression, not tomllib: the tests run on Python 3.10 as well.
    text = (ROOT / "pyproject.toml").read_text()
    listed = re.search(r"^also_copy = \[(.*?)\]", text, re.M | re.S)
    copied = set(re.findall(r'"([^"]+)"', listed[1]))
    stacks = {path.name for path in ROOT.glob("Pulumi*.yaml")}
    assert stacks <= copied, sorted(stacks - copied)
