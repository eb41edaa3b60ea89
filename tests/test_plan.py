"""Day 2: what `pulumi up` does when a setting changes, computed by the plan simulator
(tests/plan.py) from the engine's and the providers' rules. Every key has a change here with
its outcome class, and no change may leave a blank VM, a retired token, a NIC on a deleted
network, a new cluster without its add-ons, or kubeadm init/join running again in place."""

from __future__ import annotations

import copy
import json
import re
from functools import cache

import pytest
from conftest import PROJECT_FILE, ROOT, key_pair, run_with_fake_home, stack_config
from plan import (
    ADDONS_ONLY,
    CREATE,
    DELETE,
    HOSTS_IN_PLACE,
    NEW_CLUSTER,
    NODES_ADDED_OR_REMOVED,
    NOTHING,
    OUTCOMES,
    REPLACE,
    SAME,
    UPDATE,
    VMS_REBUILT,
    VMS_RESTARTED,
    outcome,
    problems,
    simulate,
)

LIBVIRT, EXISTING = "libvirt", "existing"
DEV_NODES = json.loads(stack_config("dev")["kubeadm-libvirt:nodes"])
OTHER_PRIVATE, OTHER_PUBLIC = key_pair("a new key pair")


def nodes(*edits):
    """The dev nodes with (index, field, value) edits; value None removes the node."""
    result = copy.deepcopy(DEV_NODES)
    for index, key, value in edits:
        if value is None:
            result[index] = None
        else:
            result[index][key] = value
    return [n for n in result if n is not None]


THIRD_WORKER = {"name": "k8s-node03", "address": "192.168.50.26", "role": "worker"}

