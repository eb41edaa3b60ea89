"""Day 2: what `pulumi up` does when a setting changes, computed by the plan simulator
(tests/plan.py) from the engine's and the providers' rules, on every engine the accepted CLI
range holds. Every key has a change here with its outcome class, and no change may leave a
blank VM, a retired token, a NIC on a deleted network, a new cluster without its add-ons,
kubeadm init/join running again in place, or a host whose clean-up is skipped while it stays."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache

import pulumi
import pulumi_libvirt as libvirt
import pytest
from conftest import (
    PROJECT_FILE,
    ROOT,
    ProgramRun,
    key_pair,
    run_program,
    run_with_fake_home,
    stack_config,
)
from plan import (
    ADDONS_ONLY,
    CASCADE_ENGINE,
    COMMAND,
    CREATE,
    DELETE,
    DOMAIN,
    ENGINES,
    HOSTS_IN_PLACE,
    LEGACY_ENGINE,
    NETWORK,
    NEW_CLUSTER,
    NEWEST_MODELLED_CLI,
    NODES_ADDED_OR_REMOVED,
    NOTHING,
    OUTCOMES,
    REPLACE,
    SAME,
    TF_SCHEMAS,
    UPDATE,
    VMS_REBUILT,
    VMS_RESTARTED,
    Plan,
    delete_skipped,
    kubernetes_force_new,
    outcome,
    problems,
    simulate,
    tf_requires_new,
)
from pulumi_command import remote
from test_multihost import MULTI_HYPERVISORS
from test_multihost import placed as multi_nodes

from components.platforms import platform
from tools import doctor

LIBVIRT, EXISTING, CURRENT, HA, MULTI = "libvirt", "existing", "current", "ha", "multihost"
# mode -> (stack file, stack name, overrides): the tutorial's VMs, its existing machines, and the
# current track's VMs.
MODES = {
    LIBVIRT: ("dev", {"hostSource": "libvirt"}),
    EXISTING: ("dev", {"hostSource": "existing"}),
    CURRENT: ("current", {}),
    HA: ("ha", {}),
    MULTI: ("multihost", {}),
}
TUTORIAL_ONLY = platform("tutorial").own_keys
CURRENT_ONLY = platform("current").own_keys
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
        "track",
        LIBVIRT,
        ["track"],
        {
            "track": "current",
            **{key: "" for key in ("dockerVersion", "kubernetesVersion", "dockerCeRepoUrl")},
            **{key: "" for key in ("dockerCeGpgKey", "imageRepository")},
            "centosVaultBaseUrls": [],
            "kubernetesRepoUrls": [],
        },
        NEW_CLUSTER,
    ),
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
        "grow the master",
        LIBVIRT,
        ["nodes"],
        {"nodes": nodes((0, "vcpus", 4), (0, "memoryMiB", 4096))},
        VMS_RESTARTED,
    ),
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

CURRENT_NODES = json.loads(stack_config("current")["kubeadm-libvirt:nodes"])


def current_nodes(*edits):
    result = copy.deepcopy(CURRENT_NODES)
    for index, key, value in edits:
        result[index][key] = value
    return result


# The current track: every key it has, from the shipped Pulumi.current.yaml.
CHANGES += [
    (f"current: {key}", CURRENT, [key], overrides, expected)
    for key, overrides, expected in [
        ("track", {"track": "tutorial", "containerdVersion": "", "flannelCniPluginImage": "",
                   "kubernetesVersion": "v1.13.1", "dockerVersion": "18.06.3.ce-3.el7"},
         NEW_CLUSTER),
        ("hostSource", {"hostSource": "existing"}, NEW_CLUSTER),
        ("nodes", {"nodes": current_nodes((1, "vcpus", 4))}, VMS_RESTARTED),
        ("nodeVcpus", {"nodeVcpus": 3}, VMS_RESTARTED),
        ("nodeMemoryMiB", {"nodeMemoryMiB": 3072}, VMS_RESTARTED),
        ("nodeDiskGiB", {"nodeDiskGiB": 30}, NEW_CLUSTER),
        ("nodeNetwork", {"nodeNetwork": "192.168.70.0/24", "registryAddress": "192.168.70.24",
                         "nodes": current_nodes(*[(i, "address", f"192.168.70.2{i + 1}")
                                                  for i in range(3)])}, NEW_CLUSTER),
        ("nodeGateway", {"nodeGateway": "192.168.60.254"}, NEW_CLUSTER),
        ("nodeNameservers", {"nodeNameservers": ["192.168.60.1", "9.9.9.9"]}, NEW_CLUSTER),
        ("nodeInterface", {"nodeInterface": "ens3"}, NEW_CLUSTER),
        ("sshUser", {"sshUser": "kube"}, NEW_CLUSTER),
        ("sshPrivateKey", {"sshPrivateKey": OTHER_PRIVATE, "sshPublicKey": OTHER_PUBLIC},
         NEW_CLUSTER),
        ("sshPublicKey", {"sshPrivateKey": OTHER_PRIVATE, "sshPublicKey": OTHER_PUBLIC},
         NEW_CLUSTER),
        ("libvirtUri", {"libvirtUri": "qemu+ssh://root@hv.example/system"}, NEW_CLUSTER),
        ("libvirtNetworkName", {"libvirtNetworkName": "lab-net"}, VMS_RESTARTED),
        ("libvirtBridge", {"libvirtBridge": "br0"}, VMS_RESTARTED),
        ("storagePoolName", {"storagePoolName": "other-pool"}, NEW_CLUSTER),
        ("storagePoolPath", {"storagePoolPath": "/srv/libvirt-pool"}, NEW_CLUSTER),
        ("baseImage", {"baseImage": "/srv/images/rocky9.qcow2"}, NEW_CLUSTER),
        ("dockerCeRepoUrl", {"dockerCeRepoUrl": "https://m.example/docker/"}, HOSTS_IN_PLACE),
        ("dockerCeGpgKey", {"dockerCeGpgKey": "https://m.example/gpg"}, HOSTS_IN_PLACE),
        ("containerdVersion", {"containerdVersion": "2.2.2"}, HOSTS_IN_PLACE),
        ("kubernetesRepoUrls", {"kubernetesRepoUrls": ["https://m.example/k8s/{minor}/rpm/"]},
         HOSTS_IN_PLACE),
        ("kubernetesVersion", {"kubernetesVersion": "v1.36.5"}, NEW_CLUSTER),
        ("imageRepository", {"imageRepository": "registry.aliyuncs.com/google_containers"},
         NEW_CLUSTER),
        ("podNetworkCidr", {"podNetworkCidr": "10.200.0.0/16"}, NEW_CLUSTER),
        ("serviceCidr", {"serviceCidr": "10.112.0.0/12"}, NEW_CLUSTER),
        ("keepSwap", {"keepSwap": True}, NEW_CLUSTER),
        ("joinTokenTtl", {"joinTokenTtl": "2h"}, HOSTS_IN_PLACE),
        ("registryMirrors", {"registryMirrors": ["https://m.example"]}, HOSTS_IN_PLACE),
        ("registryAddress", {"registryAddress": "192.168.60.25"}, HOSTS_IN_PLACE),
        ("registryPort", {"registryPort": 5443}, HOSTS_IN_PLACE),
        ("registryImage", {"registryImage": "docker.io/library/registry:2.8.2"}, ADDONS_ONLY),
        ("registryStoragePath", {"registryStoragePath": "/srv/registry"}, ADDONS_ONLY),
        ("flannelImage", {"flannelImage": "ghcr.io/flannel-io/flannel:v0.28.8"}, ADDONS_ONLY),
        ("flannelCniPluginImage",
         {"flannelCniPluginImage": "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.0-flannel1"},
         ADDONS_ONLY),
        ("appName", {"appName": "shop"}, ADDONS_ONLY),
        ("appImageTag", {"appImageTag": "2.0"}, ADDONS_ONLY),
        ("appSeedImage", {"appSeedImage": ""}, ADDONS_ONLY),
        ("appSeedToolImage", {"appSeedToolImage": "quay.io/skopeo/stable:v1.16.1"}, ADDONS_ONLY),
        ("appReplicas", {"appReplicas": 3}, ADDONS_ONLY),
        ("appPort", {"appPort": 9090}, ADDONS_ONLY),
        ("appNodePort", {"appNodePort": 31000}, ADDONS_ONLY),
        ("appProbePath", {"appProbePath": "/actuator/health"}, ADDONS_ONLY),
        ("appCpuRequest", {"appCpuRequest": "200m"}, ADDONS_ONLY),
        ("appCpuLimit", {"appCpuLimit": "2"}, ADDONS_ONLY),
        ("appMemoryRequest", {"appMemoryRequest": "300Mi"}, ADDONS_ONLY),
        ("appMemoryLimit", {"appMemoryLimit": "1Gi"}, ADDONS_ONLY),
    ]
]  # fmt: skip
HA_NODES = json.loads(stack_config("ha")["kubeadm-libvirt:nodes"])
FOURTH_MASTER = {"name": "k8s-master4", "address": "192.168.70.25", "role": "master"}
# The HA control plane (Pulumi.ha.yaml): its own keys and the master edits.
CHANGES += [
    ("current: controlPlaneEndpoint", CURRENT, ["controlPlaneEndpoint"],
     {"controlPlaneEndpoint": "192.168.60.20"}, NEW_CLUSTER),
    ("current: kubeVipImage", CURRENT, ["kubeVipImage"],
     {"kubeVipImage": "ghcr.io/kube-vip/kube-vip:v1.2.4"}, NOTHING),
    ("ha: controlPlaneEndpoint", HA, ["controlPlaneEndpoint"],
     {"controlPlaneEndpoint": "192.168.70.19"}, NEW_CLUSTER),
    ("ha: kubeVipImage", HA, ["kubeVipImage"],
     {"kubeVipImage": "ghcr.io/kube-vip/kube-vip:v1.2.4"}, HOSTS_IN_PLACE),
    ("add a master", HA, ["nodes"], {"nodes": HA_NODES + [FOURTH_MASTER]}, NODES_ADDED_OR_REMOVED),
    ("remove a master", HA, ["nodes"], {"nodes": HA_NODES[:2] + HA_NODES[3:]},
     NODES_ADDED_OR_REMOVED),
]  # fmt: skip
SPARE_HYPERVISOR = {"name": "hv4", "uri": "qemu+ssh://root@hv4.lab.example/system", "bridge": "br0"}

# Nodes on several hypervisors (Pulumi.multihost.yaml): the new key on every track, and the
# placement edits.
CHANGES += [
    ("hypervisors", LIBVIRT, ["hypervisors"], {"hypervisors": [SPARE_HYPERVISOR]}, NOTHING),
    ("current: hypervisors", CURRENT, ["hypervisors"], {"hypervisors": [SPARE_HYPERVISOR]},
     NOTHING),
    ("existing: hypervisors", EXISTING, ["hypervisors"], {"hypervisors": [SPARE_HYPERVISOR]},
     NOTHING),
    ("add a hypervisor", MULTI, ["hypervisors"],
     {"hypervisors": [*MULTI_HYPERVISORS, SPARE_HYPERVISOR]}, NOTHING),
    ("move a worker to another hypervisor", MULTI, ["nodes"],
     {"nodes": multi_nodes((1, "hypervisor", "hv3"))}, VMS_REBUILT),
    ("move a worker from libvirtUri to a hypervisor", MULTI, ["nodes"],
     {"nodes": multi_nodes((1, "hypervisor", None), (2, "hypervisor", "hv2"))}, VMS_REBUILT),
    ("move the master to another hypervisor", MULTI, ["nodes"],
     {"nodes": multi_nodes((0, "hypervisor", "hv2"))}, NEW_CLUSTER),
    ("change a hypervisor's uri", MULTI, ["hypervisors"],
     {"hypervisors": [{**MULTI_HYPERVISORS[0], "uri": "qemu+ssh://root@hv5.lab.example/system"},
                      MULTI_HYPERVISORS[1]]}, VMS_REBUILT),
]  # fmt: skip
IDS = [label for label, *_ in CHANGES]


def base(mode: str) -> dict[str, str]:
    stack, overrides = MODES[mode]
    return stack_config(stack, **overrides)


@cache
def deployed(mode: str):
    return run_with_fake_home(base(mode), stack=MODES[mode][0])


def config_of(label: str) -> tuple[str, dict[str, str]]:
    _, mode, _, overrides, _ = next(c for c in CHANGES if c[0] == label)
    stack, mode_overrides = MODES[mode]
    return mode, stack_config(stack, **{**mode_overrides, **overrides})


@cache
def evaluated(label: str):
    mode, config = config_of(label)
    return run_with_fake_home(config, stack=MODES[mode][0])


@cache
def planned(label: str, engine=CASCADE_ENGINE):
    mode, config = config_of(label)
    return simulate(base(mode), config, deployed(mode), engine, evaluated(label))


ON_EVERY_ENGINE = [(*change, engine) for change in CHANGES for engine in ENGINES]
ON_EVERY_ENGINE_IDS = [f"{c[0]}-{engine}" for c in CHANGES for engine in ENGINES]


@pytest.mark.parametrize(("mode", "other"), [(LIBVIRT, CURRENT_ONLY), (CURRENT, TUTORIAL_ONLY)])
def test_every_key_of_each_track_has_a_change_with_an_outcome(mode, other):
    covered = {key for _, m, keys, _, _ in CHANGES if m == mode for key in keys}
    assert covered == set(PROJECT_FILE["config"]) - other


@pytest.mark.parametrize("engine", ENGINES, ids=str)
@pytest.mark.parametrize("mode", [LIBVIRT, EXISTING, CURRENT, HA])
def test_an_unchanged_configuration_plans_nothing(mode, engine):
    plan = simulate(base(mode), base(mode), deployed(mode), engine, deployed(mode))
    assert plan.changed() == {} and plan.runs == []


@pytest.mark.parametrize(
    ("label", "mode", "keys", "overrides", "expected", "engine"),
    ON_EVERY_ENGINE,
    ids=ON_EVERY_ENGINE_IDS,
)
def test_each_change_has_its_outcome_on_every_engine(
    label, mode, keys, overrides, expected, engine
):
    plan = planned(label, engine)
    assert outcome(plan) == expected, sorted(plan.changed().items())


@pytest.mark.parametrize(
    ("label", "mode", "keys", "overrides", "expected", "engine"),
    ON_EVERY_ENGINE,
    ids=ON_EVERY_ENGINE_IDS,
)
def test_no_change_leaves_a_blank_vm_a_retired_token_a_stray_nic_or_a_bare_cluster(
    label, mode, keys, overrides, expected, engine
):
    assert problems(planned(label, engine)) == []


SIZE_AND_NETWORK = [
    "nodeVcpus",
    "nodeMemoryMiB",
    "grow a worker",
    "grow the master",
    "libvirtNetworkName",
    "libvirtBridge",
]


@pytest.mark.parametrize("engine", ENGINES, ids=str)
@pytest.mark.parametrize("label", SIZE_AND_NETWORK)
def test_a_redefined_domain_keeps_every_host_step_and_every_kubernetes_object(label, engine):
    """A domain replaced on the same disk (size, network): the host keeps its state, so nothing
    on the cluster side is replaced but the smoke check, on the engine before #23818 and after."""
    plan = planned(label, engine)
    touched = {
        plan.resource(urn).name: kind
        for urn, kind in plan.steps.items()
        if kind != SAME
        and (
            plan.resource(urn).type in (COMMAND, "pulumi:providers:kubernetes")
            or plan.resource(urn).type.startswith("kubernetes:")
        )
        and not plan.resource(urn).name.startswith("smoke-")
    }
    assert touched == {}, touched
    assert any(n.endswith("-domain") for n in plan.named(REPLACE))


