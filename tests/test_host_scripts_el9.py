"""The current track's host scripts, run for real in an AlmaLinux 9-like sandbox (tests/sandbox.py,
platform "el9"): dnf, containerd 2.3, crictl 1.36, kubeadm/kubectl 1.36 and NetworkManager as
stubs that refuse what the real tools refuse at those versions. The commands are the ones the
program sends for the `current` stack (existing-machine mode, where the delete scripts run).

What the tutorial's tests (test_host_scripts.py) prove of the shared scripts is not repeated here;
these tests cover what differs on EL9: the containerd runtime and its restarts, pkgs.k8s.io and
dnf, kubeadm driven by v1beta4 files, the multi-line join command, drain flags, the registry
address held by NetworkManager, the sshd host-key pin, and flannel's own namespace.
"""

from __future__ import annotations

import base64
import configparser
import json
import re
from dataclasses import dataclass
from functools import cache

import pytest
import tomli as tomllib
import yaml
from conftest import (
    FAKE_PRIVATE_KEY,
    MOCK_JOIN_COMMAND,
    PROJECT,
    ROOT,
    script_of,
    script_values,
    stack_config,
)
from sandbox import Host, Lab, Result, el9_unavailable_reason
from test_host_scripts import (
    Sent,
    changes,
    evaluate,
    failed,
    run,
    succeeded,
)

from components.platforms import el9
from components.platforms.el9 import PIN_HOST_KEY
from components.platforms.el9 import PLATFORM as EL9
from components.settings import NodeSpec, Role, Settings, validate
from components.worker import parse_join_command

_reason = el9_unavailable_reason()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

MASTER, WORKER = "k8s-master", "k8s-node01"
ADDRESSES = {
    "k8s-master": "192.168.60.21/24",
    "k8s-node01": "192.168.60.22/24",
    "k8s-node02": "192.168.60.23/24",
}
NODES = list(ADDRESSES)
ENDPOINT = "192.168.60.21:6443"
INIT = "control-plane-init"
USER_KUBECONFIG = "control-plane-user-kubeconfig"
KUBECONFIG = "control-plane-kubeconfig"
JOIN_COMMAND = f"worker-{WORKER}-join-command"
JOIN = f"worker-{WORKER}-join"
REGISTERED = f"worker-{WORKER}-registered"
REGISTRY_ADDRESS = "registry-address"
REGISTRY = "192.168.60.24:5000"
REGISTRY_CIDR = "192.168.60.24/24"
PACKAGES = {
    "containerd.io-2.3.4-1.el9",
    "cri-tools-1.36.0-150500.1.1",
    "kubelet-1.36.4-150500.1.1",
    "kubeadm-1.36.4-150500.1.1",
    "kubectl-1.36.4-150500.1.1",
}
# installed because what was asked for requires them
DEPENDENCIES = {
    "container-selinux-2.240.0-1.el9",
    "kubernetes-cni-1.8.0-150500.1.1",
    "iptables-nft-1.8.10-11.el9",
}
KEY = "https://pkgs.k8s.io/core:/stable:/v1.36/rpm/repodata/repomd.xml.key"
SMOKE = "smoke-cluster"
REPEATED_WORK = [
    ("yum", "install"),
    ("yum", "clean"),
    ("kubeadm", "init"),
    ("kubeadm", "join"),
    ("systemctl", "restart"),
    ("systemctl", "start"),
    ("systemctl", "enable"),
    ("systemctl", "reload"),
    ("hostnamectl",),
    ("setenforce",),
    ("nmcli", "connection", "modify"),
    ("nmcli", "device", "reapply"),
    ("kubectl", "drain"),
]


def _evaluate(**overrides) -> dict[str, Sent]:
    return evaluate("current", **overrides)


@cache
def _sent() -> dict[str, Sent]:
    return _evaluate(hostSource="existing")


@pytest.fixture(scope="session")
def sent() -> dict[str, Sent]:
    return _sent()


def joining(join_command: str, name: str = WORKER) -> str:
    """The JoinConfiguration the program makes of a printed join command."""
    address = ADDRESSES[name].split("/")[0]
    node = NodeSpec(name, address, Role.WORKER, 2, 2048, 20)
    settings = _settings()
    return EL9.join_configuration(parse_join_command(join_command), node, ENDPOINT, settings)


@cache
def _settings() -> Settings:
    """The current stack's settings, as the program reads them."""
    raw = {
        key.removeprefix(f"{PROJECT}:"): value
        for key, value in stack_config("current", sshPrivateKey=FAKE_PRIVATE_KEY).items()
    }
    return validate(raw, stack="current")


def no_repeated_work(result: Result) -> None:
    repeated = [
        str(call) for call in result.calls for prefix in REPEATED_WORK if call.startswith(*prefix)
    ]
    assert not repeated, f"{result.label} did the work again: {repeated}\n{result}"