# (label, mode, the keys it changes, overrides, outcome)
CHANGES = [
    ("hostSource", LIBVIRT, ["hostSource"], {"hostSource": "existing"}, NEW_CLUSTER),
    (
        "add a worker",
        LIBVIRT,
        ["nodes"],
        {"nodes": DEV_NODES + [THIRD_WORKER]},
        NODES_ADDED_OR_REMOVED,
    ),
    (
        "remove a worker",
        LIBVIRT,
        ["nodes"],
        {"nodes": nodes((2, "", None))},
        NODES_ADDED_OR_REMOVED,
    ),
    (
        "rename a worker",
        LIBVIRT,
        ["nodes"],
        {"nodes": nodes((1, "name", "k8s-node09"))},
        NODES_ADDED_OR_REMOVED,
    ),
    (
        "move a worker",
        LIBVIRT,
        ["nodes"],
        {"nodes": nodes((1, "address", "192.168.50.32"))},
        VMS_REBUILT,
    ),
    ("grow a worker", LIBVIRT, ["nodes"], {"nodes": nodes((1, "vcpus", 4))}, VMS_RESTARTED),
    (
        "resize a worker's disk",
        LIBVIRT,
        ["nodes"],
        {"nodes": nodes((1, "diskGiB", 40))},
        VMS_REBUILT,
    ),
    (
        "move the master",
        LIBVIRT,
        ["nodes"],
        {"nodes": nodes((0, "address", "192.168.50.31"))},
        NEW_CLUSTER,
    ),
    ("nodeVcpus", LIBVIRT, ["nodeVcpus"], {"nodeVcpus": 3}, VMS_RESTARTED),
    ("nodeMemoryMiB", LIBVIRT, ["nodeMemoryMiB"], {"nodeMemoryMiB": 3072}, VMS_RESTARTED),
    ("nodeDiskGiB", LIBVIRT, ["nodeDiskGiB"], {"nodeDiskGiB": 30}, NEW_CLUSTER),
    (
        "nodeNetwork",
        LIBVIRT,
        ["nodeNetwork"],
        {
            "nodeNetwork": "192.168.60.0/24",
            "registryAddress": "192.168.60.24",
            "nodes": nodes(*[(i, "address", f"192.168.60.2{i + 1}") for i in range(3)]),
        },
        NEW_CLUSTER,
    ),
    ("nodeGateway", LIBVIRT, ["nodeGateway"], {"nodeGateway": "192.168.50.254"}, NEW_CLUSTER),
    (
        "nodeNameservers",
        LIBVIRT,
        ["nodeNameservers"],
        {"nodeNameservers": ["192.168.50.1", "9.9.9.9"]},
        NEW_CLUSTER,
    ),
    ("nodeInterface", LIBVIRT, ["nodeInterface"], {"nodeInterface": "ens3"}, NEW_CLUSTER),
    ("sshUser", LIBVIRT, ["sshUser"], {"sshUser": "kube"}, NEW_CLUSTER),
    (
        "ssh key pair",
        LIBVIRT,
        ["sshPrivateKey", "sshPublicKey"],
        {"sshPrivateKey": OTHER_PRIVATE, "sshPublicKey": OTHER_PUBLIC},
        NEW_CLUSTER,
    ),
    (
        "libvirtUri",
        LIBVIRT,
        ["libvirtUri"],
        {"libvirtUri": "qemu+ssh://root@hv.example/system"},
        NEW_CLUSTER,
    ),
    (
        "libvirtNetworkName",
        LIBVIRT,
        ["libvirtNetworkName"],
        {"libvirtNetworkName": "k8s-net2"},
        VMS_RESTARTED,
    ),
    ("libvirtBridge", LIBVIRT, ["libvirtBridge"], {"libvirtBridge": "br0"}, VMS_RESTARTED),
    (
        "storagePoolName",
        LIBVIRT,
        ["storagePoolName"],
        {"storagePoolName": "other-pool"},
        NEW_CLUSTER,
    ),
    (
        "storagePoolPath",
        LIBVIRT,
        ["storagePoolPath"],
        {"storagePoolPath": "/srv/libvirt-pool"},
        NEW_CLUSTER,
    ),
    ("baseImage", LIBVIRT, ["baseImage"], {"baseImage": "/srv/images/centos7.qcow2"}, NEW_CLUSTER),
    (
        "centosVaultBaseUrls",
        LIBVIRT,
        ["centosVaultBaseUrls"],
        {"centosVaultBaseUrls": ["https://m.example/7.9.2009"]},
        HOSTS_IN_PLACE,
    ),
    (
        "dockerCeRepoUrl",
        LIBVIRT,
        ["dockerCeRepoUrl"],
        {"dockerCeRepoUrl": "https://m.example/docker/"},
        HOSTS_IN_PLACE,
    ),
    (
        "dockerCeGpgKey",
        LIBVIRT,
        ["dockerCeGpgKey"],
        {"dockerCeGpgKey": "https://m.example/gpg"},
        HOSTS_IN_PLACE,
    ),
    (
        "dockerVersion",
        LIBVIRT,
        ["dockerVersion"],
        {"dockerVersion": "18.09.9-3.el7"},
        HOSTS_IN_PLACE,
    ),
    (
        "kubernetesRepoUrls",
        LIBVIRT,
        ["kubernetesRepoUrls"],
        {"kubernetesRepoUrls": ["https://m.example/k8s/"]},
        HOSTS_IN_PLACE,
    ),
    (
        "kubernetesVersion",
        LIBVIRT,
        ["kubernetesVersion"],
        {"kubernetesVersion": "v1.13.2"},
        NEW_CLUSTER,
    ),
    (
        "kubernetesCniVersion",
        LIBVIRT,
        ["kubernetesCniVersion"],
        {"kubernetesCniVersion": "0.6.1"},
        HOSTS_IN_PLACE,
    ),
    (
        "imageRepository",
        LIBVIRT,
        ["imageRepository"],
        {"imageRepository": "registry.k8s.io"},
        NEW_CLUSTER,
    ),
    (
        "podNetworkCidr",
        LIBVIRT,
        ["podNetworkCidr"],
        {"podNetworkCidr": "10.200.0.0/16"},
        NEW_CLUSTER,
    ),
    ("serviceCidr", LIBVIRT, ["serviceCidr"], {"serviceCidr": "10.112.0.0/12"}, NEW_CLUSTER),
    ("keepSwap", LIBVIRT, ["keepSwap"], {"keepSwap": True}, HOSTS_IN_PLACE),
    ("joinTokenTtl", LIBVIRT, ["joinTokenTtl"], {"joinTokenTtl": "2h"}, HOSTS_IN_PLACE),
    (
        "registryMirrors",
        LIBVIRT,
        ["registryMirrors"],
        {"registryMirrors": ["https://m.example"]},
        HOSTS_IN_PLACE,
    ),
    (
        "registryAddress",
        LIBVIRT,
        ["registryAddress"],
        {"registryAddress": "192.168.50.25"},
        HOSTS_IN_PLACE,
    ),
    ("registryPort", LIBVIRT, ["registryPort"], {"registryPort": 5443}, HOSTS_IN_PLACE),
    (
        "registryImage",
        LIBVIRT,
        ["registryImage"],
        {"registryImage": "docker.io/library/registry:2.8.2"},
        ADDONS_ONLY,
    ),
    (
        "registryStoragePath",
        LIBVIRT,
        ["registryStoragePath"],
        {"registryStoragePath": "/srv/registry"},
        ADDONS_ONLY,
    ),
    (
        "flannelImage",
        LIBVIRT,
        ["flannelImage"],
        {"flannelImage": "docker.io/flannel/flannel:v0.11.0"},
        ADDONS_ONLY,
    ),
    ("appName", LIBVIRT, ["appName"], {"appName": "shop"}, ADDONS_ONLY),
    ("appImageTag", LIBVIRT, ["appImageTag"], {"appImageTag": "2.0"}, ADDONS_ONLY),
    ("appSeedImage", LIBVIRT, ["appSeedImage"], {"appSeedImage": ""}, ADDONS_ONLY),
    (
        "appSeedToolImage",
        LIBVIRT,
        ["appSeedToolImage"],
        {"appSeedToolImage": "quay.io/skopeo/stable:v1.16.1"},
        ADDONS_ONLY,
    ),
    ("appReplicas", LIBVIRT, ["appReplicas"], {"appReplicas": 3}, ADDONS_ONLY),
    ("appPort", LIBVIRT, ["appPort"], {"appPort": 9090}, ADDONS_ONLY),
    ("appNodePort", LIBVIRT, ["appNodePort"], {"appNodePort": 31000}, ADDONS_ONLY),
    ("appProbePath", LIBVIRT, ["appProbePath"], {"appProbePath": "/actuator/health"}, ADDONS_ONLY),
    ("appCpuRequest", LIBVIRT, ["appCpuRequest"], {"appCpuRequest": "200m"}, ADDONS_ONLY),
    ("appCpuLimit", LIBVIRT, ["appCpuLimit"], {"appCpuLimit": "2"}, ADDONS_ONLY),
    ("appMemoryRequest", LIBVIRT, ["appMemoryRequest"], {"appMemoryRequest": "300Mi"}, ADDONS_ONLY),
    ("appMemoryLimit", LIBVIRT, ["appMemoryLimit"], {"appMemoryLimit": "1Gi"}, ADDONS_ONLY),
    # Existing machines: no VM is made, so what cloud-init carried is changed in place.
    (
        "existing: move a worker",
        EXISTING,
        ["nodes"],
        {"nodes": nodes((1, "address", "192.168.50.32"))},
        NODES_ADDED_OR_REMOVED,
    ),
    (
        "existing: move the master",
        EXISTING,
        ["nodes"],
        {"nodes": nodes((0, "address", "192.168.50.31"))},
        NEW_CLUSTER,
    ),
    ("existing: sshUser", EXISTING, ["sshUser"], {"sshUser": "kube"}, HOSTS_IN_PLACE),
    (
        "existing: ssh key pair",
        EXISTING,
        ["sshPrivateKey", "sshPublicKey"],
        {"sshPrivateKey": OTHER_PRIVATE, "sshPublicKey": OTHER_PUBLIC},
        HOSTS_IN_PLACE,
    ),
    (
        "existing: nodeInterface",
        EXISTING,
        ["nodeInterface"],
        {"nodeInterface": "ens3"},
        HOSTS_IN_PLACE,
    ),
    ("existing: nodeVcpus", EXISTING, ["nodeVcpus"], {"nodeVcpus": 3}, NOTHING),
    ("existing: nodeMemoryMiB", EXISTING, ["nodeMemoryMiB"], {"nodeMemoryMiB": 3072}, NOTHING),
    ("existing: nodeDiskGiB", EXISTING, ["nodeDiskGiB"], {"nodeDiskGiB": 30}, NOTHING),
    (
        "existing: nodeGateway",
        EXISTING,
        ["nodeGateway"],
        {"nodeGateway": "192.168.50.254"},
        NOTHING,
    ),
    (
        "existing: nodeNameservers",
        EXISTING,
        ["nodeNameservers"],
        {"nodeNameservers": ["192.168.50.1", "9.9.9.9"]},
        NOTHING,
    ),
    (
        "existing: libvirtNetworkName",
        EXISTING,
        ["libvirtNetworkName"],
        {"libvirtNetworkName": "k8s-net2"},
        NOTHING,
    ),
    ("existing: libvirtBridge", EXISTING, ["libvirtBridge"], {"libvirtBridge": "br0"}, NOTHING),
    (
        "existing: storagePoolName",
        EXISTING,
        ["storagePoolName"],
        {"storagePoolName": "other-pool"},
        NOTHING,
    ),
    (
        "existing: storagePoolPath",
        EXISTING,
        ["storagePoolPath"],
        {"storagePoolPath": "/srv/libvirt-pool"},
        NOTHING,
    ),
    (
        "existing: baseImage",
        EXISTING,
        ["baseImage"],
        {"baseImage": "/srv/images/centos7.qcow2"},
        NOTHING,
    ),
    (
        "existing: libvirtUri",
        EXISTING,
        ["libvirtUri"],
        {"libvirtUri": "qemu+ssh://root@hv.example/system"},
        NOTHING,
    ),
    (
        "existing: hostKey",
        EXISTING,
        ["nodes"],
        {"nodes": nodes((1, "hostKey", key_pair("node01 host key")[1]))},
        HOSTS_IN_PLACE,
    ),
]
IDS = [label for label, *_ in CHANGES]