def runs_of(plan, command: str) -> list[tuple[str, str, str]]:
    return [(r.phase, r.script, r.host) for r in plan.runs if r.command == command]


@pytest.mark.parametrize("engine", ENGINES, ids=str)
def test_a_vcpu_change_reboots_the_same_disks_and_runs_nothing_but_the_check(engine):
    plan = planned("nodeVcpus", engine)
    assert {n for n in plan.named(REPLACE) if not n.startswith("smoke-")} == {
        "cluster-k8s-node01-domain",
        "cluster-k8s-node02-domain",
    }
    assert {r.script for r in plan.runs} == {"check-registry", "check-cluster"}


@pytest.mark.parametrize("engine", ENGINES, ids=str)
def test_a_rebuilt_worker_is_prepared_and_joins_again_with_a_fresh_token(engine):
    plan = planned("move a worker", engine)
    new = "192.168.50.32"
    assert runs_of(plan, "node-k8s-node01-prepare") == [("create", "prepare-node", new)]
    assert runs_of(plan, "worker-k8s-node01-join-command") == [
        ("create", "create-join-command", "192.168.50.21")
    ]
    assert ("create", "join-node", new) in runs_of(plan, "worker-k8s-node01-join")


def test_a_rebuilt_workers_old_vm_is_reset_first_only_before_3_260():
    """The old disk is replaced delete-before-replace. Up to 3.259 the engine marks only the
    steps it condemns as deleted, not the disk itself, so the old VM's reset runs before the
    VM goes; from 3.260 the disk marks itself and the reset is skipped. The master drains and
    deletes the Node either way."""
    old = "192.168.50.22"
    for engine, resets in ((LEGACY_ENGINE, True), (CASCADE_ENGINE, False)):
        plan = planned("move a worker", engine)
        join = runs_of(plan, "worker-k8s-node01-join")
        assert (("delete", "reset-node", old) in join) is resets, (engine, join)
        assert ("delete", "remove-node", "192.168.50.21") in runs_of(
            plan, "worker-k8s-node01-registered"
        ), engine
    assert ("delete", "remove-node", "192.168.50.21") in runs_of(
        plan, "worker-k8s-node01-registered"
    )
    assert plan.kind("control-plane-init") == SAME


