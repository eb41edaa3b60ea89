"""The make targets of everyday use, run for real on a copy of the project with fake `pulumi`,
`ssh` and `virsh` executables that record what they are asked and answer like the real ones.
Nothing is written to this checkout: every run has its own copy (the real .venv is borrowed)."""

from __future__ import annotations

import json
import os
import shutil
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
    "libvirtUri": "qemu+ssh://root@hv.example/system",
    "domains": {"k8s-master": "k8s-master", "k8s-node01": "k8s-node01"},
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
VENV = ROOT / ".venv"
# What `make` needs of the project; copies keep their times, so the borrowed .venv is current.
PROJECT_FILES = (
    "Makefile",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.current.yaml",
    "requirements.txt",
    "requirements-test.txt",
)
PROJECT_DIRS = ("components", "tools", "manifests")


# Every source the doctor probes, on a loopback port where nothing listens: the doctor runs for
# real here and must send nothing off this machine.
CLOSED = "127.0.0.1:9"
LOOPBACK_SOURCES = {
    "kubeadm-libvirt:baseImage": f"http://{CLOSED}/centos7.qcow2",
    "kubeadm-libvirt:centosVaultBaseUrls": [f"http://{CLOSED}/vault"],
    "kubeadm-libvirt:dockerCeRepoUrl": f"http://{CLOSED}/docker",
    "kubeadm-libvirt:dockerCeGpgKey": f"http://{CLOSED}/gpg",
    "kubeadm-libvirt:kubernetesRepoUrls": [f"http://{CLOSED}/k8s/"],
    "kubeadm-libvirt:imageRepository": f"{CLOSED}/google_containers",
    "kubeadm-libvirt:flannelImage": f"{CLOSED}/flannel:v0.11.0",
    "kubeadm-libvirt:registryImage": f"{CLOSED}/registry:2.8.3",
    "kubeadm-libvirt:appSeedImage": f"{CLOSED}/app:1.0",
    "kubeadm-libvirt:appSeedToolImage": f"{CLOSED}/skopeo:v1.15.0",
}


# The same for the current track (its own keys; the tutorial's are refused there).
CURRENT_LOOPBACK_SOURCES = {
    **{k: v for k, v in LOOPBACK_SOURCES.items() if not k.endswith(":centosVaultBaseUrls")},
    "kubeadm-libvirt:kubernetesRepoUrls": [f"http://{CLOSED}/k8s/{{minor}}/rpm/"],
    "kubeadm-libvirt:flannelCniPluginImage": f"{CLOSED}/flannel-cni-plugin:v1.9.1-flannel3",
}


def write_stack_file(project: Path, stack: str, **config) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text()) if path.exists() else {"config": {}}
    current = document["config"].get("kubeadm-libvirt:track") == "current"
    document["config"].update(CURRENT_LOOPBACK_SOURCES if current else LOOPBACK_SOURCES)
    document["config"].update({f"kubeadm-libvirt:{k}": v for k, v in config.items()})
    path.write_text(yaml.safe_dump(document))


@pytest.fixture
def project(tmp_path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, copy / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    write_stack_file(copy, "dev")
    return copy


@pytest.fixture
def fakes(tmp_path):
    """A PATH with fake pulumi/ssh/virsh/mkisofs; each records its argv in <name>.log. The fake
    pulumi knows stack dev only, and fails without a stack the way the CLI does."""
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
  "stack select dev") ;;
  "stack select "*) echo "error: no stack named '${{3}}' found" >&2; exit 255 ;;
  "stack output --json --stack dev") cat {tmp_path}/outputs.json ;;
  "stack output kubeconfig --show-secrets --stack dev")
    [[ -f {tmp_path}/no-kubeconfig ]] && {{ echo "error: no output kubeconfig" >&2; exit 255; }}
    printf 'apiVersion: v1\\nkind: Config\\n' ;;
  "stack --stack dev --show-urns") cat {tmp_path}/urns.txt ;;
  "config get sshPrivateKey --stack dev") cat {tmp_path}/key ;;
  "up "*|"preview "*|"destroy "*) ;;
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


def make(project: Path, fakes: Path, *args: str, path: str | None = None, env=None):
    environment = {
        "PATH": path or f"{fakes / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "PULUMI_CONFIG_PASSPHRASE": "test",
        **(env or {}),
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), f"VENV={VENV}", *args],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def pulumi_calls(fakes: Path) -> list[str]:
    log = fakes / "pulumi.log"
    return log.read_text().splitlines() if log.exists() else []