def base(mode: str) -> dict[str, str]:
    return stack_config("dev", hostSource=mode)


@cache
def deployed(mode: str):
    return run_with_fake_home(base(mode))


@cache
def planned(label: str):
    _, mode, _, overrides, _ = next(c for c in CHANGES if c[0] == label)
    return simulate(
        base(mode), stack_config("dev", **{"hostSource": mode, **overrides}), deployed(mode)
    )


def test_every_key_has_a_change_with_an_outcome():
    covered = {key for _, mode, keys, _, _ in CHANGES if mode == LIBVIRT for key in keys}
    assert covered == set(PROJECT_FILE["config"])


@pytest.mark.parametrize("mode", [LIBVIRT, EXISTING])
def test_an_unchanged_configuration_plans_nothing(mode):
    plan = simulate(base(mode), base(mode), deployed(mode))
    assert plan.changed() == {} and plan.runs == []


@pytest.mark.parametrize(("label", "mode", "keys", "overrides", "expected"), CHANGES, ids=IDS)
def test_each_change_has_its_outcome(label, mode, keys, overrides, expected):
    plan = planned(label)
    assert outcome(plan) == expected, sorted(plan.changed().items())


@pytest.mark.parametrize(("label", "mode", "keys", "overrides", "expected"), CHANGES, ids=IDS)
def test_no_change_leaves_a_blank_vm_a_retired_token_a_stray_nic_or_a_bare_cluster(
    label, mode, keys, overrides, expected
):
    assert problems(planned(label)) == []