def test_an_existing_workers_new_address_resets_the_old_host_and_joins_the_new_one():
    plan = planned("existing: move a worker")
    assert ("delete", "reset-node", "192.168.50.22") in runs_of(plan, "worker-k8s-node01-join")
    assert ("create", "join-node", "192.168.50.32") in runs_of(plan, "worker-k8s-node01-join")


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
    """mode -> key -> outcome, from docs/changes.md's table."""
    section = (ROOT / "docs/changes.md").read_text()
    table: dict[str, dict[str, str]] = {mode: {} for mode in MODES}
    modes = {
        "libvirt VMs": LIBVIRT,
        "existing machines": EXISTING,
        "current track": CURRENT,
        "three masters": HA,
        "several hypervisors": MULTI,
    }
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] not in OUTCOMES:
            continue
        mode = modes[cells[1]]
        for key in re.findall(r"`([^`]+)`", cells[2]):
            table[mode][key] = cells[0]
    return table


@pytest.mark.parametrize("engine", ENGINES, ids=str)
def test_the_change_table_says_what_the_simulator_computes(engine):
    table = readme_change_table()
    computed: dict[str, dict[str, str]] = {mode: {} for mode in MODES}
    for label, mode, keys, _, _ in CHANGES:
        if (
            label.startswith(
                ("add ", "remove ", "rename ", "move ", "grow ", "resize ", "existing: move")
            )
            or label == "current: nodes"
        ):
            continue  # node edits: in the README's list below the table
        if label == "existing: hostKey":
            continue
        for key in keys:
            computed[mode][key] = outcome(planned(label, engine))
    assert table == computed


