"""The make targets of everyday use, run for real with fake `pulumi`, `ssh` and `virsh`
executables that record what they are asked and answer like the real ones."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import FAKE_PRIVATE_KEY, ROOT, key_pair

HOST_KEY = key_pair("node01 host key")[1]
OUTPUTS = {
    "nodes": {"k8s-master": "192.168.50.21", "k8s-node01": "192.168.50.22"},
    "sshUser": "centos",
    "hostKeys": {"k8s-master": key_pair("master host key")[1], "k8s-node01": HOST_KEY},
}
SMOKE = "urn:pulumi:dev::kubeadm-libvirt::kubeadm-libvirt:check:SmokeCheck"
URNS = f"""Current stack resources (4):
    TYPE                               NAME
    pulumi:pulumi:Stack                kubeadm-libvirt-dev
    │  URN: urn:pulumi:dev::kubeadm-libvirt::pulumi:pulumi:Stack::kubeadm-libvirt-dev
    ├─ kubeadm-libvirt:check:SmokeCheck  smoke
    │  URN: {SMOKE}::smoke
    │  ├─ command:remote:Command     smoke-cluster
    │  │  URN: {SMOKE}$command:remote:Command::smoke-cluster
    │  └─ command:remote:Command     smoke-k8s-node01-registry
    │     URN: {SMOKE}$command:remote:Command::smoke-k8s-node01-registry
"""


@pytest.fixture
def fakes(tmp_path):
    """A PATH with fake pulumi/ssh/virsh/mkisofs; each records its argv in <name>.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    (tmp_path / "urns.txt").write_text(URNS)
    (tmp_path / "key").write_text(FAKE_PRIVATE_KEY)
    pulumi = f"""#!/bin/bash
printf '%s\\n' "$*" >>{tmp_path}/pulumi.log
case "$*" in
  "version") echo v3.259.0 ;;
  "stack select --create "*) ;;
  "stack output --json --stack "*) cat {tmp_path}/outputs.json ;;
  "stack output kubeconfig --show-secrets --stack "*) printf 'apiVersion: v1\\nkind: Config\\n' ;;
  "stack --stack "*" --show-urns") cat {tmp_path}/urns.txt ;;
  "config get sshPrivateKey --stack "*) cat {tmp_path}/key ;;
  "config get hostSource --stack "*) echo libvirt ;;
  "config get libvirtUri --stack "*) echo qemu:///system ;;
  "up "*) ;;
  *) echo "fake pulumi: unexpected $*" >&2; exit 1 ;;
esac
"""
    for name, script in {
        "pulumi": pulumi,
        "ssh": f'#!/bin/bash\nprintf "%s\\n" "$@" >{tmp_path}/ssh.log\n'
        f'for a in "$@"; do case $a in UserKnownHostsFile=*) cat "${{a#*=}}" '
        f">{tmp_path}/known_hosts.seen;; esac; done\n"
        f'[[ -f $2 ]] && stat -c %a "$2" >{tmp_path}/key.mode\n',
        "virsh": f'#!/bin/bash\nprintf "%s\\n" "$*" >>{tmp_path}/virsh.log\n',
        "mkisofs": "#!/bin/bash\n",
    }.items():
        path = bin_dir / name
        path.write_text(script)
        path.chmod(0o755)
    return tmp_path


def make(fakes: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {
        "PATH": f"{fakes / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "PULUMI_CONFIG_PASSPHRASE": "test",
        **(env or {}),
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_make_kubeconfig_writes_a_0600_file(fakes):
    target = ROOT / "kubeconfig"
    try:
        result = make(fakes, "kubeconfig")
        assert result.returncode == 0, result.stdout + result.stderr
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert yaml.safe_load(target.read_text())["kind"] == "Config"
    finally:
        target.unlink(missing_ok=True)


def test_make_ssh_uses_the_programs_key_and_pins_the_nodes_host_key(fakes):
    result = make(fakes, "ssh", "NODE=k8s-node01")
    assert result.returncode == 0, result.stdout + result.stderr
    argv = (fakes / "ssh.log").read_text().splitlines()
    assert argv[-1] == "centos@192.168.50.22"
    assert "StrictHostKeyChecking=yes" in argv and "IdentitiesOnly=yes" in argv
    assert (fakes / "known_hosts.seen").read_text() == f"192.168.50.22 {HOST_KEY}\n"
    assert (fakes / "key.mode").read_text().strip() == "600"


def test_make_ssh_names_the_nodes_it_knows(fakes):
    result = make(fakes, "ssh", "NODE=k8s-node07")
    assert result.returncode != 0
    assert "no node 'k8s-node07'" in result.stderr and "k8s-master, k8s-node01" in result.stderr


def test_make_check_runs_only_the_smoke_check_again(fakes):
    result = make(fakes, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    (up,) = [
        line for line in (fakes / "pulumi.log").read_text().splitlines() if line.startswith("up ")
    ]
    assert up.split().count("--target-replace") == 2
    assert "::smoke-cluster" in up and "::smoke-k8s-node01-registry" in up
    assert "SmokeCheck::smoke " not in up + " "


def test_make_console_opens_the_serial_console_on_the_stacks_hypervisor(fakes):
    result = make(fakes, "console", "NODE=k8s-master")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        fakes / "virsh.log"
    ).read_text().strip() == "--connect qemu:///system console k8s-master"


def test_make_up_stops_at_a_blocker_before_pulumi_up(fakes):
    stack_file = ROOT / "Pulumi.maketest.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"kubeadm-libvirt:podNetworkCidr": "bad"}}))
    try:
        result = make(fakes, "up", "STACK=maketest")
    finally:
        stack_file.unlink()
    assert result.returncode != 0
    assert "config podNetworkCidr='bad'" in result.stdout
    log = fakes / "pulumi.log"
    assert not log.exists() or not any(
        line.startswith("up") for line in log.read_text().splitlines()
    )
