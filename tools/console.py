"""`make console NODE=<name>`: the VM's serial console on the hypervisor the stack made it on,
read from the stack's outputs (hypervisors: each VM's libvirt URI, or libvirtUri for a stack
made before that output; domains); never a guess at another hypervisor.

    python -m tools.console --stack dev NODE
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.stack_outputs import node_names, outputs  # noqa: E402


def console_command(stack: str, node: str) -> list[str]:
    found = outputs(stack)
    node_names(stack, found, node)
    domains = found.get("domains") or {}
    uri = (found.get("hypervisors") or {}).get(node) or found.get("libvirtUri")
    if not uri or node not in domains:
        raise SystemExit(
            f"error: stack {stack} made no VM for {node} (existing machines have no console "
            "here; use make ssh)"
        )
    if shutil.which("virsh") is None:
        raise SystemExit(
            "error: virsh is not installed: sudo apt-get install libvirt-clients "
            "(Fedora/RHEL: sudo dnf install libvirt-client)"
        )
    return ["virsh", "--connect", uri, "console", domains[node]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("node")
    arguments = parser.parse_args(argv)
    command = console_command(arguments.stack, arguments.node)
    os.execvp(command[0], command)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