@pytest.mark.parametrize(
    "label", ["appReplicas", "dockerVersion", "nodeVcpus", "kubernetesVersion"]
)
def test_the_smoke_check_runs_again_after_any_change(label):
    ran = {r.command for r in planned(label).runs}
    assert {"smoke-cluster", "smoke-k8s-node01-registry"} <= ran, sorted(ran)


# --- every rule of the simulator fires: each read in its source -------------------------------

DOMAIN_BEFORE = {
    "name": "n",
    "vcpu": 2,
    "disks": [{"volumeId": "v-id"}],
    "networkInterfaces": [{"networkId": "net-id", "mac": "52:54:00:00:00:01"}],
    "consoles": [{"type": "pty", "targetPort": "0"}],
    "graphics": {"type": "vnc", "listenType": "address"},
    "cpu": {"mode": "host-passthrough"},
}
NETWORK_BEFORE = {
    "name": "k8s-net",
    "mode": "nat",
    "addresses": ["192.168.50.0/24"],
    "dns": {"enabled": True, "forwarders": [{"address": "9.9.9.9"}]},
    "dhcp": {"enabled": False},
    "routes": [{"cidr": "10.1.0.0/16", "gateway": "192.168.50.2"}],
    "mtu": 1500,
}


def edited(document: dict, **changes) -> dict:
    result = copy.deepcopy(document)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