def runs_of(plan, command: str) -> list[tuple[str, str, str]]:
    return [(r.phase, r.script, r.host) for r in plan.runs if r.command == command]


def test_a_vcpu_change_reboots_the_same_disks_and_runs_nothing_but_the_check():
    plan = planned("nodeVcpus")
    assert {n for n in plan.named(REPLACE) if not n.startswith("smoke-")} == {
        "cluster-k8s-node01-domain",
        "cluster-k8s-node02-domain",
    }
    assert {r.script for r in plan.runs} == {"check-registry", "check-cluster"}


def test_a_rebuilt_worker_is_prepared_and_joins_again_with_a_fresh_token():
    plan = planned("move a worker")
    new, old = "192.168.50.32", "192.168.50.22"
    assert runs_of(plan, "node-k8s-node01-prepare") == [("create", "prepare-node", new)]
    assert runs_of(plan, "worker-k8s-node01-join-command") == [
        ("create", "create-join-command", "192.168.50.21")
    ]
    assert runs_of(plan, "worker-k8s-node01-join") == [
        ("delete", "reset-node", old),
        ("create", "join-worker", new),
    ]
    assert ("delete", "remove-node", "192.168.50.21") in runs_of(
        plan, "worker-k8s-node01-registered"
    )
    assert plan.kind("control-plane-init") == SAME


