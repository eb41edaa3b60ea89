"""The host scripts, run for real: rendered exactly as the program sends them over SSH, executed
by bash in a sandboxed CentOS 7 tree (tests/sandbox.py) with stubbed system tools.

Every script gets a first run (the documented work), a second run on the result (no install,
no init or join, no Docker restart, every file byte-identical) and a failure then a rerun once
the failing step recovers. The destroy scripts must leave a host that can join again.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import (
    MOCK_JOIN_COMMAND,
    ROOT,
    is_secret_input,
    require_tool,
    run_with_fake_home,
    script_of,
    script_values,
    stack_config,
)
from sandbox import (
    CENTOS_BASH,
    CENTOS_FSTAB_SWAP,
    CENTOS_HOSTS,
    Entry,
    Host,
    Lab,
    Result,
    unavailable_reason,
)

from components import scripts
from components.platforms.centos7 import PIN_HOST_KEY
from components.platforms.centos7 import PLATFORM as CENTOS7
from components.settings import NodeSpec, Role
from components.worker import parse_join_command, token_id

_reason = unavailable_reason()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

MASTER, WORKER = "k8s-master", "k8s-node01"
ADDRESSES = {
    "k8s-master": "192.168.50.21/24",
    "k8s-node01": "192.168.50.22/24",
    "k8s-node02": "192.168.50.23/24",
}
NODES = list(ADDRESSES)
INIT = "control-plane-init"
USER_KUBECONFIG = "control-plane-user-kubeconfig"
KUBECONFIG = "control-plane-kubeconfig"
JOIN_COMMAND = f"worker-{WORKER}-join-command"
JOIN = f"worker-{WORKER}-join"
REGISTERED = f"worker-{WORKER}-registered"
REGISTRY_ADDRESS = "registry-address"
REGISTRY_UNIT = "/etc/systemd/system/kubeadm-libvirt-registry-address.service"
MOCK_TOKEN_ID = "abcdef"

DOCKER_PACKAGE = "docker-ce-18.06.3.ce-3.el7"
KUBERNETES_PACKAGES = ["kubelet-1.13.1-0", "kubeadm-1.13.1-0", "kubectl-1.13.1-0"]
CNI_PACKAGE = "kubernetes-cni-0.6.0-0"
REGISTRY = "192.168.50.24:5000"
HOSTS_BLOCK = (
    "# BEGIN kubeadm-libvirt\n"
    "192.168.50.21 k8s-master\n192.168.50.22 k8s-node01\n192.168.50.23 k8s-node02\n"
    "# END kubeadm-libvirt\n"
)
TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")
JOIN_PATTERN = re.compile(
    r"kubeadm join 192\.168\.50\.21:6443 --token ([a-z0-9]{6})\.[a-z0-9]{16} "
    r"--discovery-token-ca-cert-hash sha256:[0-9a-f]{64}"
)

# What a second run must never do again.
REPEATED_WORK = [
    ("yum", "install"),
    ("yum", "clean"),
    ("kubeadm", "init"),
    ("kubeadm", "join"),
    ("systemctl", "restart"),
    ("systemctl", "enable"),
    ("systemctl", "disable"),
    ("hostnamectl",),
    ("setenforce",),
    ("swapoff",),
    ("ip", "link", "delete"),
    ("iptables-restore",),
    ("kubectl", "drain"),
    ("kubectl", "delete"),
]


# --- the commands as the program sends them ---------------------------------------------------


@dataclass(frozen=True, repr=False)
class Sent:
    """One command:remote:Command as registered: its scripts and its stdin."""

    name: str
    create: str
    update: str | None
    delete: str | None
    stdin: str | None

    def __repr__(self) -> str:
        return f"<Sent {self.name}>"

    def script_name(self, phase: str) -> str | None:
        """Which components/scripts/*.sh the create or delete line runs."""
        names = self.script_names(phase)
        return names[0] if names else None

    def script_names(self, phase: str) -> tuple[str, ...]:
        """Every components/scripts/*.sh the line runs: the script, then the parts it is
        rendered with."""
        line = getattr(self, phase)
        if line is None:
            return ()
        text = script_of(line)
        found = re.search(r"^# kubeadm-libvirt (\S+)\.sh$", text, re.MULTILINE)
        assert found, f"{self.name} ({phase}) is not a rendered host script"
        return (found.group(1), *re.findall(r"^# with (\S+)\.sh$", text, re.MULTILINE))


def evaluate(stack: str, **overrides) -> dict[str, Sent]:
    """What the program sends to the hosts with stack's file and overrides, under mocks with a
    throwaway HOME (session fixtures cannot use ssh_home)."""
    run = run_with_fake_home(stack_config(stack, **overrides), stack=stack)
    return {
        r.name: Sent(
            r.name,
            r.plain_inputs["create"],
            r.plain_inputs.get("update"),
            r.plain_inputs.get("delete"),
            r.plain_inputs.get("stdin"),
        )
        for r in run.of_type("command:remote:Command")
    }


def _evaluate(**overrides) -> dict[str, Sent]:
    return evaluate("dev", **overrides)


@pytest.fixture(scope="session")
def sent() -> dict[str, Sent]:
    """Existing-machine mode: the mode where the delete scripts run."""
    return _evaluate(hostSource="existing")


def joining(join_command: str, name: str = WORKER) -> str:
    """The JoinConfiguration the program makes of a printed join command."""
    node = NodeSpec(name, ADDRESSES[WORKER].split("/")[0], Role.WORKER, 2, 2048, 20)
    join = parse_join_command(join_command)
    return CENTOS7.join_configuration(join, node, "192.168.50.21:6443", settings=None)


def run(lab: Lab, host: str, command: Sent, phase: str = "create", stdin: str | None = None):
    """Run a command's create, update or delete line on a host, with the stdin the program
    gives it."""
    line = getattr(command, phase)
    assert line is not None, f"{command.name} has no {phase} command"
    if stdin is None:
        stdin = command.stdin or ""
    return lab.host(host).run(line, stdin=stdin, label=f"{command.name} ({phase})")


def succeeded(result: Result) -> Result:
    if not result.ok:
        pytest.fail(f"expected success\n{result}", pytrace=False)
    return result


def failed(result: Result, message: str) -> Result:
    if result.ok:
        pytest.fail(f"expected a failure\n{result}", pytrace=False)
    if message not in result.stderr:
        pytest.fail(f"expected {message!r} on stderr\n{result}", pytrace=False)
    return result


def changes(before: dict[str, Entry], after: dict[str, Entry], mtimes: bool = True) -> list[str]:
    """What differs between two snapshots of a host's files, one line per path."""
    lines = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is None:
            lines.append(f"added {path}")
        elif new is None:
            lines.append(f"removed {path}")
        else:
            fields = ["kind", "mode", "owner", "content"] + (["mtime_ns"] if mtimes else [])
            differ = [f for f in fields if getattr(old, f) != getattr(new, f)]
            if differ:
                lines.append(f"changed {path} ({', '.join(differ)})")
    return lines


def assert_no_repeated_work(result: Result, allowed: tuple[tuple[str, ...], ...] = ()) -> None:
    repeated = [
        str(call)
        for call in result.calls
        for prefix in REPEATED_WORK
        if prefix not in allowed and call.startswith(*prefix)
    ]
    assert not repeated, f"{result.label} did the work again: {repeated}\n{result}"


def assert_second_run_is_a_no_op(
    host: Host, command: Sent, phase: str = "create", stdin: str | None = None, allowed=()
) -> Result:
    before = host.snapshot()
    state_before = (host.installed(), host.unit("docker"), host.unit("kubelet"), host.iptables())
    result = succeeded(run(host.lab, host.name, command, phase, stdin))
    assert_no_repeated_work(result, allowed)
    diff = changes(before, host.snapshot())
    assert not diff, f"{result.label} changed files on its second run: {diff}"
    state_after = (host.installed(), host.unit("docker"), host.unit("kubelet"), host.iptables())
    assert state_after == state_before, f"{result.label} changed the host's state"
    return result


# --- labs: fresh, prepared, initialised, joined (session-wide, cloned by tests) --------------


@dataclass
class Stage:
    lab: Lab
    results: dict[str, Result]


@pytest.fixture(scope="session")
def fresh(tmp_path_factory) -> Lab:
    return Lab.create(tmp_path_factory.mktemp("fresh") / "lab", ADDRESSES)


@pytest.fixture(scope="session")
def prepared(fresh, sent, tmp_path_factory) -> Stage:
    lab = fresh.clone(tmp_path_factory.mktemp("prepared") / "lab")
    results = {name: run(lab, name, sent[f"node-{name}-prepare"]) for name in NODES}
    return Stage(lab, results)


@pytest.fixture(scope="session")
def initialised(prepared, sent, tmp_path_factory) -> Stage:
    for result in prepared.results.values():
        succeeded(result)
    lab = prepared.lab.clone(tmp_path_factory.mktemp("initialised") / "lab")
    return Stage(lab, {INIT: run(lab, MASTER, sent[INIT])})


@pytest.fixture(scope="session")
def joined(initialised, sent, tmp_path_factory) -> Stage:
    """node01 joined with the join command the mocks give the program."""
    succeeded(initialised.results[INIT])
    lab = initialised.lab.clone(tmp_path_factory.mktemp("joined") / "lab")
    lab.accept_join_command(MOCK_JOIN_COMMAND)
    return Stage(lab, {JOIN: run(lab, WORKER, sent[JOIN])})


@pytest.fixture
def clone(tmp_path):
    def make(stage: Stage | Lab) -> Lab:
        lab = stage.lab if isinstance(stage, Stage) else stage
        return lab.clone(tmp_path / "lab")

    return make


# --- the sandbox itself ----------------------------------------------------------------------


def test_libvirt_mode_sends_the_same_scripts_as_existing_machines(dev_run, sent):
    for resource in dev_run.of_type("command:remote:Command"):
        inputs = resource.plain_inputs
        ours = sent[resource.name]
        assert (
            inputs["create"],
            inputs.get("update"),
            inputs.get("delete"),
            inputs.get("stdin"),
        ) == (ours.create, ours.update, ours.delete, ours.stdin), resource.name


def test_sandbox_shadows_every_tool_that_could_change_the_real_host(fresh, clone):
    lab = clone(fresh)
    tools = "yum rpm systemctl setenforce getenforce modprobe sysctl swapoff hostname hostnamectl "
    tools += "docker kubeadm kubectl ip iptables-save iptables-restore cloud-init sleep sudo"
    probe = (
        f"for t in {tools}; do command -v $t; done; "
        "for f in /usr/bin/systemctl /usr/sbin/sysctl /usr/sbin/swapoff /usr/bin/hostname "
        "/usr/sbin/ip /usr/bin/mount; do "
        '[[ -e $f ]] || continue; cmp -s "$f" /.stubs/$(basename "$f") || '
        'cmp -s "$f" /.stubs/_forbidden || echo "REAL $f"; done; '
        "touch /usr/sandbox-probe 2>/dev/null && echo 'USR WRITABLE'; "
        "mount -t tmpfs none /mnt 2>/dev/null && echo 'MOUNTED'; true"
    )
    result = succeeded(lab.host(MASTER).run(probe, label="probe"))
    resolved = result.stdout.split()
    assert resolved[: len(tools.split())] == [f"/.stubs/{t}" for t in tools.split()], result
    assert "REAL" not in result.stdout and "WRITABLE" not in result.stdout, result
    assert "MOUNTED" not in result.stdout, result


def test_prepare_leaves_the_real_hosts_files_and_hostname_alone(fresh, clone, sent):
    watched = [Path("/etc/hosts"), Path("/etc/fstab"), Path("/etc/hostname")]
    before = [p.read_bytes() if p.exists() else None for p in watched], socket.gethostname()
    succeeded(run(clone(fresh), MASTER, sent[f"node-{MASTER}-prepare"]))
    after = [p.read_bytes() if p.exists() else None for p in watched], socket.gethostname()
    assert after == before


# --- prepare-node.sh -------------------------------------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_prepare_first_run_succeeds(prepared, node):
    result = succeeded(prepared.results[node])
    assert f"==> [{node}] host prepared" in result.stdout


def test_prepare_sets_the_hostname(prepared):
    master = prepared.lab.host(MASTER)
    assert prepared.results[MASTER].ran("hostnamectl") != []
    assert master.hostname() == MASTER
    assert master.read("/etc/hostname") == f"{MASTER}\n"


def test_prepare_keeps_localhost_and_adds_every_node_to_etc_hosts(prepared):
    for node in NODES:
        hosts = prepared.lab.host(node).read("/etc/hosts")
        assert hosts == CENTOS_HOSTS + HOSTS_BLOCK, f"node-{node}-prepare: /etc/hosts"


def test_prepare_stops_and_disables_firewalld(prepared):
    result = prepared.results[MASTER]
    assert result.ran("systemctl", "disable", "--now", "firewalld"), result
    assert prepared.lab.host(MASTER).unit("firewalld") == (False, False)


def test_prepare_makes_selinux_permissive_now_and_after_reboot(prepared):
    master = prepared.lab.host(MASTER)
    assert prepared.results[MASTER].ran("setenforce", "0")
    assert master.selinux() == "Permissive"
    config = master.read("/etc/selinux/config").splitlines()
    assert "SELINUX=permissive" in config and "SELINUX=enforcing" not in config
    assert "SELINUXTYPE=targeted " in config


def test_prepare_turns_swap_off_and_comments_it_out_of_fstab(prepared):
    master = prepared.lab.host(MASTER)
    assert prepared.results[MASTER].ran("swapoff", "-a")
    assert master.swaps() == []
    fstab = master.read("/etc/fstab").splitlines()
    assert f"#{CENTOS_FSTAB_SWAP}" in fstab and CENTOS_FSTAB_SWAP not in fstab
    assert any(line.startswith("UUID=") and " / " in line for line in fstab), "root fs line lost"


def test_prepare_loads_br_netfilter_and_sets_the_bridge_and_forwarding_sysctls(prepared):
    master = prepared.lab.host(MASTER)
    assert master.read("/etc/modules-load.d/kubeadm-libvirt.conf") == "br_netfilter\n"
    assert master.read("/etc/sysctl.d/90-kubeadm-libvirt.conf") == (
        "net.bridge.bridge-nf-call-iptables = 1\n"
        "net.bridge.bridge-nf-call-ip6tables = 1\n"
        "net.ipv4.ip_forward = 1\n"
    )
    assert prepared.results[MASTER].ran("modprobe", "br_netfilter")
    assert master.module_loaded("br_netfilter")
    for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
        assert master.sysctl(f"net.bridge.{key}") == "1", key
    assert master.sysctl("net.ipv4.ip_forward") == "1"


def _repo(host: Host, name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.read(f"/etc/yum.repos.d/{name}"))
    return parser


def test_prepare_points_centos_base_at_the_vault_instead_of_the_dead_mirrorlist(prepared):
    master = prepared.lab.host(MASTER)
    assert "mirrorlist" not in master.read("/etc/yum.repos.d/CentOS-Base.repo")
    repo = _repo(master, "CentOS-Base.repo")
    assert repo.sections() == ["base", "updates", "extras"]
    for section, directory in (("base", "os"), ("updates", "updates"), ("extras", "extras")):
        assert repo[section]["baseurl"].split() == [
            f"https://mirrors.aliyun.com/centos-vault/7.9.2009/{directory}/$basearch/",
            f"https://vault.centos.org/7.9.2009/{directory}/$basearch/",
        ]
        assert repo[section]["gpgkey"] == "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7"
    assert prepared.results[MASTER].ran("yum", "clean", "all")


def test_prepare_adds_the_docker_ce_and_kubernetes_repositories(prepared):
    master = prepared.lab.host(MASTER)
    docker = _repo(master, "docker-ce.repo")["docker-ce-stable"]
    assert (
        docker["baseurl"] == "https://mirrors.aliyun.com/docker-ce/linux/centos/7/$basearch/stable"
    )
    assert docker["gpgcheck"] == "1"
    kubernetes = _repo(master, "kubernetes.repo")["kubernetes"]
    assert kubernetes["baseurl"].startswith("https://mirrors.aliyun.com/kubernetes/yum/repos/")
    assert kubernetes["exclude"].split() == [
        "kubelet",
        "kubeadm",
        "kubectl",
        "kubernetes-cni",
        "cri-tools",
    ]


def test_prepare_installs_the_pinned_docker(prepared):
    result = prepared.results[MASTER]
    installs = result.ran("yum", "install")
    assert installs[0].args == ("install", "-y", "--setopt=obsoletes=0", DOCKER_PACKAGE), result
    assert DOCKER_PACKAGE in prepared.lab.host(MASTER).installed()


def test_daemon_json_is_json_with_the_plural_keys_and_the_registry(prepared):
    for node in NODES:
        config = json.loads(prepared.lab.host(node).read("/etc/docker/daemon.json"))
        assert config["insecure-registries"] == [REGISTRY], node
        assert config["registry-mirrors"] == [], node  # none by default: Docker Hub directly
        assert config["exec-opts"] == ["native.cgroupdriver=systemd"], node
        assert "insecure-registry" not in config and "registry-mirror" not in config, node


def test_prepare_restarts_docker_with_the_new_daemon_json(prepared):
    master = prepared.lab.host(MASTER)
    assert prepared.results[MASTER].ran("systemctl", "restart", "docker")
    assert master.unit("docker") == (True, True)
    assert master.running_docker_config() == master.read("/etc/docker/daemon.json")
    assert prepared.results[MASTER].ran("docker", "info")


def test_prepare_installs_the_pinned_kubernetes_packages(prepared):
    result = prepared.results[MASTER]
    installs = result.ran("yum", "install")
    assert installs[1].args == (
        "install",
        "-y",
        "--disableexcludes=kubernetes",
        *KUBERNETES_PACKAGES,
        CNI_PACKAGE,
    ), result
    assert len(installs) == 2, result
    installed = prepared.lab.host(MASTER).installed()
    assert set(KUBERNETES_PACKAGES + [CNI_PACKAGE]) <= set(installed)


def test_prepare_enables_the_kubelet_without_starting_it(prepared):
    master = prepared.lab.host(MASTER)
    assert master.read("/etc/sysconfig/kubelet") == "KUBELET_EXTRA_ARGS=\n"
    assert master.unit("kubelet") == (True, False)


@pytest.mark.parametrize("node", NODES)
def test_prepare_second_run_changes_nothing(prepared, clone, sent, node):
    lab = clone(prepared)
    assert_second_run_is_a_no_op(lab.host(node), sent[f"node-{node}-prepare"])


def assert_same_as_a_clean_first_run(host: Host, prepared: Stage) -> None:
    reference = prepared.lab.host(host.name)
    diff = changes(reference.snapshot(), host.snapshot(), mtimes=False)
    assert not diff, f"node-{host.name}-prepare: rerun differs from a clean first run: {diff}"
    assert sorted(host.installed()) == sorted(reference.installed())
    for unit in ("docker", "kubelet", "firewalld"):
        assert host.unit(unit) == reference.unit(unit), unit
    assert host.running_docker_config() == reference.running_docker_config()


def test_prepare_fails_on_a_docker_install_failure_and_a_rerun_completes(
    fresh, prepared, clone, sent
):
    lab = clone(fresh)
    master = lab.host(MASTER)
    master.fail("yum-install", DOCKER_PACKAGE)
    failed(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]), f"yum install {DOCKER_PACKAGE} failed")
    assert DOCKER_PACKAGE not in master.installed()
    master.recover("yum-install")
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert rerun.ran("yum", "install", "-y", "--setopt=obsoletes=0", DOCKER_PACKAGE)
    assert_same_as_a_clean_first_run(master, prepared)


def test_prepare_fails_on_a_kubernetes_install_failure_and_a_rerun_completes(
    fresh, prepared, clone, sent
):
    lab = clone(fresh)
    master = lab.host(MASTER)
    master.fail("yum-install", "kubeadm-1.13.1-0")
    packages = " ".join([*KUBERNETES_PACKAGES, CNI_PACKAGE])
    failed(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]), f"yum install {packages} failed")
    master.recover("yum-install")
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert [c.args[-1] for c in rerun.ran("yum", "install")] == [CNI_PACKAGE], rerun
    assert not rerun.ran("systemctl", "restart", "docker"), rerun
    assert_same_as_a_clean_first_run(master, prepared)


def test_prepare_fails_when_docker_does_not_list_the_registry_and_a_rerun_completes(
    fresh, prepared, clone, sent
):
    lab = clone(fresh)
    master = lab.host(MASTER)
    master.fail("docker-info-registries")
    failed(
        run(lab, MASTER, sent[f"node-{MASTER}-prepare"]),
        f"docker info does not list the insecure registry {REGISTRY}",
    )
    assert not any(p.startswith("kube") for p in master.installed()), "went on after the check"
    master.recover("docker-info-registries")
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert not rerun.ran("yum", "install", "-y", "--setopt=obsoletes=0"), rerun
    assert_same_as_a_clean_first_run(master, prepared)


def test_prepare_fails_when_docker_does_not_restart_and_a_rerun_starts_it(
    fresh, prepared, clone, sent
):
    lab = clone(fresh)
    master = lab.host(MASTER)
    master.fail("start-docker")
    failed(
        run(lab, MASTER, sent[f"node-{MASTER}-prepare"]),
        "Docker did not restart with the new daemon.json",
    )
    master.recover("start-docker")
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert rerun.ran("systemctl", "enable", "--now", "docker"), rerun
    assert_same_as_a_clean_first_run(master, prepared)


def test_prepare_refuses_a_newer_kubelet_it_cannot_downgrade(fresh, clone, sent):
    lab = clone(fresh)
    worker = lab.host(WORKER)
    with (worker.state / "rpmdb").open("a") as rpmdb:
        rpmdb.write("kubelet 1.28.2 0 x86_64\n")
    failed(run(lab, WORKER, sent[f"node-{WORKER}-prepare"]), "is a newer version already there?")


def test_prepare_on_a_host_without_firewalld_or_swap(tmp_path, sent):
    lab = Lab.create(tmp_path / "lab", {WORKER: ADDRESSES[WORKER]}, swap=False, firewalld=False)
    result = succeeded(run(lab, WORKER, sent[f"node-{WORKER}-prepare"]))
    assert not result.ran("systemctl", "disable") and not result.ran("swapoff"), result
    assert lab.host(WORKER).unit("firewalld") is None


# --- init-control-plane.sh -------------------------------------------------------------------


def test_init_runs_kubeadm_init_once_with_the_configured_flags(initialised):
    result = succeeded(initialised.results[INIT])
    inits = result.ran("kubeadm", "init")
    assert [c.args for c in inits] == [
        (
            "init",
            "--apiserver-advertise-address=192.168.50.21",
            "--image-repository",
            "registry.aliyuncs.com/google_containers",
            "--kubernetes-version",
            "v1.13.1",
            "--pod-network-cidr=10.244.0.0/16",
            "--service-cidr=10.96.0.0/12",
            "--node-name",
            MASTER,
        )
    ], result


def test_init_brings_up_the_control_plane(initialised):
    master = initialised.lab.host(MASTER)
    assert initialised.lab.initialised and initialised.lab.nodes() == [MASTER]
    assert "server: https://192.168.50.21:6443" in master.read("/etc/kubernetes/admin.conf")
    manifest = master.read("/etc/kubernetes/manifests/kube-apiserver.yaml")
    assert "image: registry.aliyuncs.com/google_containers/kube-apiserver:v1.13.1" in manifest
    assert master.unit("kubelet") == (True, True)


def test_user_kubeconfig_gives_root_and_the_ssh_user_the_admin_kubeconfig(initialised, clone, sent):
    lab = clone(initialised)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    admin = master.read("/etc/kubernetes/admin.conf")
    files = master.snapshot()
    for home, owner in (("root", (0, 0)), ("home/centos", (1000, 1000))):
        assert master.read(f"/{home}/.kube/config") == admin, home
        config, directory = files[f"{home}/.kube/config"], files[f"{home}/.kube"]
        assert (config.mode, config.owner) == (0o600, owner), home
        assert (directory.mode, directory.owner) == (0o700, owner), home


def test_user_kubeconfig_repairs_mode_and_owner_even_when_the_content_is_equal(
    initialised, clone, sent
):
    lab = clone(initialised)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    config = master.path("/home/centos/.kube/config")
    config.chmod(0o644)
    os.chown(config, 0, 0)
    master.path("/home/centos/.kube").chmod(0o755)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    files = master.snapshot()
    assert (files["home/centos/.kube/config"].mode, files["home/centos/.kube/config"].owner) == (
        0o600,
        (1000, 1000),
    )
    assert files["home/centos/.kube"].mode == 0o700


def test_user_kubeconfig_second_run_changes_nothing(initialised, clone, sent):
    lab = clone(initialised)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    assert_second_run_is_a_no_op(lab.host(MASTER), sent[USER_KUBECONFIG])


def test_user_kubeconfig_restores_a_lost_copy_without_a_new_init(initialised, clone, sent):
    lab = clone(initialised)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    master.path("/home/centos/.kube/config").unlink()
    result = succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    assert not result.ran("kubeadm"), result
    assert master.read("/home/centos/.kube/config") == master.read("/etc/kubernetes/admin.conf")


def test_init_keeps_the_bootstrap_token_out_of_its_output_and_retires_it(initialised):
    result = initialised.results[INIT]
    log = initialised.lab.host(MASTER).snapshot()["var/log/kubeadm-init.log"]
    (token,) = set(TOKEN.findall(log.content.decode()))
    assert token not in result.stdout + result.stderr
    assert log.mode == 0o600
    assert result.ran("kubeadm", "token", "delete", token.split(".")[0]), result
    assert initialised.lab.tokens() == {}, "kubeadm init's 24h token must not outlive the init"


def test_init_second_run_changes_nothing(initialised, clone, sent):
    lab = clone(initialised)
    result = assert_second_run_is_a_no_op(lab.host(MASTER), sent[INIT])
    assert "control plane already initialised" in result.stdout


@pytest.mark.parametrize("phase", ["preflight", "wait-control-plane", "addon"])
def test_init_failure_then_a_rerun_gets_a_working_control_plane(prepared, clone, sent, phase):
    lab = clone(prepared)
    master = lab.host(MASTER)
    master.fail("kubeadm-init", phase)
    result = failed(run(lab, MASTER, sent[INIT]), "kubeadm init failed")
    assert not TOKEN.search(result.stdout + result.stderr), result
    assert not lab.initialised
    master.recover("kubeadm-init")
    rerun = succeeded(run(lab, MASTER, sent[INIT]))
    assert len(rerun.ran("kubeadm", "init")) == 1, f"{INIT}: the rerun did not init\n{rerun}"
    assert lab.initialised and lab.nodes() == [MASTER]
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    admin = master.read("/etc/kubernetes/admin.conf")
    assert master.read("/home/centos/.kube/config") == admin
    assert master.read("/root/.kube/config") == admin


def test_a_failed_init_shows_its_log_tail_with_the_printed_token_redacted(prepared, clone, sent):
    """kubeadm 1.13 runs the addon phase after printing "[bootstrap-token] Using token: ..."."""
    lab = clone(prepared)
    lab.host(MASTER).fail("kubeadm-init", "addon")
    result = failed(run(lab, MASTER, sent[INIT]), "kubeadm init failed")
    log = lab.host(MASTER).read("/var/log/kubeadm-init.log")
    assert TOKEN.search(log), "the stub must print the token before failing"
    assert "[bootstrap-token] Using token: [redacted]" in result.stderr, result
    assert "error execution phase addon" in result.stderr, result


# --- print-kubeconfig.sh ---------------------------------------------------------------------


def test_print_kubeconfig_prints_the_admin_kubeconfig(initialised, clone, sent):
    lab = clone(initialised)
    result = succeeded(run(lab, MASTER, sent[KUBECONFIG]))
    assert result.stdout == lab.host(MASTER).read("/etc/kubernetes/admin.conf")


def test_print_kubeconfig_second_run_changes_nothing(initialised, clone, sent):
    lab = clone(initialised)
    first = succeeded(run(lab, MASTER, sent[KUBECONFIG]))
    second = assert_second_run_is_a_no_op(lab.host(MASTER), sent[KUBECONFIG])
    assert second.stdout == first.stdout


def test_print_kubeconfig_fails_before_init_and_works_after_it(prepared, clone, sent):
    lab = clone(prepared)
    failed(run(lab, MASTER, sent[KUBECONFIG]), "admin.conf is missing: run kubeadm init first")
    succeeded(run(lab, MASTER, sent[INIT]))
    result = succeeded(run(lab, MASTER, sent[KUBECONFIG]))
    assert result.stdout == lab.host(MASTER).read("/etc/kubernetes/admin.conf")


# --- create-join-command.sh ------------------------------------------------------------------


def test_join_command_is_a_fresh_token_for_the_worker(initialised, clone, sent):
    lab = clone(initialised)
    result = succeeded(run(lab, MASTER, sent[JOIN_COMMAND]))
    match = JOIN_PATTERN.fullmatch(result.stdout.strip())
    assert match, result
    assert result.ran("kubeadm", "token", "create")[0].args == (
        "token",
        "create",
        "--ttl",
        "3600s",
        "--description",
        f"join {WORKER}",
        "--print-join-command",
    )
    assert lab.tokens()[match.group(1)][1:] == ["3600s", f"join {WORKER}"]


def test_join_command_second_run_changes_no_file(initialised, clone, sent):
    lab = clone(initialised)
    first = succeeded(run(lab, MASTER, sent[JOIN_COMMAND]))
    second = assert_second_run_is_a_no_op(lab.host(MASTER), sent[JOIN_COMMAND])
    assert JOIN_PATTERN.fullmatch(second.stdout.strip()), second
    assert second.stdout != first.stdout, "a rerun must mint a new token"


def test_join_command_fails_when_the_token_cannot_be_made_and_a_rerun_works(
    initialised, clone, sent
):
    lab = clone(initialised)
    lab.host(MASTER).fail("kubeadm-token-create")
    result = failed(run(lab, MASTER, sent[JOIN_COMMAND]), "kubeadm token create failed")
    assert result.stdout == ""
    lab.host(MASTER).recover("kubeadm-token-create")
    assert JOIN_PATTERN.fullmatch(succeeded(run(lab, MASTER, sent[JOIN_COMMAND])).stdout.strip())


# --- join-node.sh --------------------------------------------------------------------------


def test_join_runs_kubeadm_join_from_a_config_file_made_from_stdin(joined, sent):
    result = succeeded(joined.results[JOIN])
    assert yaml.safe_load(sent[JOIN].stdin)["kind"] == "JoinConfiguration"
    joins = result.ran("kubeadm", "join")
    assert [c.args for c in joins] == [("join", "--config", "/run/kubeadm-libvirt-join.yaml")]
    worker = joined.lab.host(WORKER)
    assert not worker.exists("/run/kubeadm-libvirt-join.yaml"), "the token file must not stay"
    assert worker.exists("/etc/kubernetes/kubelet.conf")
    assert worker.unit("kubelet") == (True, True)
    assert WORKER in joined.lab.nodes()


def test_join_token_never_appears_on_a_command_line_or_in_the_output(joined):
    result = joined.results[JOIN]
    secret = MOCK_JOIN_COMMAND.split("--token ")[1].split()[0]
    leaks = [str(c) for c in result.calls if secret in str(c)]
    assert not leaks, leaks
    assert secret not in result.stdout + result.stderr
    log = joined.lab.host(WORKER).snapshot()["var/log/kubeadm-join.log"]
    assert log.mode == 0o600


def test_join_second_run_changes_nothing(joined, clone, sent):
    lab = clone(joined)
    result = assert_second_run_is_a_no_op(lab.host(WORKER), sent[JOIN])
    assert "already joined" in result.stdout


def test_join_without_a_join_command_fails_and_a_rerun_with_one_joins(initialised, clone, sent):
    lab = clone(initialised)
    lab.accept_join_command(MOCK_JOIN_COMMAND)
    failed(run(lab, WORKER, sent[JOIN], stdin=""), "no kubeadm JoinConfiguration on stdin")
    assert WORKER not in lab.nodes()
    succeeded(run(lab, WORKER, sent[JOIN]))
    assert WORKER in lab.nodes()


@pytest.mark.parametrize("phase", ["preflight", "kubelet-start", "crisocket"])
def test_join_failure_then_a_rerun_joins(initialised, clone, sent, phase):
    lab = clone(initialised)
    lab.accept_join_command(MOCK_JOIN_COMMAND)
    worker = lab.host(WORKER)
    worker.fail("kubeadm-join", phase)
    result = failed(run(lab, WORKER, sent[JOIN]), "kubeadm join failed")
    assert not TOKEN.search(result.stdout + result.stderr), result
    worker.recover("kubeadm-join")
    rerun = succeeded(run(lab, WORKER, sent[JOIN]))
    assert len(rerun.ran("kubeadm", "join")) == 1, f"{JOIN}: the rerun did not join\n{rerun}"
    assert worker.exists("/etc/kubernetes/kubelet.conf")
    assert WORKER in lab.nodes()


# --- wait-node-registered.sh -----------------------------------------------------------------


def test_registered_returns_once_the_node_is_there_and_retires_its_token(joined, clone, sent):
    lab = clone(joined)
    result = succeeded(run(lab, MASTER, sent[REGISTERED]))
    assert result.ran("kubeadm", "token", "delete", MOCK_TOKEN_ID), result
    assert MOCK_TOKEN_ID not in lab.tokens()
    assert not result.ran("sleep"), result


def test_registered_polls_until_the_node_shows_up(initialised, clone, sent):
    lab = clone(initialised)
    lab.accept_join_command(MOCK_JOIN_COMMAND)
    lab.set_registration_delay(2)
    succeeded(run(lab, WORKER, sent[JOIN]))
    result = succeeded(run(lab, MASTER, sent[REGISTERED]))
    assert [c.args for c in result.ran("sleep")] == [("5",), ("5",)], result
    assert len(result.ran("kubectl", "get", "node", WORKER)) == 3, result


def test_registered_second_run_changes_nothing(joined, clone, sent):
    lab = clone(joined)
    succeeded(run(lab, MASTER, sent[REGISTERED]))
    assert_second_run_is_a_no_op(lab.host(MASTER), sent[REGISTERED])


def test_registered_gives_up_after_five_minutes_and_a_rerun_succeeds(initialised, clone, sent):
    lab = clone(initialised)
    lab.accept_join_command(MOCK_JOIN_COMMAND)
    result = failed(
        run(lab, MASTER, sent[REGISTERED]), f"node {WORKER} did not register within 5 minutes"
    )
    assert len(result.ran("sleep", "5")) == 60, result
    assert MOCK_TOKEN_ID in lab.tokens(), "the token must outlive a failed wait"
    succeeded(run(lab, WORKER, sent[JOIN]))
    succeeded(run(lab, MASTER, sent[REGISTERED]))
    assert MOCK_TOKEN_ID not in lab.tokens()


# --- remove-node.sh (delete of the registered command) ---------------------------------------


def test_remove_node_drains_and_deletes_the_node(joined, clone, sent):
    lab = clone(joined)
    result = succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    drains = result.ran("kubectl", "drain")
    assert [c.args for c in drains] == [
        (
            "drain",
            WORKER,
            "--ignore-daemonsets",
            "--delete-local-data",
            "--force",
            "--timeout=120s",
        )
    ], result
    assert result.ran("kubectl", "delete", "node", WORKER)
    assert lab.nodes() == [MASTER]


def test_remove_node_second_run_changes_nothing(joined, clone, sent):
    lab = clone(joined)
    succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    result = assert_second_run_is_a_no_op(lab.host(MASTER), sent[REGISTERED], "delete")
    assert f"node {WORKER} is not in the cluster" in result.stdout


def test_remove_node_fails_when_the_delete_fails_and_a_rerun_removes_it(joined, clone, sent):
    lab = clone(joined)
    lab.host(MASTER).fail("kubectl-delete")
    failed(run(lab, MASTER, sent[REGISTERED], "delete"), f"kubectl delete node {WORKER} failed")
    assert WORKER in lab.nodes()
    lab.host(MASTER).recover("kubectl-delete")
    succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    assert lab.nodes() == [MASTER]


def test_remove_node_deletes_the_node_even_when_the_drain_fails(joined, clone, sent):
    lab = clone(joined)
    lab.host(MASTER).fail("kubectl-drain")
    result = succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    assert f"warning [{MASTER}]: drain of {WORKER} did not finish" in result.stderr
    assert lab.nodes() == [MASTER]


# --- reset-node.sh (delete of the init and join commands) ------------------------------------


def _joined_with_pods(stage: Stage, clone) -> Lab:
    lab = clone(stage)
    lab.host(WORKER).simulate_pod_network()
    return lab


def test_reset_undoes_the_join_and_what_kubeadm_reset_leaves(joined, clone, sent):
    lab = _joined_with_pods(joined, clone)
    worker = lab.host(WORKER)
    result = succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert result.ran("kubeadm", "reset", "-f"), result
    assert not worker.exists("/etc/kubernetes/kubelet.conf")
    assert worker.unit("kubelet") == (True, False)
    assert worker.links() == ["eth0", "lo"]
    assert not worker.exists("/var/lib/cni") and not worker.exists("/etc/cni/net.d")
    rules = worker.iptables()
    for leftover in ("KUBE-", "CNI-", "FLANNEL", "10.244.0.0/16"):
        assert leftover not in rules, leftover
    assert ":DOCKER - [0:0]" in rules and "-j DOCKER" in rules, "Docker's own rules were lost"


def test_reset_second_run_changes_nothing(joined, clone, sent):
    lab = _joined_with_pods(joined, clone)
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert_second_run_is_a_no_op(lab.host(WORKER), sent[JOIN], "delete")


def test_reset_fails_when_kubeadm_reset_fails_and_a_rerun_completes(joined, clone, sent):
    lab = _joined_with_pods(joined, clone)
    worker = lab.host(WORKER)
    worker.fail("kubeadm-reset")
    failed(run(lab, WORKER, sent[JOIN], "delete"), "kubeadm reset failed")
    assert worker.exists("/etc/kubernetes/kubelet.conf")
    worker.recover("kubeadm-reset")
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert not worker.exists("/etc/kubernetes/kubelet.conf") and worker.links() == ["eth0", "lo"]


def test_reset_on_the_master_removes_the_control_plane_and_kubeconfigs(initialised, clone, sent):
    lab = clone(initialised)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[INIT], "delete"))
    for path in ("/etc/kubernetes/admin.conf", "/root/.kube/config", "/home/centos/.kube/config"):
        assert not master.exists(path), path
    assert list(master.path("/etc/kubernetes/manifests").iterdir()) == []
    assert not lab.initialised


# --- destroy, existing-machine mode: back to a host that can join again ----------------------

ALLOWED_LEFTOVERS = re.compile(r"var/log/kubeadm-(init|join)\.log")


def assert_back_to_prepared(host: Host, before: dict[str, Entry]) -> None:
    after = host.snapshot()
    diff = [
        line
        for line in changes(before, after, mtimes=False)
        if not ALLOWED_LEFTOVERS.fullmatch(line.split()[1])
        and not (line.startswith("added") and after[line.split()[1]].kind == "dir")
    ]
    assert not diff, f"{host.name}: not back to the prepared host: {diff}"


def test_join_then_destroy_leaves_a_worker_that_joins_again(prepared, clone, sent):
    lab = clone(prepared)
    worker = lab.host(WORKER)
    prepared_files, prepared_rules = worker.snapshot(), worker.iptables()
    succeeded(run(lab, MASTER, sent[INIT]))
    join_command = succeeded(run(lab, MASTER, sent[JOIN_COMMAND])).stdout.strip()
    succeeded(run(lab, WORKER, sent[JOIN], stdin=joining(join_command)))
    succeeded(run(lab, MASTER, sent[REGISTERED], stdin=token_id(join_command)))
    worker.simulate_pod_network()

    # pulumi destroy: the registered command (on the master) goes first, then the join.
    succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert lab.nodes() == [MASTER]
    assert_back_to_prepared(worker, prepared_files)
    assert worker.iptables() == prepared_rules and worker.links() == ["eth0", "lo"]
    assert worker.unit("kubelet") == (True, False)

    join_again = succeeded(run(lab, MASTER, sent[JOIN_COMMAND])).stdout.strip()
    succeeded(run(lab, WORKER, sent[JOIN], stdin=joining(join_again)))
    succeeded(run(lab, MASTER, sent[REGISTERED], stdin=token_id(join_again)))
    assert lab.nodes() == [MASTER, WORKER]


def test_init_then_destroy_leaves_a_master_that_inits_again(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    prepared_files = master.snapshot()
    succeeded(run(lab, MASTER, sent[INIT]))
    succeeded(run(lab, MASTER, sent[INIT], "delete"))
    assert_back_to_prepared(master, prepared_files)
    assert master.iptables() == prepared.lab.host(MASTER).iptables()
    again = succeeded(run(lab, MASTER, sent[INIT]))
    assert len(again.ran("kubeadm", "init")) == 1 and lab.initialised


# --- keepSwap: swap stays on, and kubeadm is told to accept it -------------------------------


def test_keep_swap_leaves_swap_on_and_init_ignores_the_swap_check(fresh, clone):
    commands = _evaluate(hostSource="existing", keepSwap=True)
    lab = clone(fresh)
    master = lab.host(MASTER)
    fstab = master.read("/etc/fstab")
    result = succeeded(run(lab, MASTER, commands[f"node-{MASTER}-prepare"]))
    assert not result.ran("swapoff") and master.swaps() != []
    assert master.read("/etc/fstab") == fstab
    assert master.read("/etc/sysconfig/kubelet") == "KUBELET_EXTRA_ARGS=--fail-swap-on=false\n"
    init = succeeded(run(lab, MASTER, commands[INIT]))
    assert init.ran("kubeadm", "init")[0].args[-1] == "--ignore-preflight-errors=Swap"
    assert lab.initialised


# --- add-registry-address.sh / remove-registry-address.sh ------------------------------------


def test_registry_address_is_added_now_and_for_every_boot(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    result = succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    unit = script_values(script_of(sent[REGISTRY_ADDRESS].create))["UNIT_FILE"]
    assert master.read(REGISTRY_UNIT) == unit + "\n"
    assert "ExecStart=/sbin/ip address replace 192.168.50.24/24 dev eth0" in unit
    assert master.unit("kubeadm-libvirt-registry-address") == (True, True)
    assert master.addresses("eth0") == [ADDRESSES[MASTER], "192.168.50.24/24"]
    assert result.ran("systemctl", "daemon-reload"), result


def test_registry_address_second_run_changes_nothing(prepared, clone, sent):
    lab = clone(prepared)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    assert_second_run_is_a_no_op(lab.host(MASTER), sent[REGISTRY_ADDRESS])
    assert lab.host(MASTER).addresses("eth0") == [ADDRESSES[MASTER], "192.168.50.24/24"]


def test_registry_address_fails_when_the_unit_fails_and_a_rerun_adds_it(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    master.fail("start-kubeadm-libvirt-registry-address")
    failed(run(lab, MASTER, sent[REGISTRY_ADDRESS]), "could not add 192.168.50.24 to eth0")
    assert master.addresses("eth0") == [ADDRESSES[MASTER]]
    master.recover("start-kubeadm-libvirt-registry-address")
    rerun = succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    assert rerun.ran("systemctl", "enable", "--now"), rerun
    assert master.addresses("eth0") == [ADDRESSES[MASTER], "192.168.50.24/24"]


def test_registry_address_change_moves_the_address(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    old = _evaluate(hostSource="existing", registryAddress="192.168.50.25")
    succeeded(run(lab, MASTER, old[REGISTRY_ADDRESS]))
    assert master.addresses("eth0") == [ADDRESSES[MASTER], "192.168.50.25/24"]
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    assert master.addresses("eth0") == [ADDRESSES[MASTER], "192.168.50.24/24"]


def test_registry_address_removal_takes_it_away_now_and_for_later_boots(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    before = master.snapshot()
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"))
    assert not master.exists(REGISTRY_UNIT)
    assert master.unit("kubeadm-libvirt-registry-address") == (False, False)
    assert master.addresses("eth0") == [ADDRESSES[MASTER]]
    assert not changes(before, master.snapshot(), mtimes=False)


def test_registry_address_removal_second_run_changes_nothing(prepared, clone, sent):
    lab = clone(prepared)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"))
    assert_second_run_is_a_no_op(lab.host(MASTER), sent[REGISTRY_ADDRESS], "delete")


def test_registry_address_removal_failure_then_a_rerun_removes_it(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    master.fail("ip-address-del")
    failed(
        run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"),
        "could not remove 192.168.50.24 from eth0",
    )
    assert "192.168.50.24/24" in master.addresses("eth0")
    master.recover("ip-address-del")
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"))
    assert master.addresses("eth0") == [ADDRESSES[MASTER]]


# --- every host script is run here -----------------------------------------------------------

EXERCISED = {
    ("node-k8s-master-prepare", "create"): "prepare-node",
    (INIT, "create"): "init-control-plane",
    (INIT, "update"): "check-control-plane",
    (INIT, "delete"): "reset-node",
    (USER_KUBECONFIG, "create"): "user-kubeconfig",
    (KUBECONFIG, "create"): "print-kubeconfig",
    (JOIN_COMMAND, "create"): "create-join-command",
    (JOIN, "create"): "join-node",
    (JOIN, "update"): "check-joined",
    (JOIN, "delete"): "reset-node",
    (REGISTERED, "create"): "wait-node-registered",
    (REGISTERED, "delete"): "remove-node",
    (REGISTRY_ADDRESS, "create"): "add-registry-address",
    (REGISTRY_ADDRESS, "delete"): "remove-registry-address",
    ("smoke-cluster", "create"): "check-cluster",
    ("smoke-k8s-node01-registry", "create"): "check-registry",
}


def test_every_host_script_has_behaviour_tests_here(sent):
    """Every script this track sends is run here by the command that sends it, and every script
    on disk is run here or in test_host_scripts_el9.py."""
    from test_host_scripts_el9 import exercised_scripts

    on_disk = {p.stem for p in (ROOT / "components/scripts").glob("*.sh")} - {"lib"}
    sent_scripts = {
        name
        for command in sent.values()
        for phase in ("create", "update", "delete")
        for name in command.script_names(phase)
    }
    exercised = set()
    for (resource, phase), script in EXERCISED.items():
        names = sent[resource].script_names(phase)
        assert names[0] == script, (resource, phase)
        exercised.update(names)
    assert not sent_scripts - exercised, sent_scripts - exercised
    untested = sorted(on_disk - exercised - exercised_scripts())
    assert not untested, f"host scripts without sandboxed behaviour tests: {untested}"


# --- left-over weaknesses, fixed: interrupted runs and an unreachable API server ----------------


def test_prepare_restarts_docker_that_still_runs_an_older_daemon_json(prepared, clone, sent):
    """A run stopped after writing daemon.json but before the restart must heal on the rerun."""
    lab = clone(prepared)
    master = lab.host(MASTER)
    (master.state / "docker" / "daemon.json").write_text("{}\n")
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert rerun.ran("systemctl", "restart", "docker"), rerun
    assert "still runs with an older daemon.json" in rerun.stdout
    assert_same_as_a_clean_first_run(master, prepared)


def test_remove_node_fails_when_the_api_server_is_unreachable_and_a_rerun_removes_it(
    joined, clone, sent
):
    lab = clone(joined)
    lab.api_down()
    failed(run(lab, MASTER, sent[REGISTERED], "delete"), f"cannot look up node {WORKER}")
    lab.api_down(False)
    succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    assert lab.nodes() == [MASTER]


def test_reset_second_run_does_not_reset_again(joined, clone, sent):
    lab = _joined_with_pods(joined, clone)
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    second = succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert not second.ran("kubeadm", "reset"), second


# --- CentOS 7's shell ------------------------------------------------------------------------


def test_host_scripts_run_under_centos_7s_bash_4_2(fresh, clone):
    require_tool(CENTOS_BASH.is_file(), f"CentOS 7's bash is not at {CENTOS_BASH}")
    lab = clone(fresh)
    result = succeeded(lab.host(MASTER).run("sudo bash -c 'echo ${BASH_VERSION}'"))
    assert result.stdout.startswith("4.2."), result


def test_an_empty_array_under_set_u_fails_a_script_as_on_centos_7(fresh, clone):
    require_tool(CENTOS_BASH.is_file(), f"CentOS 7's bash is not at {CENTOS_BASH}")
    """bash 4.2 reports "${a[@]}" of an empty array as unbound under set -u; 5.2 does not."""
    lab = clone(fresh)
    script = 'set -euo pipefail; flags=(); printf "%s\\n" "${flags[@]}"'
    result = lab.host(MASTER).run(scripts.as_root(script))
    assert not result.ok and "unbound variable" in result.stderr, result


# --- files keep their modes ------------------------------------------------------------------

WORLD_READABLE = (
    "etc/hosts",
    "etc/yum.repos.d/CentOS-Base.repo",
    "etc/yum.repos.d/docker-ce.repo",
    "etc/yum.repos.d/kubernetes.repo",
    "etc/docker/daemon.json",
    "etc/sysconfig/kubelet",
    "etc/sysctl.d/90-kubeadm-libvirt.conf",
    "etc/modules-load.d/kubeadm-libvirt.conf",
)


def test_prepared_files_are_world_readable_and_not_writable_by_others(prepared):
    files = prepared.lab.host(MASTER).snapshot()
    for path in WORLD_READABLE:
        assert files[path].mode == 0o644, f"{path}: {oct(files[path].mode)}"


def test_a_rerun_repairs_a_files_mode_even_when_its_content_is_right(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    for path in WORLD_READABLE:
        master.path(path).chmod(0o600)
    succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    files = master.snapshot()
    assert {path: files[path].mode for path in WORLD_READABLE} == dict.fromkeys(
        WORLD_READABLE, 0o644
    )


def test_files_that_hold_secrets_are_root_only(joined):
    worker, master = joined.lab.host(WORKER).snapshot(), joined.lab.host(MASTER).snapshot()
    for files, path in (
        (master, "var/log/kubeadm-init.log"),
        (worker, "var/log/kubeadm-join.log"),
    ):
        assert files[path].mode == 0o600 and files[path].owner == (0, 0), path


# --- kubelet settings ------------------------------------------------------------------------


def test_a_changed_kubelet_setting_restarts_a_running_kubelet(joined, clone):
    lab = clone(joined)
    with_swap = _evaluate(hostSource="existing", keepSwap=True)
    result = succeeded(run(lab, WORKER, with_swap[f"node-{WORKER}-prepare"]))
    assert lab.host(WORKER).read("/etc/sysconfig/kubelet") == (
        "KUBELET_EXTRA_ARGS=--fail-swap-on=false\n"
    )
    assert result.ran("systemctl", "restart", "kubelet"), result
    assert lab.host(WORKER).unit("kubelet") == (True, True)


# --- cloud-init ------------------------------------------------------------------------------


def test_prepare_fails_naming_the_step_when_cloud_init_does_not_finish(fresh, clone, sent):
    lab = clone(fresh)
    lab.host(MASTER).fail("timeout-cloud-init")
    result = failed(
        run(lab, MASTER, sent[f"node-{MASTER}-prepare"]), "cloud-init did not finish within 600s"
    )
    assert not result.ran("yum"), "went on after cloud-init"


def test_prepare_goes_on_when_cloud_init_finished_with_errors(fresh, clone, sent):
    lab = clone(fresh)
    lab.host(MASTER).fail("cloud-init")
    result = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert "cloud-init finished with errors" in result.stderr


def test_the_host_key_bootcmd_leaves_sshd_only_the_ed25519_key_and_is_idempotent(fresh, clone):
    """The bootcmd lines from the user-data, run twice (every boot) on el7's sshd files."""
    lab = clone(fresh)
    host = lab.host(MASTER)
    host.write("/etc/ssh/sshd_config", EL7_SSHD_CONFIG)
    host.write("/etc/sysconfig/sshd", EL7_SYSCONFIG_SSHD)
    for _ in range(2):
        for line in PIN_HOST_KEY:
            succeeded(host.run(line))
    config = host.read("/etc/ssh/sshd_config").splitlines()
    assert [line for line in config if line.startswith("HostKey")] == [
        "HostKey /etc/ssh/ssh_host_ed25519_key"
    ]
    assert host.read("/etc/sysconfig/sshd").splitlines().count("AUTOCREATE_SERVER_KEYS=NO") == 1


# The parts of openssh-7.4p1 (el7) /etc/ssh/sshd_config and /etc/sysconfig/sshd that matter.
EL7_SSHD_CONFIG = """#Port 22
HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_dsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
SyslogFacility AUTHPRIV
PasswordAuthentication yes
UsePAM yes
Subsystem sftp	/usr/libexec/openssh/sftp-server
"""
EL7_SYSCONFIG_SSHD = """# Configuration file for the sshd service.
# The server keys are automatically generated if they are missing.
# To change the automatic creation, adjust sshd.service options for
# example using  systemctl enable sshd-keygen@dsa.service  to allow creation
# of DSA key or  systemctl mask sshd-keygen@rsa.service  to disable RSA key
# creation.
OPTIONS="-u0"
"""


# --- the registry address --------------------------------------------------------------------


def test_registry_address_fails_when_the_interface_loses_the_address(prepared, clone, sent):
    lab = clone(prepared)
    lab.host(MASTER).fail("ip-address-flushed")
    failed(run(lab, MASTER, sent[REGISTRY_ADDRESS]), "eth0 does not carry 192.168.50.24")


# --- never reset the wrong host --------------------------------------------------------------


def test_a_workers_stored_delete_leaves_a_master_on_its_old_address_intact(joined, clone, sent):
    """The address of k8s-node01 now belongs to the master of a new cluster: the delete stored
    with node01's join runs there and must not wipe the control plane."""
    lab = clone(joined)
    moved = _evaluate(
        hostSource="existing",
        nodes=[
            {"name": "k8s-master", "address": "192.168.50.22", "role": "master"},
            {"name": "k8s-node02", "address": "192.168.50.23", "role": "worker"},
        ],
    )
    new_master = Lab.create(lab.path / "new", {MASTER: "192.168.50.22/24"})
    succeeded(run(new_master, MASTER, moved[f"node-{MASTER}-prepare"]))
    succeeded(run(new_master, MASTER, moved[INIT]))
    admin = new_master.host(MASTER).read("/etc/kubernetes/admin.conf")
    result = succeeded(run(new_master, MASTER, sent[JOIN], "delete"))
    assert f"not resetting: this host is no longer {WORKER}" in result.stderr, result
    assert not result.ran("kubeadm"), result
    assert new_master.host(MASTER).read("/etc/kubernetes/admin.conf") == admin
    assert new_master.initialised


def test_a_reset_checks_the_kubelet_certificate_too(joined, clone, sent):
    lab = clone(joined)
    worker = lab.host(WORKER)
    (worker.state / "hostname").write_text(f"{WORKER}\n")
    certificate = worker.path("/var/lib/kubelet/pki/kubelet-client-current.pem")
    text = certificate.read_text().splitlines()
    text[1] = base64.b64encode(b"subject=/O=system:nodes/CN=system:node:k8s-node07").decode()
    certificate.write_text("\n".join(text) + "\n")
    result = succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert "kubelet's client certificate is for system:node:k8s-node07" in result.stderr
    assert worker.exists("/etc/kubernetes/kubelet.conf")


def test_remove_node_runs_only_on_the_master_it_was_written_for(joined, clone, sent):
    lab = clone(joined)
    (lab.host(MASTER).state / "hostname").write_text("k8s-other\n")
    result = succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    assert "this host is no longer the master k8s-master" in result.stderr
    assert WORKER in lab.nodes() and not result.ran("kubectl", "drain")


def test_removing_the_registry_address_leaves_another_hosts_address_alone(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    (master.state / "hostname").write_text("k8s-other\n")
    result = succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"))
    assert "not removing 192.168.50.24" in result.stderr
    assert "192.168.50.24/24" in master.addresses("eth0")


def test_a_worker_renamed_on_its_address_joins_again_under_the_new_name(joined, clone, sent):
    lab = clone(joined)
    renamed = _evaluate(
        hostSource="existing",
        nodes=[
            {"name": "k8s-master", "address": "192.168.50.21", "role": "master", "vcpus": 2},
            {"name": "k8s-node09", "address": "192.168.50.22", "role": "worker"},
            {"name": "k8s-node02", "address": "192.168.50.23", "role": "worker"},
        ],
    )
    worker = lab.host(WORKER)
    succeeded(run(lab, WORKER, renamed["node-k8s-node09-prepare"]))
    join_command = succeeded(run(lab, MASTER, sent[JOIN_COMMAND])).stdout.strip()
    config = joining(join_command, "k8s-node09")
    result = succeeded(run(lab, WORKER, renamed["worker-k8s-node09-join"], stdin=config))
    assert result.ran("kubeadm", "reset", "-f") and result.ran("kubeadm", "join"), result
    assert "k8s-node09" in lab.nodes()
    # then the old name's stored delete: this host is node09 now, so it is left alone
    after = worker.snapshot()
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert not changes(after, worker.snapshot())


def test_reset_matches_the_pod_network_as_text_not_as_a_pattern(joined, clone, sent):
    lab = _joined_with_pods(joined, clone)
    worker = lab.host(WORKER)
    look_alike = "-A FORWARD -s 10x244x0x0/16 -j ACCEPT\n"
    head, _, tail = worker.iptables().rpartition("COMMIT\n")  # the filter table's end
    worker.set_iptables(head + look_alike + "COMMIT\n" + tail)
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert look_alike in worker.iptables()


def test_a_failed_join_redacts_the_token_it_was_given(initialised, clone, sent):
    """kubeadm 1.13 echoes a malformed token in its validation error."""
    lab = clone(initialised)
    config = sent[JOIN].stdin.replace("abcdef.0123456789abcdef", "abcdef.0123456789ABCDEF")
    result = failed(run(lab, WORKER, sent[JOIN], stdin=config), "kubeadm join failed")
    assert "0123456789ABCDEF" not in result.stdout + result.stderr, result
    assert 'Invalid value: "[redacted]"' in result.stderr, result


# --- every stub fails the way its tool does --------------------------------------------------

# stub -> (host stage, failure flag or None, command, exit status, what the real tool prints).
STUB_FAILURES = {
    "cloud-init": ("fresh", "cloud-init", "cloud-init status --wait", 1, "status: error"),
    "docker": (
        "prepared",
        None,
        "systemctl stop docker; docker info",
        1,
        "Cannot connect to the Docker daemon",
    ),
    "getenforce": ("fresh", "selinux-disabled", "getenforce", 0, "Disabled"),
    "hostnamectl": (
        "fresh",
        "hostnamectl",
        "hostnamectl set-hostname x",
        1,
        "Failed to create bus",
    ),
    "ip": (
        "fresh",
        "ip-address-add",
        "ip address add 10.0.0.9/24 dev eth0",
        2,
        "RTNETLINK answers",
    ),
    "iptables-restore": ("fresh", None, "echo '*nat' | iptables-restore", 1, "COMMIT expected"),
    "iptables-save": ("fresh", "iptables-save", "iptables-save", 1, "can't initialize iptables"),
    "kubeadm": ("prepared", None, "kubeadm token list", 1, "failed to load admin kubeconfig"),
    "kubectl": ("prepared", None, "kubectl get node x", 1, "connection to the server localhost"),
    "modprobe": ("fresh", "modprobe", "modprobe br_netfilter", 1, "FATAL: Module br_netfilter"),
    "openssl": (
        "fresh",
        None,
        "echo x | openssl x509 -noout -subject",
        1,
        "unable to load certificate",
    ),
    "rpm": ("fresh", None, "rpm -q kubelet", 1, "package kubelet is not installed"),
    "setenforce": ("fresh", "selinux-disabled", "setenforce 0", 1, "SELinux is disabled"),
    "sleep": ("fresh", None, "sleep five", 1, "invalid time interval"),
    "sudo": ("fresh", "sudo", "sudo true", 1, "you must have a tty to run sudo"),
    "swapoff": ("fresh", "swapoff", "swapoff -a", 255, "swapoff failed"),
    "sysctl": ("fresh", None, "sysctl -n net.bridge.bridge-nf-call-iptables", 255, "cannot stat"),
    "systemctl": ("prepared", "start-docker", "systemctl restart docker", 1, "failed because"),
    "timeout": ("fresh", "timeout-cloud-init", "timeout 600 cloud-init status --wait", 124, ""),
    "curl": (
        "fresh",
        None,
        "curl -fsS --max-time 5 http://192.168.50.24:5000/v2/",
        7,
        "Failed connect to 192.168.50.24:5000; Connection refused",
    ),
    "yum": ("prepared", "yum-install", "yum install -y firewalld", 1, "No more mirrors to try"),
}
# Tools whose only job here cannot fail: hostname without arguments prints the name.
NO_FAILURE = {"hostname": "prints the host's name; it has no failure without arguments"}


def test_every_stub_has_a_failure_mode_the_tests_reach():
    from test_host_scripts_el9 import STUB_FAILURES as EL9_STUB_FAILURES

    stubs = {p.name for p in (ROOT / "tests/stubs").iterdir() if not p.name.startswith("_")}
    assert stubs == set(STUB_FAILURES) | set(NO_FAILURE) | set(EL9_STUB_FAILURES)


@pytest.mark.parametrize("stub", sorted(STUB_FAILURES))
def test_a_stub_fails_as_its_tool_does(fresh, prepared, clone, stub):
    stage, flag, command, status, message = STUB_FAILURES[stub]
    lab = clone({"fresh": fresh, "prepared": prepared}[stage])
    host = lab.host(MASTER)
    if flag == "selinux-disabled":
        (host.state / "selinux").write_text("Disabled\n")
    elif flag:
        host.fail(flag)
    result = host.run(command)
    assert result.code == status, result
    assert message in result.stderr + result.stdout, result


def test_prepare_works_on_a_host_with_selinux_disabled(fresh, clone, sent):
    lab = clone(fresh)
    (lab.host(MASTER).state / "selinux").write_text("Disabled\n")
    result = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert not result.ran("setenforce"), result


# --- the smoke check -------------------------------------------------------------------------

SMOKE = "smoke-cluster"
APP_URLS = ("192.168.50.21:30080", "192.168.50.22:30080")
TAGS = "/v2/spring-boot-demo/tags/list"


@pytest.fixture(scope="session")
def healthy(joined, tmp_path_factory) -> Stage:
    """The tutorial's end state: three Ready nodes, the system pods and flannel running, the
    registry holding the app's image, the app answering on its NodePort."""
    succeeded(joined.results[JOIN])
    lab = joined.lab.clone(tmp_path_factory.mktemp("healthy") / "lab")
    for node in NODES:
        lab.register_node(node)
        lab.run_pod(f"kube-proxy-{node}", node)
        lab.run_pod(f"kube-flannel-ds-amd64-{node}", node, labels="app=flannel tier=node")
    for pod in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        lab.run_pod(f"{pod}-{MASTER}", MASTER)
    lab.run_pod("coredns-86c58d9df4-abcde", WORKER)
    lab.serve("192.168.50.24:5000", TAGS, 200, '{"name":"spring-boot-demo","tags":["1.0"]}')
    for address in APP_URLS:
        lab.serve(address, "/", 200, "Hello Docker World")
    return Stage(lab, {})


def test_the_smoke_check_passes_on_the_tutorials_end_state(healthy, clone, sent):
    lab = clone(healthy)
    result = succeeded(run(lab, MASTER, sent[SMOKE]))
    assert "ok: nodes k8s-master, k8s-node01, k8s-node02 Ready" in result.stdout, result
    assert "ok: the app answers 200 at http://192.168.50.22:30080/" in result.stdout, result
    assert not result.ran("sleep"), "a healthy cluster needs no retry"
    for node in NODES:
        check = succeeded(run(lab, node, sent[f"smoke-{node}-registry"]))
        assert check.ran("curl", "-fsS", "--max-time", "5", f"http://192.168.50.24:5000{TAGS}")


def test_the_smoke_check_changes_nothing_on_a_host(healthy, clone, sent):
    lab = clone(healthy)
    assert_second_run_is_a_no_op(lab.host(MASTER), sent[SMOKE])
    assert_second_run_is_a_no_op(lab.host(WORKER), sent[f"smoke-{WORKER}-registry"])


def test_the_smoke_check_names_a_node_that_is_not_ready(healthy, clone, sent):
    lab = clone(healthy)
    lab.set_node_ready("k8s-node02", False)
    result = failed(run(lab, MASTER, sent[SMOKE]), "node k8s-node02 is not Ready")
    assert len(result.ran("sleep", "5")) == 23, "it retries a bounded number of times"


def test_the_smoke_check_names_an_empty_registry(healthy, clone, sent):
    lab = clone(healthy)
    lab.serve("192.168.50.24:5000", TAGS, 404, '{"errors":[{"code":"NAME_UNKNOWN"}]}')
    failed(
        run(lab, WORKER, sent[f"smoke-{WORKER}-registry"]),
        "the registry at 192.168.50.24:5000 does not list spring-boot-demo:1.0 from this node",
    )


def test_the_smoke_check_names_an_app_answering_503(healthy, clone, sent):
    lab = clone(healthy)
    lab.serve("192.168.50.22:30080", "/", 503, "Service Unavailable")
    failed(
        run(lab, MASTER, sent[SMOKE]),
        "the app answered 503 at http://192.168.50.22:30080/, not 200",
    )


def test_the_smoke_check_names_a_pod_that_is_not_running(healthy, clone, sent):
    lab = clone(healthy)
    lab.run_pod("coredns-86c58d9df4-abcde", WORKER, phase="Pending")
    failed(run(lab, MASTER, sent[SMOKE]), "kube-system pod coredns-86c58d9df4-abcde")


def test_the_smoke_check_names_a_node_without_flannel(healthy, clone, sent):
    lab = clone(healthy)
    (lab.cluster / "pods" / "kube-flannel-ds-amd64-k8s-node02").unlink()
    failed(run(lab, MASTER, sent[SMOKE]), "flannel is not running on k8s-node02")


# --- secrets on the failure path ---------------------------------------------------------------
# pulumi-command puts the whole command line, stdout and stderr into the error of a step that
# exits non-zero, whatever its `logging` says (pulumi/pulumi-command@v1.2.1:provider/pkg/provider/
# remote/commandOutputs.go run: `running %q:\n%s`). So a step whose stdout or stdin is secret may
# fail only before it prints the secret, and never echoes its stdin.


@pytest.fixture(scope="session")
def secret_steps() -> dict[str, set[str]]:
    """command name -> which of its streams are secret ("stdout", "stdin")."""
    found: dict[str, set[str]] = {}
    run_ = run_with_fake_home(stack_config("dev", hostSource="existing"))
    for command in run_.of_type("command:remote:Command"):
        streams = set()
        if "stdout" in command.additional_secret_outputs:
            streams.add("stdout")
        if is_secret_input(command.inputs.get("stdin")):
            streams.add("stdin")
        if streams:
            found[command.name] = streams
    return found


def _token_unknown(lab: Lab) -> None:
    """The cluster never made the token the worker was given."""


# script (phase) -> the ways it can fail: (stage, what goes wrong first).
SECRET_STEP_FAILURES = {
    ("print-kubeconfig", "create"): [("prepared", lambda lab: None)],
    ("create-join-command", "create"): [
        ("initialised", lambda lab: lab.host(MASTER).fail("kubeadm-token-create")),
        ("initialised", lambda lab: lab.api_down()),
        ("prepared", lambda lab: None),
    ],
    ("join-node", "create"): [
        *[
            ("joinable", lambda lab, phase=phase: lab.host(WORKER).fail("kubeadm-join", phase))
            for phase in ("preflight", "kubelet-start", "crisocket")
        ],
        (
            "joinable",
            lambda lab: (
                lab.host(WORKER).fail("kubeadm-join", "kubelet-start"),
                lab.host(WORKER).fail("kubeadm-reset"),
            ),
        ),
        ("initialised", _token_unknown),
    ],
    ("check-joined", "update"): [("initialised", lambda lab: None)],
    ("wait-node-registered", "create"): [
        ("joinable", lambda lab: None),
        ("joined", lambda lab: lab.host(MASTER).fail("kubeadm-token-delete")),
        ("joined", lambda lab: lab.api_down()),
    ],
}


def _phases(command: Sent, streams: set[str]) -> list[str]:
    """The phases that see the secret: stdin reaches create and update; stdout is create's."""
    if "stdin" in streams:
        return [p for p in ("create", "update") if getattr(command, p)]
    return ["create"]


def test_every_secret_step_has_its_failures_tried(secret_steps, sent):
    tried = {
        (sent[name].script_name(phase), phase)
        for name, streams in secret_steps.items()
        for phase in _phases(sent[name], streams)
    }
    assert tried == set(SECRET_STEP_FAILURES)
    assert {name.split("-", 2)[-1] for name in secret_steps if name.startswith("worker-k8s-node01")}


@pytest.mark.parametrize(
    ("script", "phase", "case"),
    [(s, p, i) for (s, p), cases in SECRET_STEP_FAILURES.items() for i in range(len(cases))],
)
def test_a_secret_step_that_fails_shows_no_secret(
    script, phase, case, secret_steps, sent, prepared, initialised, joined, clone
):
    stage, breaks = SECRET_STEP_FAILURES[(script, phase)][case]
    name = next(
        n
        for n in secret_steps
        if n.startswith(("control-plane", f"worker-{WORKER}"))
        and script in (sent[n].script_name("create"), sent[n].script_name("update"))
    )
    lab = clone(
        {
            "prepared": prepared,
            "initialised": initialised,
            "joined": joined,
            "joinable": initialised,
        }[stage]
    )
    if stage == "joinable":
        lab.accept_join_command(MOCK_JOIN_COMMAND)
    breaks(lab)
    host = (
        MASTER
        if name.startswith("control-plane") or "join-command" in name or ("registered" in name)
        else WORKER
    )
    result = run(lab, host, sent[name], phase)
    assert not result.ok, f"the failure did not happen\n{result}"
    shown = result.stdout + result.stderr
    assert not TOKEN.search(shown), result
    assert "client-key-data" not in shown and "BEGIN" not in shown, result
    secret = MOCK_JOIN_COMMAND.split("--token ")[1].split()[0]
    assert secret.split(".")[1] not in shown, result
    assert (sent[name].stdin or "\x00") not in shown, result


def test_a_step_with_a_secret_stdout_prints_it_last_from_a_checked_variable(secret_steps, sent):
    """Nothing that can fail comes after the secret is printed."""
    for name, streams in secret_steps.items():
        if "stdout" not in streams:
            continue
        body = script_of(sent[name].create).rstrip().splitlines()
        assert re.fullmatch(r"printf '%s\\n' \"\$\{[a-z_]+\}\"", body[-1]), (name, body[-1])
        printed = body[-1].split("${")[1].rstrip('}"')
        assignments = [line for line in body if re.match(rf"(if ! )?{printed}=", line)]
        assert assignments, f"{name}: {printed} is not read before it is printed"


# --- guards that must hold exactly ---------------------------------------------------------------


def test_the_join_configuration_is_root_only_while_kubeadm_reads_it(joined):
    mode = (joined.lab.host(WORKER).state / "join-config-mode").read_text().split()
    assert mode == ["600", "root"], mode


@pytest.mark.parametrize("name", [f"{WORKER}0", WORKER[:-1], f"x{WORKER}"])
def test_a_host_whose_name_only_resembles_the_node_is_left_alone(joined, clone, sent, name):
    """An exact match: k8s-node010 is not k8s-node01."""
    lab = clone(joined)
    worker = lab.host(WORKER)
    (worker.state / "hostname").write_text(f"{name}\n")
    result = succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert f"its hostname is {name}" in result.stderr, result
    assert not result.ran("kubeadm") and worker.exists("/etc/kubernetes/kubelet.conf")


@pytest.mark.parametrize("cn", [f"system:node:{WORKER}0", f"system:node:{WORKER[:-1]}"])
def test_a_kubelet_certificate_that_only_resembles_the_node_is_not_its(joined, clone, sent, cn):
    lab = clone(joined)
    worker = lab.host(WORKER)
    certificate = worker.path("/var/lib/kubelet/pki/kubelet-client-current.pem")
    text = certificate.read_text().splitlines()
    text[1] = base64.b64encode(f"subject=/O=system:nodes/CN={cn}".encode()).decode()
    certificate.write_text("\n".join(text) + "\n")
    result = succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert f"kubelet's client certificate is for {cn}" in result.stderr, result
    assert worker.exists("/etc/kubernetes/kubelet.conf")


def test_every_occurrence_of_a_token_is_redacted(initialised, clone, sent):
    """kubeadm 1.13 may print a token twice (the validation error quotes it, the log repeats)."""
    lab = clone(initialised)
    bad = "abcdef.0123456789ABCDEF"
    config = sent[JOIN].stdin.replace("abcdef.0123456789abcdef", bad)
    worker = lab.host(WORKER)
    worker.write("/var/log/kubeadm-join.log", f"earlier: token {bad} and again {bad}\n", 0o600)
    result = failed(run(lab, WORKER, sent[JOIN], stdin=config), "kubeadm join failed")
    assert "0123456789ABCDEF" not in result.stdout + result.stderr, result


def test_redaction_replaces_every_token_and_every_copy_of_the_secret(fresh, clone):
    lab = clone(fresh)
    host = lab.host(MASTER)
    host.write("/tmp/log", "a abcdef.0123456789abcdef b abcdef.0123456789abcdef\n"
               "c qwerty.0123456789abcdeg d S3CRET S3CRET\n")  # fmt: skip
    script = scripts.render("print-kubeconfig", NODE_NAME=MASTER).split("\n[[ -f", 1)[0]
    command = scripts.as_root(script + "\nredacted_tail /tmp/log S3CRET\n")
    result = succeeded(host.run(command))
    assert "0123456789abcde" not in result.stdout and "S3CRET" not in result.stdout, result
    assert result.stdout.count("[redacted]") == 5, result


def test_the_registry_check_wants_the_exact_tag(healthy, clone, sent):
    lab = clone(healthy)
    for address in ("192.168.50.24:5000",):
        lab.serve(address, TAGS, 200, '{"name":"spring-boot-demo","tags":["1.0.1","21.0"]}')
    result = run(lab, WORKER, sent[f"smoke-{WORKER}-registry"])
    assert not result.ok and "does not list spring-boot-demo:1.0" in result.stderr, result


def test_a_failed_retirement_of_the_inits_token_fails_the_step(prepared, clone, sent):
    lab = clone(prepared)
    lab.host(MASTER).fail("kubeadm-token-delete")
    failed(run(lab, MASTER, sent[INIT]), "kubeadm token delete failed")


def test_init_on_an_initialised_master_whose_log_is_gone_succeeds(initialised, clone, sent):
    lab = clone(initialised)
    master = lab.host(MASTER)
    master.path("/var/log/kubeadm-init.log").unlink()
    result = succeeded(run(lab, MASTER, sent[INIT]))
    assert "control plane already initialised" in result.stdout and not result.ran(
        "kubeadm", "init"
    )


def test_the_user_kubeconfig_is_copied_again_for_a_new_cluster(initialised, clone, sent):
    lab = clone(initialised)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    master.write(
        "/etc/kubernetes/admin.conf", "apiVersion: v1\nkind: Config\n# a new cluster\n", 0o600
    )
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    for home in ("/root", "/home/centos"):
        assert master.read(f"{home}/.kube/config").endswith("# a new cluster\n"), home


def test_a_user_kubeconfig_for_a_user_that_is_not_there_fails_in_words(initialised, clone):
    lab = clone(initialised)
    values = {"NODE_NAME": MASTER, "SSH_USER": "nobody-here"}
    result = lab.host(MASTER).run(scripts.as_root(scripts.render("user-kubeconfig", **values)))
    assert not result.ok and "user nobody-here does not exist" in result.stderr, result


def test_a_token_deep_in_a_long_list_is_still_found_and_retired(joined, clone, sent):
    """The list is read whole before it is searched: a pipe into grep -q could lose it."""
    lab = clone(joined)
    tokens = lab.cluster / "tokens"
    for i in range(3000):
        (tokens / f"z{i:05d}").write_text("0123456789abcdef 1h filler\n")
    result = succeeded(run(lab, MASTER, sent[REGISTERED]))
    assert result.ran("kubeadm", "token", "delete", MOCK_TOKEN_ID), result
    assert MOCK_TOKEN_ID not in lab.tokens()


def test_no_host_script_has_a_pipeline():
    """A pipeline's failure is easy to lose under pipefail (or to invent, with grep -q):
    every script reads into variables and searches here-strings instead."""
    for path in sorted((ROOT / "components/scripts").glob("*.sh")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
            code = re.sub(r"'[^']*'", "''", code.replace("||", ""))
            assert "|" not in code, f"{path.name}:{number}: {line.strip()}"