@pytest.mark.parametrize(
    ("label", "changes", "replaces"),
    [
        ("vcpu", {"vcpu": 4}, True),
        ("a disk's scsi flag", {"disks": [{"volumeId": "v-id", "scsi": True}]}, True),
        ("a second disk", {"disks": [{"volumeId": "v-id"}, {"volumeId": "w-id"}]}, True),
        ("another volume on the disk", {"disks": [{"volumeId": "w-id"}]}, False),
        ("a tpm", {"tpm": {"model": "tpm-tis"}}, True),
        ("an xslt", {"xml": {"xslt": "<xsl:stylesheet/>"}}, True),
        ("a console's port", {"consoles": [{"type": "pty", "targetPort": "1"}]}, True),
        ("a removed console", {"consoles": None}, True),
        (
            "the graphics' websocket",
            {"graphics": {"type": "vnc", "listenType": "address", "websocket": 5700}},
            False,
        ),
        ("a NIC on another network", {"networkInterfaces": [{"networkId": "other-id"}]}, False),
        ("the cpu mode", {"cpu": {"mode": "host-model"}}, False),
        ("no cpu block (Computed)", {"cpu": None}, False),
        ("video", {"video": {"type": "vga"}}, False),
        ("autostart", {"autostart": True}, False),
    ],
)
def test_the_libvirt_domain_rules_are_terraform_provider_libvirt_v0_8_1s(label, changes, replaces):
    after = edited(DOMAIN_BEFORE, **changes)
    assert tf_requires_new(TF_SCHEMAS[DOMAIN], DOMAIN_BEFORE, after) is replaces, label