def second_run_changes_nothing(host: Host, command: Sent, phase="create", stdin=None) -> Result:
    before = host.snapshot()
    state = (host.installed(), host.unit("containerd"), host.unit("kubelet"))
    running = host.running_containerd_config()
    result = succeeded(run(host.lab, host.name, command, phase, stdin))
    no_repeated_work(result)
    diff = changes(before, host.snapshot())
    assert not diff, f"{result.label} changed files on its second run: {diff}"
    assert (host.installed(), host.unit("containerd"), host.unit("kubelet")) == state
    assert host.running_containerd_config() == running
    return result


# --- labs --------------------------------------------------------------------------------------


@dataclass
class Stage:
    lab: Lab
    results: dict[str, Result]


@pytest.fixture(scope="session")
def fresh(tmp_path_factory) -> Lab:
    return Lab.create(tmp_path_factory.mktemp("el9-fresh") / "lab", ADDRESSES, platform="el9")


@pytest.fixture(scope="session")
def prepared(fresh, sent, tmp_path_factory) -> Stage:
    lab = fresh.clone(tmp_path_factory.mktemp("el9-prepared") / "lab")
    return Stage(lab, {name: run(lab, name, sent[f"node-{name}-prepare"]) for name in NODES})


@pytest.fixture(scope="session")
def initialised(prepared, sent, tmp_path_factory) -> Stage:
    for result in prepared.results.values():
        succeeded(result)
    lab = prepared.lab.clone(tmp_path_factory.mktemp("el9-initialised") / "lab")
    return Stage(lab, {INIT: run(lab, MASTER, sent[INIT])})


@pytest.fixture(scope="session")
def joined(initialised, sent, tmp_path_factory) -> Stage:
    """node01 joined with a join command the master printed (kubeadm 1.36's two lines)."""
    succeeded(initialised.results[INIT])
    lab = initialised.lab.clone(tmp_path_factory.mktemp("el9-joined") / "lab")
    printed = run(lab, MASTER, sent[JOIN_COMMAND])
    config = joining(succeeded(printed).stdout.strip())
    return Stage(lab, {JOIN_COMMAND: printed, JOIN: run(lab, WORKER, sent[JOIN], stdin=config)})


@pytest.fixture
def clone(tmp_path):
    def make(stage: Stage | Lab) -> Lab:
        lab = stage.lab if isinstance(stage, Stage) else stage
        return lab.clone(tmp_path / "lab")

    return make


def values(command: Sent, phase: str = "create") -> dict[str, str]:
    return script_values(script_of(getattr(command, phase)))


# --- which scripts these tests run -------------------------------------------------------------

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
    (REGISTRY_ADDRESS, "create"): "add-registry-address-nm",
    (REGISTRY_ADDRESS, "delete"): "remove-registry-address-nm",
    (SMOKE, "create"): "check-cluster",
    ("smoke-k8s-node01-registry", "create"): "check-registry",
}


def exercised_scripts() -> set[str]:
    """Every script (and part) the current track's commands above run."""
    sent = _sent()
    return {name for (resource, phase) in EXERCISED for name in sent[resource].script_names(phase)}


def test_every_script_the_current_track_sends_is_exercised_here(sent):
    sent_scripts = {
        name
        for command in sent.values()
        for phase in ("create", "update", "delete")
        for name in command.script_names(phase)
    }
    for (resource, phase), script in EXERCISED.items():
        assert sent[resource].script_name(phase) == script, (resource, phase)
    assert sent_scripts == exercised_scripts()
    assert {"runtime-containerd", "install-kubernetes"} <= exercised_scripts()


def test_the_sandbox_plays_almalinux_9(fresh, clone):
    host = clone(fresh).host(MASTER)
    result = host.run("cat /etc/almalinux-release; id -un; bash -c 'echo $BASH_VERSION'")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("AlmaLinux release 9"), result
    assert lines[1] == "root"
    assert int(lines[2].split(".")[0]) >= 5, "EL9's bash is 5.1"
    assert host.user == "almalinux"
    assert host.swaps() == [] and host.unit("firewalld") is None


# --- prepare: node, containerd, Kubernetes packages -------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_prepare_first_run_succeeds(prepared, node):
    assert f"==> [{node}] host prepared" in succeeded(prepared.results[node]).stdout


def _repo(host: Host, name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.read(f"/etc/yum.repos.d/{name}"))
    (section,) = parser.sections()
    return parser[section]


