"""The highly available control plane's host scripts (Pulumi.ha.yaml: three masters behind the
virtual address 192.168.70.20, on the current track), run for real in the EL9 sandbox. The stubs
hold kubeadm 1.36's HA rules: init reaches the API through controlPlaneEndpoint, so kube-vip must
hold it with super-admin.conf; a master joins with the certificates uploaded under a key; etcd
adds it as a learner and promotes it; reset removes the node's member through the API; kube-vip
killed by reset leaves the address on the interface, stopped gracefully it gives it up.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
import yaml
from conftest import FAKE_PRIVATE_KEY, PROJECT, stack_config
from sandbox import Lab, Result, el9_unavailable_reason
from test_host_scripts import Sent, changes, evaluate, failed, run, succeeded
from test_host_scripts_el9 import Stage

from components.joining import parse_join_command
from components.settings import NodeSpec, Settings, validate

_reason = el9_unavailable_reason()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

MASTER, MASTER2, MASTER3, WORKER = "k8s-master", "k8s-master2", "k8s-master3", "k8s-node01"
ADDRESSES = {
    MASTER: "192.168.70.21/24",
    MASTER2: "192.168.70.22/24",
    MASTER3: "192.168.70.23/24",
    WORKER: "192.168.70.31/24",
}
VIP = "192.168.70.20"
ENDPOINT = f"{VIP}:6443"
INIT = "control-plane-init"
KUBE_VIP = "/etc/kubernetes/manifests/kube-vip.yaml"


def steps(name: str) -> tuple[str, str, str]:
    prefix = f"control-plane-{name}" if name != WORKER else f"worker-{name}"
    return f"{prefix}-join-command", f"{prefix}-join", f"{prefix}-registered"


@cache
def _sent() -> dict[str, Sent]:
    return evaluate("ha", hostSource="existing")


@pytest.fixture(scope="session")
def sent() -> dict[str, Sent]:
    return _sent()


@cache
def _settings() -> Settings:
    raw = {
        key.removeprefix(f"{PROJECT}:"): value
        for key, value in stack_config("ha", sshPrivateKey=FAKE_PRIVATE_KEY).items()
    }
    return validate(raw, stack="ha")


def joining(printed: str, name: str) -> str:
    """The JoinConfiguration the program makes of a printed join command for node name."""
    settings = _settings()
    spec = next(n for n in settings.nodes if n.name == name)
    node = NodeSpec(name, spec.address, spec.role, 2, 2048, 20)
    join = parse_join_command(printed)
    assert join is not None, "no join command printed"
    return settings.platform.join_configuration(join, node, ENDPOINT, settings)


def join(lab: Lab, sent: dict[str, Sent], name: str) -> dict[str, Result]:
    """A node's three steps as the engine runs them: token on the first master, the join with
    the JoinConfiguration made of it, then the wait (and the token's retirement) on the master."""
    token_step, join_step, registered_step = steps(name)
    printed = succeeded(run(lab, MASTER, sent[token_step])).stdout.strip()
    joined = run(lab, name, sent[join_step], stdin=joining(printed, name))
    results = {token_step: printed, join_step: joined}
    if joined.ok:
        token = parse_join_command(printed).token_id
        results[registered_step] = run(lab, MASTER, sent[registered_step], stdin=f"{token}\n")
    return results


def members(lab: Lab) -> dict[str, tuple[str, str]]:
    """etcd member name -> (status, is learner), as the cluster holds them."""
    found = {}
    for file in sorted((lab.cluster / "etcd").glob("*")):
        _id, status, learner, _address = file.read_text().split()
        found[file.name] = (status, learner)
    return found


@pytest.fixture(scope="session")
def prepared(sent, tmp_path_factory) -> Stage:
    lab = Lab.create(tmp_path_factory.mktemp("ha") / "lab", ADDRESSES, platform="el9")
    results = {name: run(lab, name, sent[f"node-{name}-prepare"]) for name in ADDRESSES}
    for result in results.values():
        succeeded(result)
    return Stage(lab, results)


@pytest.fixture(scope="session")
def initialised(prepared, sent, tmp_path_factory) -> Stage:
    lab = prepared.lab.clone(tmp_path_factory.mktemp("ha-initialised") / "lab")
    return Stage(lab, {INIT: succeeded(run(lab, MASTER, sent[INIT]))})


@pytest.fixture(scope="session")
def highly_available(initialised, sent, tmp_path_factory) -> Stage:
    """Three masters and a worker, joined one after the other as the program orders them."""
    lab = initialised.lab.clone(tmp_path_factory.mktemp("ha-joined") / "lab")
    results: dict[str, Result] = {}
    for name in (MASTER2, MASTER3, WORKER):
        results.update(join(lab, sent, name))
    return Stage(lab, results)


@pytest.fixture
def clone(tmp_path):
    def make(stage: Stage) -> Lab:
        return stage.lab.clone(tmp_path / "lab")

    return make


# --- the first master ---------------------------------------------------------------------------


def test_init_has_kube_vip_hold_the_address_and_kubeadm_use_it(initialised):
    master = initialised.lab.host(MASTER)
    assert f"{VIP}/32" in master.addresses("eth0"), "kube-vip took the virtual address"
    admin = yaml.safe_load(master.read("/etc/kubernetes/admin.conf"))
    assert admin["clusters"][0]["cluster"]["server"] == f"https://{ENDPOINT}"
    # from now on kube-vip reads the API with admin.conf, which has rights after init
    pod = yaml.safe_load(master.read(KUBE_VIP))
    assert pod["spec"]["volumes"][0]["hostPath"] == {
        "path": "/etc/kubernetes/admin.conf",
        "type": "File",
    }
    assert "kube-vip reads the API with admin.conf" in initialised.results[INIT].stdout
    assert members(initialised.lab) == {MASTER: ("started", "false")}


def test_init_would_never_finish_with_kube_vip_on_admin_conf(prepared, clone, sent):
    """The trap of kubeadm >= 1.29: kube-vip reading admin.conf during the first init never
    takes the address, so kubeadm never reaches the API through it."""
    lab = clone(prepared)
    command = sent[INIT]
    trapped = Sent(
        command.name,
        command.create.replace("/etc/kubernetes/super-admin.conf", "/etc/kubernetes/admin.conf"),
        command.update,
        command.delete,
        command.stdin,
    )
    result = failed(run(lab, MASTER, trapped), "kubeadm init failed")
    assert "could not reach the API server at https://192.168.70.20:6443" in result.stderr


def test_init_second_run_changes_nothing(initialised, clone, sent):
    lab = clone(initialised)
    master = lab.host(MASTER)
    before = master.snapshot()
    result = succeeded(run(lab, MASTER, sent[INIT]))
    assert not result.ran("kubeadm", "init") and not changes(before, master.snapshot())


# --- masters joining ----------------------------------------------------------------------------


def test_a_masters_token_comes_with_freshly_uploaded_certificates(highly_available):
    printed = highly_available.results[steps(MASTER2)[0]]
    join_command = parse_join_command(printed)
    assert join_command.certificate_key and re.fullmatch(
        r"[0-9a-f]{64}", join_command.certificate_key
    )
    assert join_command.endpoint == ENDPOINT


def test_the_certificate_key_is_never_on_a_command_line(highly_available):
    """The key reaches kubeadm as an argument on the first master only (kubeadm has no other
    way: `init phase upload-certs --certificate-key`), and the joining master only in its
    root-only JoinConfiguration file."""
    for name in (MASTER2, MASTER3):
        host = highly_available.lab.host(name)
        (kubeadm_join,) = [c for c in host.calls() if c.startswith("kubeadm", "join")]
        assert kubeadm_join.args == ("join", "--config", "/run/kubeadm-libvirt-join.yaml")
        assert (host.state / "join-config-mode").read_text() == "600 root\n"


def test_masters_join_as_etcd_voters_and_run_kube_vip_too(highly_available):
    lab = highly_available.lab
    assert members(lab) == {
        MASTER: ("started", "false"),
        MASTER2: ("started", "false"),
        MASTER3: ("started", "false"),
    }
    for name in (MASTER2, MASTER3):
        succeeded(highly_available.results[steps(name)[1]])
        succeeded(highly_available.results[steps(name)[2]])
        host = lab.host(name)
        pod = yaml.safe_load(host.read(KUBE_VIP))
        assert pod["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes/admin.conf"
        assert not host.exists("/etc/kubernetes/super-admin.conf"), "only the init node has it"
        assert name in lab.nodes()
    assert WORKER in lab.nodes()
    assert lab.tokens() == {}, "every join's token is retired"


def test_a_master_joined_again_changes_nothing(highly_available, clone, sent):
    lab = clone(highly_available)
    host = lab.host(MASTER2)
    before = host.snapshot()
    result = succeeded(run(lab, MASTER2, sent[steps(MASTER2)[1]], stdin=""))
    assert "already joined" in result.stdout and not result.ran("kubeadm")
    assert not changes(before, host.snapshot())


def test_expired_certificates_fail_the_join_in_words_and_a_new_token_brings_new_ones(
    initialised, clone, sent
):
    lab = clone(initialised)
    token_step, join_step, _ = steps(MASTER2)
    printed = succeeded(run(lab, MASTER, sent[token_step])).stdout.strip()
    (lab.cluster / "certificate-key").unlink()  # two hours later: kubeadm's Secret is gone
    result = failed(
        run(lab, MASTER2, sent[join_step], stdin=joining(printed, MASTER2)), "kubeadm join failed"
    )
    assert "This Secret might have expired" in result.stderr
    assert parse_join_command(printed).certificate_key not in result.stdout + result.stderr
    # what a replaced token step does: a new upload under a new key
    results = join(lab, sent, MASTER2)
    succeeded(results[join_step])
    assert MASTER2 in members(lab)


def test_a_master_join_that_fails_in_etcd_is_reset_and_a_rerun_joins(initialised, clone, sent):
    lab = clone(initialised)
    host = lab.host(MASTER2)
    host.fail("kubeadm-join", "etcd")
    token_step, join_step, _ = steps(MASTER2)
    printed = succeeded(run(lab, MASTER, sent[token_step])).stdout.strip()
    failed(
        run(lab, MASTER2, sent[join_step], stdin=joining(printed, MASTER2)), "kubeadm join failed"
    )
    # the learner it added is gone again: the reset removed it through the API
    assert members(lab) == {MASTER: ("started", "false")}
    assert not host.exists("/etc/kubernetes/manifests/etcd.yaml")
    host.recover("kubeadm-join")
    results = join(lab, sent, MASTER2)
    succeeded(results[join_step])
    assert members(lab)[MASTER2] == ("started", "false")


def test_registration_waits_for_the_etcd_member_to_be_promoted(initialised, clone, sent):
    lab = clone(initialised)
    token_step, join_step, registered_step = steps(MASTER2)
    results = join(lab, sent, MASTER2)
    succeeded(results[registered_step])
    # a learner never promoted: the master's registration does not pass
    member = lab.cluster / "etcd" / MASTER2
    member.write_text(member.read_text().replace("started false", "started true"))
    token = parse_join_command(results[token_step]).token_id
    result = failed(run(lab, MASTER, sent[registered_step], stdin=f"{token}\n"), "no voting member")
    assert "k8s-master2" in result.stderr


# --- masters leaving ----------------------------------------------------------------------------


def test_a_master_leaves_member_first_then_reset_without_leaving_the_address(
    highly_available, clone, sent
):
    lab = clone(highly_available)
    _, join_step, registered_step = steps(MASTER3)
    host = lab.host(MASTER3)
    # the engine's order: the registered step (on the first master) before the join's reset
    removed = succeeded(run(lab, MASTER, sent[registered_step], "delete"))
    assert removed.ran("crictl", "exec"), removed
    assert MASTER3 not in members(lab) and MASTER3 not in lab.nodes()
    assert set(members(lab)) == {MASTER, MASTER2}, "quorum: two of two left"
    reset = succeeded(run(lab, MASTER3, sent[join_step], "delete"))
    assert "already removed" not in reset.stderr  # the member list is the first master's
    assert not host.exists(KUBE_VIP) and not host.exists("/etc/kubernetes/admin.conf")
    assert f"{VIP}/32" not in host.addresses("eth0")


def test_the_virtual_address_holder_resets_without_keeping_the_address(initialised, clone, sent):
    """kube-vip is stopped before kubeadm reset kills it, so it gives the address up."""
    lab = clone(initialised)
    master = lab.host(MASTER)
    result = succeeded(run(lab, MASTER, sent[INIT], "delete"))
    assert result.ran("crictl", "ps", "--name", "^kube-vip$", "-q")
    assert f"{VIP}/32" not in master.addresses("eth0")
    assert not result.ran("ip", "address", "del"), "kube-vip gave it up itself"


def test_a_kube_vip_that_does_not_stop_in_time_leaves_no_address_behind(initialised, clone, sent):
    """Still running after its wait, kube-vip is killed by kubeadm reset, and the address it
    held stays on eth0 until the script takes it off."""
    lab = clone(initialised)
    master = lab.host(MASTER)
    master.fail("crictl-kube-vip-stuck")
    result = succeeded(run(lab, MASTER, sent[INIT], "delete"))
    assert result.ran("ip", "address", "del", f"{VIP}/32", "dev", "eth0"), result
    assert f"{VIP}/32" not in master.addresses("eth0")


# --- the smoke check ----------------------------------------------------------------------------


def _healthy(stage: Stage, clone) -> Lab:
    lab = clone(stage)
    for node in (n.name for n in _settings().nodes):  # k8s-node02 too, not in this lab
        lab.register_node(node)
        lab.run_pod(f"kube-flannel-ds-{node}", node, labels="app=flannel", namespace="kube-flannel")
    for address in ("192.168.70.21", "192.168.70.31"):
        lab.serve(f"{address}:30080", "/", 200, "hello")
    return lab


def test_the_smoke_check_sees_the_api_at_the_virtual_address_and_three_voters(
    highly_available, clone, sent
):
    lab = _healthy(highly_available, clone)
    result = succeeded(run(lab, MASTER, sent["smoke-cluster"]))
    assert "ok: the API answers at https://192.168.70.20:6443/livez" in result.stdout
    assert "ok: etcd has 3 voting members" in result.stdout


def test_the_smoke_check_names_a_missing_voter(highly_available, clone, sent):
    lab = _healthy(highly_available, clone)
    (lab.cluster / "etcd" / MASTER3).unlink()
    failed(run(lab, MASTER, sent["smoke-cluster"]), "etcd has 2 voting members, not 3")


def test_the_smoke_check_names_an_api_that_does_not_answer_at_the_address(
    highly_available, clone, sent
):
    lab = _healthy(highly_available, clone)
    (lab.cluster / "https" / ENDPOINT / "livez").write_text("503\nnot ok\n")
    failed(run(lab, MASTER, sent["smoke-cluster"]), "the API answered 503 at https://192.168.70.20")


def test_every_masters_join_runs_in_this_sandbox(sent):
    """Every remote step of the HA stack is one of the scripts the EL9 suites run."""
    from test_host_scripts_el9 import exercised_scripts

    scripts = {
        name
        for command in sent.values()
        for phase in ("create", "update", "delete")
        for name in command.script_names(phase)
    }
    assert scripts <= exercised_scripts()