@pytest.mark.parametrize(
    ("label", "changes", "replaces"),
    [
        (
            "dns forwarders",
            {"dns": {"enabled": True, "forwarders": [{"address": "1.1.1.1"}]}},
            True,
        ),
        (
            "dns srvs",
            {
                "dns": {
                    "enabled": True,
                    "forwarders": [{"address": "9.9.9.9"}],
                    "srvs": [{"service": "x", "protocol": "tcp"}],
                }
            },
            True,
        ),
        (
            "dns hosts",
            {
                "dns": {
                    "enabled": True,
                    "forwarders": [{"address": "9.9.9.9"}],
                    "hosts": [{"ip": "192.168.50.5", "hostname": "h"}],
                }
            },
            False,
        ),
        (
            "dns local_only",
            {"dns": {"enabled": True, "localOnly": True, "forwarders": [{"address": "9.9.9.9"}]}},
            False,
        ),
        (
            "one more route",
            {
                "routes": [
                    *NETWORK_BEFORE["routes"],
                    {"cidr": "10.2.0.0/16", "gateway": "192.168.50.3"},
                ]
            },
            True,
        ),
        (
            "a route's gateway",
            {"routes": [{"cidr": "10.1.0.0/16", "gateway": "192.168.50.3"}]},
            False,
        ),
        ("dhcp on", {"dhcp": {"enabled": True}}, False),
        ("the addresses", {"addresses": ["192.168.60.0/24"]}, True),
        ("the mtu", {"mtu": 9000}, False),
        ("an xslt", {"xml": {"xslt": "<xsl:stylesheet/>"}}, True),
    ],
)
def test_the_libvirt_network_rules_are_terraform_provider_libvirt_v0_8_1s(label, changes, replaces):
    after = edited(NETWORK_BEFORE, **changes)
    assert tf_requires_new(TF_SCHEMAS[NETWORK], NETWORK_BEFORE, after) is replaces, label


CONTENT = {"type", "data", "stringData", "binaryData"}


@pytest.mark.parametrize(
    ("kind", "provider", "obj", "replaces_on"),
    [
        ("Secret", {}, {}, {"type", "data", "stringData"}),
        ("Secret", {"enableSecretMutable": "true"}, {}, {"type"}),
        (
            "Secret",
            {"enableSecretMutable": "true"},
            {"immutable": True},
            {"type", "data", "stringData"},
        ),
        ("ConfigMap", {}, {}, {"data", "binaryData"}),
        ("ConfigMap", {"enableConfigMapMutable": "true"}, {}, set()),
        ("Service", {}, {}, {"spec.clusterIP"}),
        ("Job", {}, {}, {"spec.template", "spec.selector"}),
    ],
)
def test_the_kubernetes_rules_are_pulumi_kubernetes_v4_25_0s(kind, provider, obj, replaces_on):
    paths = set(kubernetes_force_new(kind, obj, provider))
    assert {"metadata.name", "metadata.namespace"} <= paths
    assert replaces_on <= paths
    assert paths & CONTENT == replaces_on & CONTENT


@dataclass
class _Fake:
    """Just enough of a Registered for the delete rule."""

    urn: str
    delete_before_replace: bool
    deleted_with: str = ""
    type: str = COMMAND
    name: str = ""
    plain_inputs: dict = field(default_factory=dict)


def _plan_of(engine, target_step, target_dbr, command_step, command_dbr, condemned=()):
    target = _Fake("t", target_dbr)
    command = _Fake("c", command_dbr, deleted_with="t")
    run = ProgramRun(resources=[target, command])
    for resource in run.resources:
        resource.custom = True
    plan = Plan(run, run, engine, steps={"t": target_step, "c": command_step})
    plan.condemned = set(condemned)
    return plan


@pytest.mark.parametrize(
    ("target", "target_dbr", "command", "command_dbr", "condemned", "legacy", "cascade"),
    [
        # removed together: both deletes in the last batch
        (DELETE, True, DELETE, True, (), True, True),
        # target removed, command replaced delete-first before the last batch: it runs
        (DELETE, True, REPLACE, True, (), False, False),
        # target replaced create-before-delete, command too: both in the last batch
        (REPLACE, False, REPLACE, False, (), True, True),
        # target replaced delete-first on its own: marked only from 3.260 (#23818)
        (REPLACE, True, REPLACE, True, ("c",), False, True),
        # target condemned by another delete-first replacement: marked on both
        (REPLACE, False, REPLACE, True, ("t", "c"), True, True),
        # target kept: never skipped
        (SAME, True, REPLACE, True, (), False, False),
    ],
)
def test_a_delete_is_skipped_when_the_engine_has_marked_its_deleted_with_target(
    target, target_dbr, command, command_dbr, condemned, legacy, cascade
):
    for engine, expected in ((LEGACY_ENGINE, legacy), (CASCADE_ENGINE, cascade)):
        plan = _plan_of(engine, target, target_dbr, command, command_dbr, condemned)
        assert delete_skipped(plan, "c") is expected, engine