def test_prepare_adds_dockers_el9_repository_and_the_minors_pkgs_k8s_io_repository(prepared):
    master = prepared.lab.host(MASTER)
    docker = _repo(master, "docker-ce.repo")
    assert docker["baseurl"] == "https://download.docker.com/linux/rhel/9/$basearch/stable"
    assert docker["gpgkey"] == "https://download.docker.com/linux/rhel/gpg"
    kubernetes = _repo(master, "kubernetes.repo")
    assert kubernetes["baseurl"] == "https://pkgs.k8s.io/core:/stable:/v1.36/rpm/"
    assert kubernetes["gpgkey"] == KEY
    assert set(kubernetes["exclude"].split()) == {
        "kubelet",
        "kubeadm",
        "kubectl",
        "cri-tools",
        "kubernetes-cni",
    }
    # the distribution's own repositories are left as they are
    assert "mirrors.almalinux.org" in master.read("/etc/yum.repos.d/almalinux-baseos.repo")


def test_prepare_imports_the_kubernetes_key_on_every_run(prepared, clone, sent):
    assert prepared.results[MASTER].ran("rpm", "--import", KEY)
    lab = clone(prepared)
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert rerun.ran("rpm", "--import", KEY), "a key extended upstream must be fetched again"


def test_a_mirror_whose_key_does_not_answer_is_passed_over(fresh, clone):
    lab = clone(fresh)
    urls = [
        "https://mirror.example/k8s/{minor}/rpm/",
        "https://pkgs.k8s.io/core:/stable:/{minor}/rpm/",
    ]
    mirrored = _evaluate(hostSource="existing", kubernetesRepoUrls=urls)
    master = lab.host(MASTER)
    master.fail("rpm-import", "mirror.example")
    result = succeeded(run(lab, MASTER, mirrored[f"node-{MASTER}-prepare"]))
    assert "rpm --import https://mirror.example/k8s/v1.36/rpm/repodata/repomd.xml.key failed" in (
        result.stderr
    )
    assert (master.state / "rpmkeys").read_text().splitlines() == [KEY]


def test_prepare_stops_when_no_mirror_gives_the_kubernetes_key(fresh, clone, sent):
    lab = clone(fresh)
    lab.host(MASTER).fail("rpm-import")
    failed(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]), "rpm --import failed for every key")


def test_prepare_installs_the_pinned_packages_and_what_they_require(prepared):
    result = prepared.results[MASTER]
    installs = result.ran("yum", "install")
    assert [call.args for call in installs] == [
        (
            "install",
            "-y",
            "--disableexcludes=kubernetes",
            "containerd.io-2.3.4",
            "cri-tools-1.36.0",
        ),
        (
            "install",
            "-y",
            "--disableexcludes=kubernetes",
            "kubelet-1.36.4",
            "kubeadm-1.36.4",
            "kubectl-1.36.4",
        ),
    ], result
    installed = set(prepared.lab.host(MASTER).installed())
    assert installed >= PACKAGES | DEPENDENCIES