def test_make_kubeconfig_writes_a_0600_file_in_the_project(project, fakes):
    result = make(project, fakes, "kubeconfig")
    assert result.returncode == 0, result.stdout + result.stderr
    target = project / "kubeconfig"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert yaml.safe_load(target.read_text())["kind"] == "Config"


def test_make_kubeconfig_replaces_an_open_file_or_a_symlink_with_a_0600_one(project, fakes):
    elsewhere = fakes / "shared-kubeconfig"
    elsewhere.write_text("old\n")
    elsewhere.chmod(0o644)
    (project / "kubeconfig").symlink_to(elsewhere)
    result = make(project, fakes, "kubeconfig")
    assert result.returncode == 0, result.stdout + result.stderr
    target = project / "kubeconfig"
    assert not target.is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert elsewhere.read_text() == "old\n", "the file the link pointed at is left alone"
    target.unlink()
    target.write_text("old\n")
    target.chmod(0o644)
    assert make(project, fakes, "kubeconfig").returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_make_kubeconfig_leaves_no_file(project, fakes):
    (fakes / "no-kubeconfig").touch()
    result = make(project, fakes, "kubeconfig")
    assert result.returncode != 0
    assert "no kubeconfig output" in result.stdout
    assert [p.name for p in project.iterdir() if p.name.startswith("kubeconfig")] == []


@pytest.mark.parametrize("target", ["outputs", "kubeconfig", "check"])
def test_read_only_targets_never_create_a_mistyped_stack(project, fakes, target):
    result = make(project, fakes, target, "STACK=dve")
    assert result.returncode != 0
    assert "there is no stack dve" in result.stdout
    assert not any("--create" in call for call in pulumi_calls(fakes))


def test_make_ssh_uses_the_programs_key_and_pins_only_the_nodes_host_key(project, fakes):
    result = make(project, fakes, "ssh", "NODE=k8s-node01")
    assert result.returncode == 0, result.stdout + result.stderr
    argv = (fakes / "ssh.log").read_text().splitlines()
    assert argv[-1] == "centos@192.168.50.22"
    assert "StrictHostKeyChecking=yes" in argv and "IdentitiesOnly=yes" in argv
    assert "GlobalKnownHostsFile=/dev/null" in argv
    assert (fakes / "known_hosts.seen").read_text() == f"192.168.50.22 {HOST_KEY}\n"
    assert (fakes / "key.mode").read_text().strip() == "600"


def test_make_ssh_names_the_nodes_it_knows(project, fakes):
    result = make(project, fakes, "ssh", "NODE=k8s-node07")
    assert result.returncode != 0
    assert "no node 'k8s-node07'" in result.stderr and "k8s-master, k8s-node01" in result.stderr


def test_make_ssh_without_the_cli_says_so_without_a_traceback(project, fakes):
    (fakes / "bin" / "pulumi").unlink()
    result = make(project, fakes, "ssh", "NODE=k8s-node01")
    assert result.returncode != 0
    assert "the Pulumi CLI is not installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_check_runs_only_the_smoke_check_again(project, fakes):
    result = make(project, fakes, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    (up,) = [line for line in pulumi_calls(fakes) if line.startswith("up ")]
    assert up.split().count("--target-replace") == 2
    assert "::smoke-cluster" in up and "::smoke-k8s-node01-registry" in up
    assert "SmokeCheck::smoke " not in up + " "


def test_make_console_opens_the_console_on_the_nodes_own_hypervisor(project, fakes):
    result = make(project, fakes, "console", "NODE=k8s-master")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (fakes / "virsh.log").read_text().strip() == (
        "--connect qemu+ssh://root@hv.example/system console k8s-master"
    )


def test_make_console_opens_a_vm_on_a_named_hypervisor_there(project, fakes):
    outputs = {
        **OUTPUTS,
        "hypervisors": {
            "k8s-master": "qemu+ssh://root@hv.example/system",
            "k8s-node01": "qemu+ssh://root@hv2.example/system",
        },
    }
    (fakes / "outputs.json").write_text(json.dumps(outputs))
    result = make(project, fakes, "console", "NODE=k8s-node01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (fakes / "virsh.log").read_text().strip() == (
        "--connect qemu+ssh://root@hv2.example/system console k8s-node01"
    )


def test_make_console_without_virsh_says_what_to_install(project, fakes):
    (fakes / "bin" / "virsh").unlink()
    path = f"{fakes / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    if shutil.which("virsh", path=path):
        pytest.skip("this machine has a real virsh on its PATH")
    result = make(project, fakes, "console", "NODE=k8s-master", path=path)
    assert result.returncode != 0
    assert "virsh is not installed" in result.stderr and "libvirt-clients" in result.stderr


def test_make_console_never_falls_back_to_another_hypervisor(project, fakes):
    outputs = dict(OUTPUTS)
    del outputs["libvirtUri"]
    (fakes / "outputs.json").write_text(json.dumps(outputs))
    result = make(project, fakes, "console", "NODE=k8s-master")
    assert result.returncode != 0 and "made no VM for k8s-master" in result.stderr
    assert not (fakes / "virsh.log").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STACK", "dev; touch PWNED"),
        ("STACK", "$(touch PWNED)"),
        ("NODE", "k8s-master;touch PWNED"),
        ("NODE", "`touch PWNED`"),
        ("ARGS", "--yes; touch PWNED"),
        ("ARGS", "$(touch PWNED)"),
    ],
)
def test_a_make_variable_is_data_never_shell_code(project, fakes, variable, value):
    target = {"STACK": "outputs", "NODE": "ssh", "ARGS": "ssh"}[variable]
    extra = [] if variable == "NODE" else ["NODE=k8s-node01"]
    make(project, fakes, target, f"{variable}={value}", *extra)
    assert not (project / "PWNED").exists()
    assert not Path("PWNED").exists()