def _deleted_with_program(vcpu: int):
    """A domain and a command deleted with it: the shape #23818 changed."""

    def program():
        domain = libvirt.Domain("vm", name="vm", vcpu=vcpu, memory=1024)
        step = "sudo bash -c '# kubeadm-libvirt step.sh'"
        remote.Command(
            "step",
            connection=remote.ConnectionArgs(host="192.0.2.1"),
            create=step,
            delete=step,
            opts=pulumi.ResourceOptions(depends_on=[domain], deleted_with=domain),
        )
        pulumi.export("nodes", {})

    return program


def test_a_domain_replacement_replaces_what_is_deleted_with_it_from_3_260_only():
    old = run_program({}, program=_deleted_with_program(2))
    new = run_program({}, program=_deleted_with_program(4))
    legacy = simulate({}, {}, old, LEGACY_ENGINE, new)
    cascade = simulate({}, {}, old, CASCADE_ENGINE, new)
    assert (legacy.kind("vm"), legacy.kind("step")) == (REPLACE, SAME)
    assert (cascade.kind("vm"), cascade.kind("step")) == (REPLACE, REPLACE)
    # the domain is a plain (create-before-delete) replacement here: the step's delete is in the
    # last batch with the old domain's, so it is skipped
    assert [r.phase for r in cascade.runs] == ["create"]


def test_the_doctor_accepts_no_cli_newer_than_the_newest_engine_modelled():
    (low_major, low_minor, _), (high_major, high_minor, high_patch) = doctor.PULUMI_RANGE
    oldest = min(engine.versions[0] for engine in ENGINES)
    assert (low_major, low_minor) >= oldest
    newest_accepted = (high_major, high_minor - 1) if high_patch == 0 else (high_major, high_minor)
    assert newest_accepted <= NEWEST_MODELLED_CLI, (doctor.PULUMI_RANGE, NEWEST_MODELLED_CLI)


# --- three masters --------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES, ids=str)
def test_adding_a_master_joins_it_after_the_others_and_touches_nothing_else(engine):
    plan = planned("add a master", engine)
    remote_runs = [(r.command, r.phase, r.script) for r in plan.runs]
    new_steps = [
        ("control-plane-k8s-master4-join-command", "create", "create-join-command"),
        ("control-plane-k8s-master4-join", "create", "join-node"),
        ("control-plane-k8s-master4-registered", "create", "wait-node-registered"),
    ]
    assert [r for r in remote_runs if "k8s-master4" in r[0] and r[0].startswith("control")] == (
        new_steps
    )
    assert not any(
        r.command == "control-plane-init" or r.command.endswith(("-join", "-join-command"))
        for r in plan.runs
        if "k8s-master4" not in r.command
    ), remote_runs
    # etcd takes one learner at a time: the new master's token waits for the last master
    new = plan.new
    assert new.depends_on(
        new.named("control-plane-k8s-master4-join-command"),
        new.named("control-plane-k8s-master3-registered"),
    )


@pytest.mark.parametrize("engine", ENGINES, ids=str)
def test_removing_a_master_removes_its_member_on_the_first_master(engine):
    """The leaving VM's own reset is skipped (its disk goes too), so the etcd member must be
    removed from the first master, before the VM goes."""
    plan = planned("remove a master", engine)
    runs = [(r.command, r.phase, r.script, r.host) for r in plan.runs if "k8s-master3" in r.command]
    assert runs == [
        ("control-plane-k8s-master3-registered", "delete", "remove-node", "192.168.70.21"),
    ]
    assert "ha-k8s-master3" not in {d.plain_inputs["name"] for d in plan.new.of_type(DOMAIN)}
    others = {r.command for r in plan.runs if "k8s-master3" not in r.command}
    assert not others - {n for n in others if n.startswith(("smoke-", "node-"))}, others


def test_masters_leave_in_the_reverse_order_they_joined():
    """Removing two masters at once: the engine deletes dependents first, so master3 (which
    waited for master2) leaves before master2, each member removed while a majority is up."""
    mode, config = HA, stack_config("ha", nodes=HA_NODES[:1] + HA_NODES[3:])
    plan = simulate(base(mode), config, deployed(mode), CASCADE_ENGINE,
                    run_with_fake_home(config, stack="ha"))  # fmt: skip
    deletes = [r.command for r in plan.runs if r.phase == "delete"]
    order = [d for d in deletes if d.endswith("-registered")]
    assert order == [
        "control-plane-k8s-master3-registered",
        "control-plane-k8s-master2-registered",
    ], deletes


