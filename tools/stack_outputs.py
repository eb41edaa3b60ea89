"""The stack's outputs and config through the Pulumi CLI, for the everyday make targets; every
failure is one line naming what to do, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

INSTALL = "curl -fsSL https://get.pulumi.com | sh -s -- --version 3.260.0"


def pulumi(*argv: str) -> str:
    """stdout of `pulumi argv...`; SystemExit with its error when it fails or is missing."""
    if shutil.which("pulumi") is None:
        raise SystemExit(f"error: the Pulumi CLI is not installed; install it with: {INSTALL}")
    result = subprocess.run(["pulumi", *argv], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: pulumi {' '.join(argv)}: {result.stderr.strip()}")
    return result.stdout


def outputs(stack: str) -> dict[str, Any]:
    return json.loads(pulumi("stack", "output", "--json", "--stack", stack) or "{}")


def node_names(stack: str, found: dict[str, Any], node: str) -> None:
    """SystemExit naming the stack's nodes unless node is one of them."""
    nodes = found.get("nodes") or {}
    if node not in nodes:
        names = ", ".join(sorted(nodes)) or "none: run make up first"
        raise SystemExit(f"error: no node {node!r} in stack {stack} (nodes: {names})")