def test_an_existing_workers_new_address_resets_the_old_host_and_joins_the_new_one():
    plan = planned("existing: move a worker")
    assert ("delete", "reset-node", "192.168.50.22") in runs_of(plan, "worker-k8s-node01-join")
    assert ("create", "join-worker", "192.168.50.32") in runs_of(plan, "worker-k8s-node01-join")


@pytest.mark.parametrize("label", [c[0] for c in CHANGES if c[4] == NEW_CLUSTER])
def test_a_new_cluster_reads_its_kubeconfig_again_and_replaces_the_provider(label):
    plan = planned(label)
    assert plan.kind("control-plane-kubeconfig") in (REPLACE, CREATE)
    assert plan.kind("kubernetes") in (REPLACE, CREATE)


def test_the_master_address_is_part_of_the_cluster_identity():
    assert planned("move the master").kind("control-plane-init") == REPLACE
    assert planned("existing: move the master").kind("control-plane-init") == REPLACE


def test_an_in_place_change_never_runs_kubeadm_init_again():
    plan = planned("existing: sshUser")
    assert runs_of(plan, "control-plane-init") == [
        ("update", "check-control-plane", "192.168.50.21")
    ]
    assert runs_of(plan, "control-plane-user-kubeconfig") == [
        ("create", "user-kubeconfig", "192.168.50.21")
    ]


def test_a_network_change_moves_every_vm_with_its_disk():
    plan = planned("libvirtNetworkName")
    assert plan.kind("cluster-network-nat") == REPLACE
    assert {n for n, k in plan.changed().items() if k == REPLACE} >= {
        "cluster-k8s-master-domain",
        "cluster-k8s-node01-domain",
        "cluster-k8s-node02-domain",
    }
    assert not any(n.endswith("-disk") for n in plan.changed())


def test_a_bridge_removes_the_nat_network_and_moves_every_vm():
    plan = planned("libvirtBridge")
    assert plan.kind("cluster-network-nat") == DELETE
    assert plan.kind("cluster-k8s-node01-domain") == REPLACE


def test_a_new_hypervisor_makes_every_libvirt_resource_again():
    plan = planned("libvirtUri")
    for resource in plan.new.resources:
        if resource.type.startswith("libvirt:"):
            assert plan.steps[resource.urn] == REPLACE, resource.name


def test_repository_changes_rerun_only_the_preparation_and_the_check():
    plan = planned("dockerVersion")
    changed = {n: k for n, k in plan.changed().items() if not n.startswith("smoke-")}
    assert changed == {f"node-{n['name']}-prepare": UPDATE for n in DEV_NODES}


# --- the README's change table is the simulator's ---------------------------------------------


def readme_change_table() -> dict[str, dict[str, str]]:
    """mode -> key -> outcome, from the README's "What a change does" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### What a change does", 1)[1].split("\n## ", 1)[0]
    table: dict[str, dict[str, str]] = {LIBVIRT: {}, EXISTING: {}}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] not in OUTCOMES:
            continue
        mode = EXISTING if cells[1] == "existing machines" else LIBVIRT
        for key in re.findall(r"`([^`]+)`", cells[2]):
            table[mode][key] = cells[0]
    return table


def test_the_readme_change_table_says_what_the_simulator_computes():
    table = readme_change_table()
    expected: dict[str, dict[str, str]] = {LIBVIRT: {}, EXISTING: {}}
    for label, mode, keys, _, result in CHANGES:
        if label.startswith(
            ("add ", "remove ", "rename ", "move ", "grow ", "resize ", "existing: move")
        ):
            continue  # node edits: in the README's list below the table
        if label == "existing: hostKey":
            continue
        for key in keys:
            expected[mode][key] = result
    assert table[LIBVIRT] == expected[LIBVIRT]
    assert table[EXISTING] == expected[EXISTING]


@pytest.mark.parametrize(
    "label", ["appReplicas", "dockerVersion", "nodeVcpus", "kubernetesVersion"]
)
def test_the_smoke_check_runs_again_after_any_change(label):
    ran = {r.command for r in planned(label).runs}
    assert {"smoke-cluster", "smoke-k8s-node01-registry"} <= ran, sorted(ran)
