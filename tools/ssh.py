"""`make ssh NODE=<name>`: a shell on a node as the program reaches it: the same user and key,
and the node's SSH host key pinned, as every remote step of `pulumi up` pins it.

    python -m tools.ssh --stack dev NODE [ssh arguments...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.settings import FALLBACK_KEYS  # noqa: E402
from tools.stack_outputs import node_names, outputs, pulumi  # noqa: E402


def ssh_command(stack: str, node: str, extra: list[str], workdir: Path) -> list[str]:
    """The ssh command line, with a 0600 key file and a known_hosts file in workdir."""
    found = outputs(stack)
    node_names(stack, found, node)
    address, user = found["nodes"][node], found["sshUser"]
    configured = pulumi("config", "get", "sshPrivateKey", "--stack", stack).rstrip("\n")
    if configured:
        key = workdir / "key"
        key.touch(mode=0o600)
        key.write_text(configured + "\n")
    else:
        ssh_dir = Path.home() / ".ssh"
        key = next((ssh_dir / n for n in FALLBACK_KEYS if (ssh_dir / n).is_file()), None)
        if key is None:
            raise SystemExit(f"error: no sshPrivateKey and none of {', '.join(FALLBACK_KEYS)}")
    options = ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    host_key = (found.get("hostKeys") or {}).get(node)
    if host_key:
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(f"{address} {host_key}\n")
        # Only this file counts: a key listed for the address in the system-wide files
        # (GlobalKnownHostsFile, ssh_config(5)) would be accepted too.
        options += [
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"HostKeyAlgorithms={host_key.split()[0]}",
        ]
    else:
        print(
            f"warning: no host key for {node} in the stack: its identity is not checked",
            file=sys.stderr,
        )
    return ["ssh", *options, f"{user}@{address}", *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("node")
    parser.add_argument("ssh_arguments", nargs=argparse.REMAINDER)
    arguments = parser.parse_args(argv)
    if shutil.which("ssh") is None:
        raise SystemExit("error: ssh is not installed (openssh-client)")
    with tempfile.TemporaryDirectory(prefix="kubeadm-libvirt-ssh-") as workdir:
        os.chmod(workdir, 0o700)
        command = ssh_command(
            arguments.stack, arguments.node, arguments.ssh_arguments, Path(workdir)
        )
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