def test_make_up_stops_at_a_blocker_before_pulumi_up(project, fakes):
    write_stack_file(project, "maketest", podNetworkCidr="bad")
    result = make(project, fakes, "up", "STACK=maketest")
    assert result.returncode != 0
    assert "config podNetworkCidr='bad'" in result.stdout
    assert not any(line.startswith("up") for line in pulumi_calls(fakes))


def test_make_up_stack_current_runs_the_doctor_for_the_current_track(project, fakes):
    """The shipped Pulumi.current.yaml reaches the doctor as the current track; a key of the
    other track stops it before pulumi up, named with its value."""
    write_stack_file(project, "current", dockerVersion="18.06.3.ce-3.el7")
    result = make(project, fakes, "up", "STACK=current")
    assert result.returncode != 0
    assert "track: current" in result.stdout, result.stdout
    assert "dockerVersion" in result.stdout and "18.06.3.ce-3.el7" in result.stdout
    assert "tutorial" in result.stdout
    assert not any(line.startswith("up") for line in pulumi_calls(fakes))


def test_make_up_without_a_stack_file_makes_no_stack(project, fakes):
    result = make(project, fakes, "up", "STACK=prod")
    assert result.returncode != 0
    assert "Pulumi.prod.yaml" in result.stdout
    assert not any(
        line.startswith(("up", "stack select --create prod")) for line in pulumi_calls(fakes)
    )


def test_the_first_make_target_prepares_plain_pulumi_commands(project, fakes):
    """After `make doctor`: the state folder, the stack selected (made from its stack file),
    and, with no passphrase of yours, the project's own (0600, made once)."""
    make(project, fakes, "doctor", env={"PULUMI_CONFIG_PASSPHRASE": ""})
    assert (project / ".pulumi-state").is_dir()
    assert "stack select --create dev" in pulumi_calls(fakes)
    assert not (project / ".pulumi-passphrase").exists(), "yours was set (even empty)"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), f"VENV={VENV}", "doctor"],
        capture_output=True,
        text=True,
        env={**environment, "PATH": f"{fakes / 'bin'}:{os.environ['PATH']}"},
        timeout=300,
    )
    passphrase = project / ".pulumi-passphrase"
    assert passphrase.is_file(), result.stdout + result.stderr
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    first = passphrase.read_text()
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), f"VENV={VENV}", "state"],
        env={**environment, "PATH": f"{fakes / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        timeout=60,
    )
    assert passphrase.read_text() == first, "made once, never replaced"


def test_a_state_without_its_passphrase_is_never_given_a_new_one(project, fakes):
    stacks = project / ".pulumi-state/.pulumi/stacks/kubeadm-libvirt"
    stacks.mkdir(parents=True)
    (stacks / "dev.json").write_text("{}")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), f"VENV={VENV}", "state"],
        env={**environment, "PATH": f"{fakes / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and ".pulumi-passphrase is gone" in result.stdout
    assert not (project / ".pulumi-passphrase").exists()


def test_plain_pulumi_commands_find_the_projects_state():
    """Pulumi.yaml's backend.url points plain `pulumi` at the same folder make uses."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["backend"]["url"] == "file://./.pulumi-state"
    makefile = (ROOT / "Makefile").read_text()
    assert "file://$(CURDIR)/.pulumi-state" in makefile
