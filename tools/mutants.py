"""`make mutants`: mutation testing of components/ and tools/ with mutmut (configured in
pyproject.toml): every covered line mutated, each mutant run against the tests that cover it.
Ends with a short report: the score and every surviving mutant, to read with `mutmut show`.

    python tools/mutants.py [MUTANT_NAME_GLOB ...]    e.g. "components.settings*"

Slow (hours for everything on two cores), so not part of `make test`.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

MUTMUT = Path(sys.executable).parent / "mutmut"


def results() -> dict[str, str]:
    """mutant name -> status (killed, survived, timeout, no tests, ...)."""
    output = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in output.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def report(statuses: dict[str, str]) -> str:
    counts = collections.Counter(statuses.values())
    caught = counts["killed"] + counts["timeout"]
    judged = caught + counts["survived"]
    score = 100 * caught / judged if judged else 0.0
    lines = [f"{status}: {count}" for status, count in sorted(counts.items())]
    lines.append(f"score: {caught}/{judged} = {score:.1f}% (killed or timed out, of those tested)")
    survivors = sorted(name for name, status in statuses.items() if status == "survived")
    if survivors:
        lines.append("survivors (mutmut show <name>):")
        lines += [f"  {name}" for name in survivors]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not MUTMUT.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-r", "requirements-mutants.txt"],
            check=True,
        )
    children = str(os.cpu_count() or 1)
    subprocess.run([str(MUTMUT), "run", "--max-children", children, *argv], check=False)
    print(report(results()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