def test_one_master_with_a_virtual_address_grows_to_three_without_a_new_cluster():
    """Supported growth: the address was there from the start, so the masters join it; the
    first master's init, the workers and the add-ons stay."""
    before = stack_config("current", controlPlaneEndpoint="192.168.60.20")
    masters = [
        {"name": f"k8s-master{i}", "address": f"192.168.60.{30 + i}", "role": "master"}
        for i in (2, 3)
    ]
    after = stack_config(
        "current", controlPlaneEndpoint="192.168.60.20", nodes=CURRENT_NODES + masters
    )
    old = run_with_fake_home(before, stack="current")
    plan = simulate(before, after, old, CASCADE_ENGINE, run_with_fake_home(after, stack="current"))
    assert outcome(plan) == NODES_ADDED_OR_REMOVED
    assert "control-plane-init" not in plan.named(REPLACE) | plan.named(CREATE)
    joined = [r.command for r in plan.runs if r.script == "join-node"]
    assert joined == ["control-plane-k8s-master2-join", "control-plane-k8s-master3-join"]


# --- nodes on several hypervisors ----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES, ids=str)
def test_moving_a_worker_to_another_hypervisor_rebuilds_that_worker_only(engine):
    """Its VM is replaced delete-first (the old one goes before the new one takes the address),
    the master drains and deletes the old Node, the new VM is prepared and joins again; no
    other node and no Kubernetes object changes, and a hypervisor left without nodes is
    cleared."""
    plan = planned("move a worker to another hypervisor", engine)
    master, worker = "192.168.80.21", "192.168.80.22"
    changed = {
        name: kind
        for name, kind in plan.changed().items()
        if "k8s-node01" not in name and not name.startswith("smoke-")
    }
    # hv2 runs nothing any more: its provider, pool and base image go, after the VM on them.
    assert changed == {
        "cluster.hv2-provider": DELETE,
        "cluster.hv2-images-pool": DELETE,
        "cluster.hv2-images-base": DELETE,
    }
    for part in ("disk", "seed", "domain"):
        resource = next(r for r in plan.new.resources if r.name == f"cluster-k8s-node01-{part}")
        assert plan.steps[resource.urn] == REPLACE, part
        assert resource.delete_before_replace, part
        assert resource.provider.rsplit("::", 1)[0].endswith("::cluster.hv3-provider"), part
    assert ("delete", "remove-node", master) in runs_of(plan, "worker-k8s-node01-registered")
    assert runs_of(plan, "node-k8s-node01-prepare") == [("create", "prepare-node", worker)]
    assert ("create", "join-node", worker) in runs_of(plan, "worker-k8s-node01-join")
    assert runs_of(plan, "worker-k8s-node01-join-command") == [
        ("create", "create-join-command", master)
    ]


def test_a_vm_handed_to_another_hypervisors_provider_under_the_same_inputs_is_kept():
    """The engine rule that makes a move need new disk and seed names: a resource whose provider
    reference changes is replaced only if the new provider's DiffConfig says so, and the libvirt
    provider never does (step_generator.go providerChanged)."""
    config = stack_config("multihost")
    moved = stack_config("multihost", nodes=multi_nodes((1, "hypervisor", "hv3")))
    old, new = deployed(MULTI), evaluated("move a worker to another hypervisor")
    plan = simulate(config, moved, old, CASCADE_ENGINE, new)
    pool = next(r for r in new.resources if r.name == "cluster.hv3-images-pool")
    assert plan.steps[pool.urn] == SAME
    # The same domain inputs under another provider: kept, never made on the new hypervisor.
    kept = copy.deepcopy(new)
    domain = next(r for r in kept.resources if r.name == "cluster-k8s-node01-domain")
    before = next(r for r in old.resources if r.name == "cluster-k8s-node01-domain")
    domain.inputs = before.inputs
    domain.property_dependencies = {}
    for resource in kept.resources:
        if resource.name in ("cluster-k8s-node01-disk", "cluster-k8s-node01-seed"):
            resource.inputs = next(r for r in old.resources if r.name == resource.name).inputs
    plan = simulate(config, moved, old, CASCADE_ENGINE, kept)
    assert plan.steps[domain.urn] == SAME
    assert domain.provider != before.provider
