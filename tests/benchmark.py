"""Figures about the program, measured under mocks (not a test; pytest does not collect it).

    .venv/bin/python tests/benchmark.py [runs]

Prints, for each track's shipped stack (dev: the tutorial, current: the current track; ha and
multihost), and for 30 nodes on the multihost stack's three hypervisors, the wall time of
whole-program evaluations, and, read from the resource graph, the number of remote steps and
the longest chain of remote steps from a VM to a joined worker.
"""

from __future__ import annotations

import statistics
import sys
import time
from functools import cache
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]

from conftest import run_with_fake_home, stack_config  # noqa: E402

COMMAND = "command:remote:Command"


def remote_chain(run) -> tuple[int, list[str]]:
    """Longest path of remote commands (counting commands only) ending at a worker's
    registration, over every kind of dependency the engine orders by."""
    by_urn = {r.urn: r for r in run.resources}

    def direct(resource):
        deps = set(resource.dependencies)
        for urns in resource.property_dependencies.values():
            deps.update(urns)
        return [by_urn[u] for u in deps if u in by_urn]

    @cache
    def longest(urn: str) -> tuple[int, tuple[str, ...]]:
        resource = by_urn[urn]
        best: tuple[int, tuple[str, ...]] = (0, ())
        for dep in direct(resource):
            best = max(best, longest(dep.urn))
        if resource.type == COMMAND:
            return best[0] + 1, (*best[1], resource.name)
        return best

    ends = [r for r in run.of_type(COMMAND) if r.name.endswith("-registered")]
    length, path = max(longest(r.urn) for r in ends)
    return length, list(path)


def thirty_nodes_on_three_hypervisors() -> list[dict]:
    """A master and 29 workers, a third each on libvirtUri, hv2 and hv3 (Pulumi.multihost.yaml)."""
    return [
        {
            "name": f"node{i:02d}",
            "address": f"192.168.80.{100 + i}",
            "role": "master" if i == 0 else "worker",
            **({"hypervisor": ["hv2", "hv3"][i % 3 - 1]} if i % 3 else {}),
        }
        for i in range(30)
    ]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    cases = [(stack, stack, stack_config(stack)) for stack in ("dev", "current", "ha", "multihost")]
    cases.append(
        (
            "multihost, 30 nodes on 3 hypervisors",
            "multihost",
            stack_config("multihost", nodes=thirty_nodes_on_three_hypervisors()),
        )
    )
    for label, stack, config in cases:
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            run = run_with_fake_home(config, stack=stack)
            timings.append(time.perf_counter() - start)
        print(f"stack {label}: whole-program evaluation, {runs} runs:")
        print(
            f"  median {statistics.median(timings) * 1000:.0f} ms, min {min(timings) * 1000:.0f} ms"
        )
        print(f"  resources registered: {len(run.resources)}")
        commands = run.of_type(COMMAND)
        print(f"  remote steps (remote.Command resources): {len(commands)}")
        length, path = remote_chain(run)
        print(f"  longest chain of remote steps from VM to joined worker: {length}")
        print("    " + " -> ".join(path))


if __name__ == "__main__":
    main()