def test_containerd_gets_its_whole_config_toml_with_the_cri_on(prepared):
    """Docker's containerd.io ships config.toml with the CRI disabled; it is replaced whole."""
    for node in NODES:
        host = prepared.lab.host(node)
        config = tomllib.loads(host.read("/etc/containerd/config.toml"))
        assert config["version"] == 3 and config["disabled_plugins"] == [], node
        runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
        assert runtime["containerd"]["runtimes"]["runc"]["options"] == {"SystemdCgroup": True}
        images = config["plugins"]["io.containerd.cri.v1.images"]
        assert images["pinned_images"]["sandbox"] == "registry.k8s.io/pause:3.10.2"
        assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
        running = host.running_containerd_config()
        assert running["cri"] is True, node
        assert running["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
        assert running["sandboxImage"] == "registry.k8s.io/pause:3.10.2"
        assert host.unit("containerd") == (True, True), node


def test_the_private_registry_is_plain_http_and_docker_hub_direct_by_default(prepared):
    master = prepared.lab.host(MASTER)
    registry = tomllib.loads(master.read(f"/etc/containerd/certs.d/{REGISTRY}/hosts.toml"))
    assert registry == {
        "server": f"http://{REGISTRY}",
        "host": {f"http://{REGISTRY}": {"capabilities": ["pull", "resolve", "push"]}},
    }
    hub = tomllib.loads(master.read("/etc/containerd/certs.d/docker.io/hosts.toml"))
    assert hub == {"server": "https://registry-1.docker.io"}


def test_crictl_is_pointed_at_containerd(prepared):
    crictl = yaml.safe_load(prepared.lab.host(WORKER).read("/etc/crictl.yaml"))
    assert crictl["runtime-endpoint"] == crictl["image-endpoint"] == el9.CRI_SOCKET
    assert prepared.results[WORKER].ran("crictl", "info")


def test_prepare_keeps_networkmanager_off_the_pod_network_links(prepared):
    master = prepared.lab.host(MASTER)
    conf = configparser.ConfigParser()
    conf.read_string(master.read("/etc/NetworkManager/conf.d/90-kubeadm-libvirt.conf"))
    unmanaged = conf["keyfile"]["unmanaged-devices"].split(";")
    assert {"interface-name:cni0", "interface-name:flannel*"} <= set(unmanaged)
    assert prepared.results[MASTER].ran("systemctl", "reload", "NetworkManager")


def test_prepare_on_el9_sets_selinux_permissive_modules_and_sysctls(prepared):
    master = prepared.lab.host(MASTER)
    assert master.selinux() == "Permissive"
    assert "SELINUX=permissive" in master.read("/etc/selinux/config").splitlines()
    assert master.read("/etc/modules-load.d/kubeadm-libvirt.conf") == "overlay\nbr_netfilter\n"
    assert master.module_loaded("overlay") and master.module_loaded("br_netfilter")
    assert master.sysctl("net.ipv4.ip_forward") == "1"
    assert not prepared.results[MASTER].ran("swapoff"), "the image has no swap"
    assert master.unit("kubelet") == (True, False)


@pytest.mark.parametrize("node", NODES)
def test_prepare_second_run_changes_nothing(prepared, clone, sent, node):
    lab = clone(prepared)
    second_run_changes_nothing(lab.host(node), sent[f"node-{node}-prepare"])


def test_a_new_registry_mirror_rewrites_hosts_toml_without_restarting_containerd(prepared, clone):
    lab = clone(prepared)
    mirrored = _evaluate(hostSource="existing", registryMirrors=["https://mirror.example"])
    result = succeeded(run(lab, MASTER, mirrored[f"node-{MASTER}-prepare"]))
    hub = tomllib.loads(lab.host(MASTER).read("/etc/containerd/certs.d/docker.io/hosts.toml"))
    assert hub["host"] == {"https://mirror.example": {"capabilities": ["pull", "resolve"]}}
    assert not result.ran("systemctl", "restart"), "hosts.toml is read on every pull"


def test_a_new_image_repository_restarts_containerd_with_its_pause_image(prepared, clone):
    lab = clone(prepared)
    moved = _evaluate(hostSource="existing", imageRepository="registry.example/k8s")
    result = succeeded(run(lab, MASTER, moved[f"node-{MASTER}-prepare"]))
    assert result.ran("systemctl", "restart", "containerd"), result
    running = lab.host(MASTER).running_containerd_config()
    assert running["sandboxImage"] == "registry.example/k8s/pause:3.10.2"


@pytest.mark.parametrize("marker", ["missing", "an older config's"])
def test_a_run_stopped_before_the_restart_restarts_containerd_on_the_rerun(
    prepared, clone, sent, marker
):
    lab = clone(prepared)
    master = lab.host(MASTER)
    # config.toml already current on disk, the daemon still on Docker's file (CRI off): the
    # first run never restarted (no marker), or an earlier one did with an older file
    applied = master.path("/var/lib/kubeadm-libvirt/containerd-config.sha256")
    if marker == "missing":
        applied.unlink()
    else:
        applied.write_text("0" * 64)
    (master.state / "containerd/running.json").write_text(
        json.dumps({"cri": False, "containerd": {"runtimes": {"runc": {"options": {}}}}})
    )
    rerun = succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert rerun.ran("systemctl", "restart", "containerd"), rerun
    assert master.running_containerd_config()["cri"] is True


def test_prepare_fails_in_words_when_containerd_runs_without_the_systemd_cgroup_driver(
    prepared, clone, sent
):
    """The file is current and was applied, yet the daemon says otherwise: say so, do not go
    on to a kubelet that would fight containerd over cgroups."""
    lab = clone(prepared)
    running = lab.host(MASTER).state / "containerd/running.json"
    config = json.loads(running.read_text())
    config["containerd"]["runtimes"]["runc"]["options"] = {}
    running.write_text(json.dumps(config, indent=2))
    failed(
        run(lab, MASTER, sent[f"node-{MASTER}-prepare"]),
        "containerd does not serve the CRI with the systemd cgroup driver",
    )


def test_prepare_fails_in_words_when_containerd_does_not_serve_the_cri(fresh, clone, sent):
    lab = clone(fresh)
    lab.host(MASTER).fail("start-containerd")
    failed(
        run(lab, MASTER, sent[f"node-{MASTER}-prepare"]),
        "containerd did not start with the new config.toml",
    )


def test_an_unknown_containerd_version_stops_prepare_naming_the_packages(fresh, clone):
    """dnf refuses the whole request when one spec matches nothing (strict=True)."""
    lab = clone(fresh)
    pinned = _evaluate(hostSource="existing", containerdVersion="2.9.9")
    result = failed(
        run(lab, MASTER, pinned[f"node-{MASTER}-prepare"]),
        "yum install containerd.io-2.9.9 cri-tools-1.36.0 failed",
    )
    assert "Unable to find a match: containerd.io-2.9.9" in result.stderr
    assert not any(p.startswith("cri-tools") for p in lab.host(MASTER).installed())


def test_prepare_refuses_a_newer_kubelet_it_cannot_downgrade(fresh, clone, sent):
    lab = clone(fresh)
    master = lab.host(MASTER)
    with (master.state / "rpmdb").open("a") as rpmdb:
        rpmdb.write("kubelet 1.37.0 150500.1.1 x86_64\n")
    failed(
        run(lab, MASTER, sent[f"node-{MASTER}-prepare"]),
        "not all of kubelet-1.36.4 kubeadm-1.36.4 kubectl-1.36.4 are installed",
    )


def test_prepare_upgrades_an_older_patch_to_the_pinned_one(fresh, clone, sent):
    lab = clone(fresh)
    master = lab.host(MASTER)
    with (master.state / "rpmdb").open("a") as rpmdb:
        rpmdb.write("kubelet 1.36.3 150500.1.1 x86_64\n")
    succeeded(run(lab, MASTER, sent[f"node-{MASTER}-prepare"]))
    assert "kubelet-1.36.4-150500.1.1" in master.installed()
    assert "kubelet-1.36.3-150500.1.1" not in master.installed()


# --- the control plane -------------------------------------------------------------------------


def test_init_runs_kubeadm_from_a_v1beta4_file_only(initialised):
    result = succeeded(initialised.results[INIT])
    (init,) = result.ran("kubeadm", "init")
    assert init.args == ("init", "--config", "/run/kubeadm-libvirt-init.yaml"), result
    master = initialised.lab.host(MASTER)
    assert not master.exists("/run/kubeadm-libvirt-init.yaml"), "the file is removed after"
    flags = master.read("/var/lib/kubelet/kubeadm-flags.env")
    assert f"--container-runtime-endpoint={el9.CRI_SOCKET}" in flags
    assert "--node-ip=192.168.60.21" in flags, "the master carries the registry address too"
    kubelet = yaml.safe_load(master.read("/var/lib/kubelet/config.yaml"))
    assert kubelet["cgroupDriver"] == "systemd"
    assert (initialised.lab.cluster / "config").read_text().splitlines()[:4] == [
        "version=v1.36.4",
        "image-repository=registry.k8s.io",
        "pod-network-cidr=10.244.0.0/16",
        "service-cidr=10.96.0.0/12",
    ]


def test_init_retires_kubeadms_default_token(initialised):
    assert initialised.lab.tokens() == {}, "kubeadm init's 24h token is deleted"


def test_init_second_run_changes_nothing(initialised, clone, sent):
    lab = clone(initialised)
    second_run_changes_nothing(lab.host(MASTER), sent[INIT])


def test_kubeadm_1_36_refuses_the_tutorials_flags_beside_a_config_file(prepared, clone, sent):
    """The stub holds kubeadm's rule, so a flag put beside --config would fail here first."""
    lab = clone(prepared)
    result = lab.host(MASTER).run(
        "printf 'apiVersion: kubeadm.k8s.io/v1beta4\\nkind: InitConfiguration\\n---\\n"
        "apiVersion: kubeadm.k8s.io/v1beta4\\nkind: ClusterConfiguration\\n' >/tmp/c.yaml; "
        "kubeadm init --config /tmp/c.yaml --cri-socket unix:///x"
    )
    assert result.code == 1 and "can not mix '--config' with arguments [cri-socket]" in (
        result.stderr
    ), result


def test_kubeadm_1_36_refuses_the_tutorials_v1beta1_file(prepared, clone):
    lab = clone(prepared)
    result = lab.host(MASTER).run(
        "printf 'apiVersion: kubeadm.k8s.io/v1beta1\\nkind: InitConfiguration\\n' >/tmp/c.yaml;"
        " kubeadm init --config /tmp/c.yaml"
    )
    assert result.code == 1 and "uses an old API spec" in result.stderr, result


def test_a_failed_init_is_reset_and_a_rerun_succeeds(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    master.fail("kubeadm-init")
    failed(run(lab, MASTER, sent[INIT]), "kubeadm init failed")
    assert not master.exists("/etc/kubernetes/admin.conf")
    assert not master.exists("/etc/kubernetes/super-admin.conf")
    master.recover("kubeadm-init")
    succeeded(run(lab, MASTER, sent[INIT]))
    assert master.exists("/etc/kubernetes/admin.conf")


def test_init_fails_in_words_when_the_cri_is_off(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(master.run("systemctl stop containerd"))
    result = failed(run(lab, MASTER, sent[INIT]), "kubeadm init failed")
    assert "[ERROR CRI]: container runtime is not running" in result.stderr


def test_the_kubeconfig_steps_work_on_el9(initialised, clone, sent):
    lab = clone(initialised)
    succeeded(run(lab, MASTER, sent[USER_KUBECONFIG]))
    assert lab.host(MASTER).exists("/home/almalinux/.kube/config")
    printed = succeeded(run(lab, MASTER, sent[KUBECONFIG])).stdout
    assert yaml.safe_load(printed)["clusters"][0]["cluster"]["server"] == f"https://{ENDPOINT}"
    succeeded(run(lab, MASTER, sent[INIT], "update"))


# --- workers -----------------------------------------------------------------------------------


def test_the_two_line_join_command_is_printed_as_one(joined):
    printed = succeeded(joined.results[JOIN_COMMAND]).stdout
    assert "\\" not in printed and len(printed.strip().splitlines()) == 1, printed
    assert re.fullmatch(
        r"kubeadm join 192\.168\.60\.21:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} "
        r"--discovery-token-ca-cert-hash sha256:[0-9a-f]{64}\n",
        printed,
    ), printed


def test_a_worker_joins_from_a_v1beta4_file_with_its_own_address(joined):
    result = succeeded(joined.results[JOIN])
    (join,) = result.ran("kubeadm", "join")
    assert join.args == ("join", "--config", "/run/kubeadm-libvirt-join.yaml"), result
    worker = joined.lab.host(WORKER)
    assert "--node-ip=192.168.60.22" in worker.read("/var/lib/kubelet/kubeadm-flags.env")
    assert WORKER in joined.lab.nodes()
    assert (worker.state / "join-config-mode").read_text() == "600 root\n"
    assert not worker.exists("/run/kubeadm-libvirt-join.yaml")


def test_join_second_run_and_its_check_change_nothing(joined, clone, sent):
    lab = clone(joined)
    config = joining(MOCK_JOIN_COMMAND)
    second_run_changes_nothing(lab.host(WORKER), sent[JOIN], stdin=config)
    second_run_changes_nothing(lab.host(WORKER), sent[JOIN], "update")


def test_a_failed_join_redacts_its_token_is_reset_and_a_rerun_joins(initialised, clone, sent):
    lab = clone(initialised)
    worker = lab.host(WORKER)
    printed = succeeded(run(lab, MASTER, sent[JOIN_COMMAND])).stdout.strip()
    secret = parse_join_command(printed).token.split(".")[1]
    worker.fail("kubeadm-join")
    result = failed(run(lab, WORKER, sent[JOIN], stdin=joining(printed)), "kubeadm join failed")
    assert secret not in result.stdout + result.stderr
    assert not worker.exists("/etc/kubernetes/bootstrap-kubelet.conf")
    worker.recover("kubeadm-join")
    succeeded(run(lab, WORKER, sent[JOIN], stdin=joining(printed)))
    assert WORKER in lab.nodes()


def test_a_failed_token_create_prints_no_token(initialised, clone, sent):
    lab = clone(initialised)
    lab.host(MASTER).fail("kubeadm-token-create")
    result = failed(run(lab, MASTER, sent[JOIN_COMMAND]), "kubeadm token create failed")
    assert not re.search(r"[a-z0-9]{6}\.[a-z0-9]{16}", result.stdout + result.stderr)


def test_registered_then_removed_with_kubectl_1_36s_drain_flags(joined, clone, sent):
    lab = clone(joined)
    token = parse_join_command(succeeded(joined.results[JOIN_COMMAND]).stdout).token_id
    succeeded(run(lab, MASTER, sent[REGISTERED], stdin=f"{token}\n"))
    assert token not in lab.tokens(), "the join's token is retired once the node registered"
    result = succeeded(run(lab, MASTER, sent[REGISTERED], "delete"))
    (drain,) = result.ran("kubectl", "drain")
    assert "--delete-emptydir-data" in drain.args and "--delete-local-data" not in drain.args
    assert WORKER not in lab.nodes()


def test_kubectl_1_36_refuses_the_tutorials_drain_flag(joined, clone):
    lab = clone(joined)
    result = lab.host(MASTER).run(
        f"KUBECONFIG=/etc/kubernetes/admin.conf kubectl drain {WORKER} --delete-local-data"
    )
    assert result.code == 1 and "unknown flag: --delete-local-data" in result.stderr, result


def test_reset_after_a_join_cleans_the_node_and_a_second_reset_changes_nothing(joined, clone, sent):
    lab = clone(joined)
    worker = lab.host(WORKER)
    worker.simulate_pod_network()
    succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert not worker.exists("/etc/kubernetes/kubelet.conf")
    assert not worker.exists("/etc/cni/net.d/10-flannel.conflist"), "kubeadm 1.36 leaves it"
    assert "cni0" not in worker.links() and "KUBE-" not in worker.iptables()
    second_run_changes_nothing(worker, sent[JOIN], "delete")


def test_reset_leaves_a_host_that_is_another_node_now_alone(joined, clone, sent):
    lab = clone(joined)
    worker = lab.host(WORKER)
    (worker.state / "hostname").write_text("k8s-node07\n")
    before = worker.snapshot()
    result = succeeded(run(lab, WORKER, sent[JOIN], "delete"))
    assert "not resetting" in result.stderr
    assert not changes(before, worker.snapshot())


def test_the_control_plane_reset_takes_the_cluster_down(initialised, clone, sent):
    lab = clone(initialised)
    succeeded(run(lab, MASTER, sent[INIT], "delete"))
    assert not lab.initialised
    assert not lab.host(MASTER).exists("/etc/kubernetes/super-admin.conf")


# --- the registry's address, held by NetworkManager ------------------------------------------


def test_the_registry_address_goes_into_eth0s_connection_and_onto_the_link(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    result = succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    assert result.ran("nmcli", "connection", "modify", "cloud-init eth0", "+ipv4.addresses")
    assert REGISTRY_CIDR in master.connection_addresses()
    assert master.addresses("eth0") == ["192.168.60.21/24", REGISTRY_CIDR]


def test_the_registry_address_survives_a_reconnect_and_a_rerun_changes_nothing(
    prepared, clone, sent
):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    master.nm_reconnect()
    assert REGISTRY_CIDR in master.addresses("eth0"), "NetworkManager put it back"
    second_run_changes_nothing(master, sent[REGISTRY_ADDRESS])


def test_an_address_added_beside_networkmanager_would_not_survive(prepared, clone):
    """Why the address lives in the profile: the sandbox's NetworkManager drops the rest."""
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(master.run(f"ip address add {REGISTRY_CIDR} dev eth0"))
    master.nm_reconnect()
    assert master.addresses("eth0") == ["192.168.60.21/24"]


def test_a_link_that_lost_the_address_gets_it_back_on_the_rerun(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    (master.state / "addresses/eth0").write_text("192.168.60.21/24\n")
    rerun = succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    assert rerun.ran("nmcli", "device", "reapply", "eth0")
    assert not rerun.ran("nmcli", "connection", "modify")
    assert REGISTRY_CIDR in master.addresses("eth0")


def test_a_new_registry_address_replaces_the_old_one(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    moved = _evaluate(hostSource="existing", registryAddress="192.168.60.30")
    succeeded(run(lab, MASTER, moved[REGISTRY_ADDRESS]))
    assert master.connection_addresses() == ["192.168.60.21/24", "192.168.60.30/24"]
    assert master.addresses("eth0") == ["192.168.60.21/24", "192.168.60.30/24"]


def test_removing_the_registry_address_takes_it_out_of_the_profile(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"))
    assert master.connection_addresses() == ["192.168.60.21/24"]
    assert master.addresses("eth0") == ["192.168.60.21/24"]
    assert not master.exists("/var/lib/kubeadm-libvirt/registry-address")
    second_run_changes_nothing(master, sent[REGISTRY_ADDRESS], "delete")


def test_the_registry_address_fails_in_words_without_networkmanager(prepared, clone, sent):
    lab = clone(prepared)
    succeeded(lab.host(MASTER).run("systemctl stop NetworkManager"))
    failed(run(lab, MASTER, sent[REGISTRY_ADDRESS]), "NetworkManager does not know eth0")


def test_removing_the_address_leaves_a_host_that_is_another_node_now_alone(prepared, clone, sent):
    lab = clone(prepared)
    master = lab.host(MASTER)
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS]))
    (master.state / "hostname").write_text("somewhere-else\n")
    succeeded(run(lab, MASTER, sent[REGISTRY_ADDRESS], "delete"))
    assert REGISTRY_CIDR in master.connection_addresses()


# --- sshd's host key ---------------------------------------------------------------------------


def test_the_host_key_pin_keeps_sshd_to_ed25519_and_is_idempotent(fresh, clone):
    lab = clone(fresh)
    host = lab.host(MASTER)
    for _ in range(2):
        for command in PIN_HOST_KEY:
            succeeded(host.run(command))
    assert host.read(el9.HOST_KEY_DROP_IN) == "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    for unit in ("sshd-keygen@rsa.service", "sshd-keygen@ecdsa.service"):
        assert (host.state / "units" / unit / "masked").exists(), unit
        result = host.run(f"systemctl start {unit}")
        assert result.code == 1 and "is masked" in result.stderr
    # sshd reads the drop-in: the main file's HostKey lines stay commented
    assert all(
        line.startswith("#")
        for line in host.read("/etc/ssh/sshd_config").splitlines()
        if "HostKey" in line
    )


# --- the smoke check ---------------------------------------------------------------------------


def _running_cluster(joined, clone) -> Lab:
    lab = clone(joined)
    for node in NODES:
        lab.register_node(node)
        lab.run_pod(f"kube-proxy-{node}", node)
        lab.run_pod(f"kube-flannel-ds-{node}", node, labels="app=flannel", namespace="kube-flannel")
        for address in ("192.168.60.21", "192.168.60.22"):
            lab.serve(f"{address}:30080", "/", 200, "hello")
    return lab


def test_the_smoke_check_finds_flannel_in_its_own_namespace(joined, clone, sent):
    lab = _running_cluster(joined, clone)
    assert values(sent[SMOKE])["FLANNEL_NAMESPACE"] == "kube-flannel"
    succeeded(run(lab, MASTER, sent[SMOKE]))


def test_the_smoke_check_fails_when_flannel_is_missing_on_a_node(joined, clone, sent):
    lab = _running_cluster(joined, clone)
    (lab.cluster / "pods" / "kube-flannel-ds-k8s-node02").unlink()
    failed(run(lab, MASTER, sent[SMOKE]), "flannel is not running on k8s-node02")


def test_the_registry_check_asks_the_tracks_registry_for_the_exact_tag(joined, clone, sent):
    lab = _running_cluster(joined, clone)
    check = sent[f"smoke-{WORKER}-registry"]
    tags = f"/v2/{values(check)['APP_NAME']}/tags/list"
    lab.serve(REGISTRY, tags, 200, '{"tags":["1.0.1"]}')
    failed(run(lab, WORKER, check), f"the registry at {REGISTRY} does not list")
    lab.serve(REGISTRY, tags, 200, f'{{"tags":["{values(check)["APP_TAG"]}"]}}')
    succeeded(run(lab, WORKER, check))


# --- the stubs this track adds ------------------------------------------------------------------

STUB_FAILURES = {
    # stub: (stage, fail flag, command, exit status, message)
    "crictl": ("fresh", None, "crictl info", 127, "crictl: command not found"),
    "nmcli": ("prepared", "nmcli-reapply", "nmcli device reapply eth0", 1, "Can't reapply"),
}


@pytest.mark.parametrize("stub", sorted(STUB_FAILURES))
def test_an_el9_stub_fails_as_its_tool_does(fresh, prepared, clone, stub):
    stage, flag, command, status, message = STUB_FAILURES[stub]
    lab = clone({"fresh": fresh, "prepared": prepared}[stage])
    host = lab.host(MASTER)
    if flag:
        host.fail(flag)
    result = host.run(command)
    assert result.code == status, result
    assert message in result.stderr + result.stdout, result


def test_the_stubs_containerd_refuses_a_broken_config_toml(prepared, clone):
    lab = clone(prepared)
    host = lab.host(MASTER)
    host.write("/etc/containerd/config.toml", "version = 3\n[plugins\n")
    result = host.run("systemctl restart containerd")
    assert result.code == 1 and "failed because" in result.stderr, result
    assert host.unit("containerd") == (True, False)


def test_dockers_own_config_toml_keeps_the_cri_off(fresh, clone):
    """What the runtime script exists to fix: the package's file as shipped."""
    lab = clone(fresh)
    host = lab.host(MASTER)
    setup = (
        "printf '[docker-ce-stable]\\nbaseurl=https://download.docker.com/linux/rhel/9/x86_64/"
        "stable\\n' >/etc/yum.repos.d/docker-ce.repo; yum install -y containerd.io-2.3.4 && "
        "systemctl start containerd"
    )
    succeeded(host.run(setup))
    assert host.running_containerd_config()["cri"] is False
    assert 'disabled_plugins = ["cri"]' in host.read("/etc/containerd/config.toml")


def test_the_stub_catalog_offers_what_the_track_pins():
    """The defaults must be installable from the simulated repositories, or every test above
    would be testing a failure."""
    catalog = (ROOT / "tests/stubs/_catalog-el9").read_text().splitlines()
    offered = {
        f"{w[1]}-{w[2]}" for w in (line.split() for line in catalog if line and line[0] != "#")
    }
    settings = _settings()
    wanted = {f"containerd.io-{settings.packages.containerd_version}"}
    wanted |= set(EL9.kubernetes_packages(settings))
    assert wanted <= offered


def test_the_encoded_host_files_decode_to_the_platforms_files(sent):
    records = values(sent[f"node-{MASTER}-prepare"])["HOST_FILES"].splitlines()
    decoded = {}
    for record in records:
        path, _mode, _action, _unit, encoded = record.split()
        decoded[path] = base64.b64decode(encoded).decode()
    assert decoded == {f.path: f.content for f in EL9.host_files(_settings())}
