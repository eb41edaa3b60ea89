"""Nodes on several libvirt hosts (Pulumi.multihost.yaml) under Pulumi mocks: one provider per
hypervisor with its own pool and base image, every node's disk, seed and domain on its own
hypervisor and nothing crossing, existing machines beside the VMs, and the refusals of a
placement whose nodes could not reach each other."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import (
    FAKE_PRIVATE_KEY,
    ProgramRun,
    Registered,
    key_pair,
    run_program,
    run_with_fake_home,
    stack_config,
)

from components.settings import SettingsError, validate

PROVIDER = "pulumi:providers:libvirt"
DOMAIN = "libvirt:index/domain:Domain"
POOL = "libvirt:index/pool:Pool"
SEED = "libvirt:index/cloudInitDisk:CloudInitDisk"
MULTI_NODES = json.loads(stack_config("multihost")["kubeadm-libvirt:nodes"])
MULTI_HYPERVISORS = json.loads(stack_config("multihost")["kubeadm-libvirt:hypervisors"])
LOCAL = "qemu:///system"
HV2 = "qemu+ssh://root@hv2.lab.example/system"
HV3 = "qemu+ssh://root@hv3.lab.example/system"
PLACED = {"k8s-master": LOCAL, "k8s-node01": HV2, "k8s-node02": HV3}
TRACKS = ["current", "tutorial"]


@pytest.fixture(scope="module", params=TRACKS)
def multi(request) -> ProgramRun:
    return run_with_fake_home(stack_config("multihost", track=request.param), stack="multihost")


def hypervisor_of(run: ProgramRun, resource: Registered) -> str:
    """The uri of the libvirt provider a resource is managed by."""
    urn = resource.provider.rsplit("::", 1)[0]
    return next(r for r in run.resources if r.urn == urn).plain_inputs["uri"]


def libvirt_resources(run: ProgramRun) -> list[Registered]:
    return [r for r in run.resources if r.custom and r.type.startswith("libvirt:")]


def multihost_config(**overrides) -> dict[str, str]:
    return stack_config("multihost", **overrides)


def rejected(**overrides) -> SettingsError:
    config = multihost_config(sshPrivateKey=FAKE_PRIVATE_KEY, **overrides)
    raw = {key.split(":", 1)[1]: value for key, value in config.items()}
    with pytest.raises(SettingsError) as error:
        validate(raw, stack="multihost")
    return error.value


def placed(*edits) -> list[dict]:
    """The multihost nodes with (index, key, value) edits; value None removes the key."""
    nodes = copy.deepcopy(MULTI_NODES)
    for index, key, value in edits:
        if value is None:
            nodes[index].pop(key, None)
        else:
            nodes[index][key] = value
    return nodes


# --- the graph -----------------------------------------------------------------------------------


def test_one_provider_per_hypervisor_that_runs_a_node(multi):
    uris = sorted(r.plain_inputs["uri"] for r in multi.of_type(PROVIDER))
    assert uris == sorted(PLACED.values())


def test_each_nodes_domain_runs_on_its_hypervisor(multi):
    domains = {r.plain_inputs["name"]: hypervisor_of(multi, r) for r in multi.of_type(DOMAIN)}
    assert domains == {f"multihost-{node}": uri for node, uri in PLACED.items()}


def test_every_hypervisor_has_its_own_pool_and_base_image(multi):
    pools = {hypervisor_of(multi, r): r.plain_inputs for r in multi.of_type(POOL)}
    assert set(pools) == set(PLACED.values())
    assert {uri: p["target"]["path"] for uri, p in pools.items()} == {
        LOCAL: "/var/lib/libvirt/kubeadm-libvirt-multihost",
        HV2: "/var/lib/libvirt/kubeadm-libvirt-multihost",
        HV3: "/srv/kubeadm-libvirt-multihost",
    }
    bases = [r for r in libvirt_resources(multi) if r.name.endswith("-images-base")]
    assert sorted(hypervisor_of(multi, r) for r in bases) == sorted(PLACED.values())


def test_nothing_crosses_from_one_hypervisor_to_another(multi):
    """A disk over another host's base image, a domain booting another host's disk or seed: each
    would name a volume that hypervisor does not have."""
    by_urn = {r.urn: r for r in libvirt_resources(multi)}
    pairs = 0
    for resource in by_urn.values():
        for urns in resource.property_dependencies.values():
            for urn in urns:
                if urn in by_urn:
                    pairs += 1
                    assert hypervisor_of(multi, by_urn[urn]) == hypervisor_of(multi, resource), (
                        resource.name,
                        by_urn[urn].name,
                    )
    assert pairs >= 3 * 5  # per host: base in pool; disk on base and pool; seed; domain on both


def test_the_hypervisor_of_each_node_is_an_output(multi):
    assert multi.outputs["hypervisors"] == PLACED


def test_bridged_hosts_make_no_nat_network(multi):
    assert not multi.of_type("libvirt:index/network:Network")
    for domain in multi.of_type(DOMAIN):
        (nic,) = domain.plain_inputs["networkInterfaces"]
        assert nic["bridge"] == "br0" and "networkId" not in nic


def test_libvirtUris_resources_keep_their_names_beside_named_hypervisors(multi):
    """The resources on libvirtUri are named as on a stack without hypervisors, so adding a
    hypervisor touches none of them; a named one's carry its name, a VM's is the node's."""
    names = {r.name for r in libvirt_resources(multi)}
    assert {"cluster-images-pool", "cluster-k8s-master-domain"} <= names
    assert {"cluster.hv2-images-pool", "cluster.hv3-images-base"} <= names
    assert {"cluster-k8s-node01-domain", "cluster-k8s-node02-disk"} <= names
    seeds = {r.name: r.plain_inputs["name"] for r in multi.of_type(SEED)}
    assert seeds == {
        "cluster-k8s-master-seed": "k8s-master-seed.iso",
        "cluster-k8s-node01-seed": "k8s-node01-hv2-seed.iso",
        "cluster-k8s-node02-seed": "k8s-node02-hv3-seed.iso",
    }


@pytest.mark.parametrize("track", TRACKS)
def test_a_hypervisor_no_node_uses_adds_nothing(track):
    spare = {"name": "hv4", "uri": "qemu+ssh://root@hv4.lab.example/system", "bridge": "br0"}
    before = run_program(multihost_config(track=track), stack="multihost")
    after = run_program(
        multihost_config(track=track, hypervisors=[*MULTI_HYPERVISORS, spare]), stack="multihost"
    )
    # The smoke check runs again after any configuration change: it verifies, it changes nothing.
    kept = lambda run: {  # noqa: E731
        r.urn: r.plain_inputs for r in run.resources if not r.name.startswith("smoke-")
    }
    assert kept(after) == kept(before)


def test_every_node_on_a_named_hypervisor_leaves_libvirtUri_unused():
    nodes = placed((0, "hypervisor", "hv2"))
    run = run_program(multihost_config(nodes=nodes), stack="multihost")
    assert sorted(r.plain_inputs["uri"] for r in run.of_type(PROVIDER)) == [HV2, HV3]


def test_thirty_nodes_on_three_hypervisors_build():
    nodes = [
        {
            "name": f"node{i:02d}",
            "address": f"192.168.80.{100 + i}",
            "role": "master" if i == 0 else "worker",
            **({"hypervisor": ["hv2", "hv3"][i % 3 - 1]} if i % 3 else {}),
        }
        for i in range(30)
    ]
    run = run_program(multihost_config(nodes=nodes), stack="multihost")
    per_host: dict[str, int] = {}
    for domain in run.of_type(DOMAIN):
        uri = hypervisor_of(run, domain)
        per_host[uri] = per_host.get(uri, 0) + 1
    assert per_host == {LOCAL: 10, HV2: 10, HV3: 10}


# --- existing machines beside the VMs -----------------------------------------------------------


EXISTING_HOST_KEY = key_pair("an existing machine's host key")[1]


def mixed_config() -> dict[str, str]:
    nodes = [
        *MULTI_NODES,
        {
            "name": "k8s-node03",
            "address": "192.168.80.30",
            "role": "worker",
            "existing": True,
            "hostKey": EXISTING_HOST_KEY,
        },
    ]
    return multihost_config(nodes=nodes)


def test_an_existing_machine_beside_the_vms_gets_no_libvirt_resource_and_is_pinned():
    run = run_program(mixed_config(), stack="multihost")
    assert [r.name for r in libvirt_resources(run) if "k8s-node03" in r.name] == []
    prepare = run.named("node-k8s-node03-prepare").plain_inputs
    assert prepare["connection"]["host"] == "192.168.80.30"
    assert prepare["connection"]["hostKey"] == EXISTING_HOST_KEY
    assert "k8s-node03" not in run.outputs["hypervisors"]
    assert "k8s-node03" not in run.outputs["domains"]
    assert run.outputs["hostKeys"]["k8s-node03"] == EXISTING_HOST_KEY
    joined = {r.name for r in run.of_type("command:remote:Command")}
    assert {"worker-k8s-node03-join", "worker-k8s-node03-registered"} <= joined


def test_an_existing_machine_beside_vms_on_a_nat_network_is_refused():
    nodes = [
        {"name": "k8s-master", "address": "192.168.80.21", "role": "master"},
        {"name": "k8s-node01", "address": "192.168.80.22", "role": "worker", "existing": True},
    ]
    error = rejected(nodes=nodes, libvirtBridge="", hypervisors=[])
    assert error.key == "libvirtBridge"
    assert "k8s-master on libvirtUri" in str(error)
    assert "existing machines: k8s-node01" in str(error)


def test_a_host_key_is_taken_for_an_existing_machine_only():
    nodes = placed((1, "hostKey", EXISTING_HOST_KEY))
    error = rejected(nodes=nodes)
    assert error.key == "nodes[1].hostKey"


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"libvirtBridge": ""}, "libvirtBridge"),
        ({"hypervisors": [MULTI_HYPERVISORS[0], {**MULTI_HYPERVISORS[1], "bridge": ""}]},
         "hypervisors[1].bridge"),
    ],
)  # fmt: skip
def test_nodes_on_several_hypervisors_without_a_bridge_are_refused_naming_them(overrides, key):
    error = rejected(**overrides)
    assert error.key == key
    message = str(error)
    for place in ("libvirtUri: k8s-master", "hv2: k8s-node01", "hv3: k8s-node02"):
        assert place in message
    assert "NAT network" in message and "bridge" in message


def test_all_nodes_on_one_named_hypervisor_may_use_its_nat_network():
    nodes = placed(*[(i, "hypervisor", "hv3") for i in range(3)])
    hypervisors = [MULTI_HYPERVISORS[0], {**MULTI_HYPERVISORS[1], "bridge": ""}]
    config = multihost_config(nodes=nodes, hypervisors=hypervisors, libvirtBridge="")
    run = run_program(config, stack="multihost")
    (network,) = run.of_type("libvirt:index/network:Network")
    assert hypervisor_of(run, network) == HV3


def test_a_node_on_an_unknown_hypervisor_is_refused_with_the_known_names():
    error = rejected(nodes=placed((2, "hypervisor", "hv9")))
    assert error.key == "nodes[2].hypervisor"
    assert "'hv9'" in str(error) and "hv2, hv3" in str(error)


def test_a_hypervisor_named_twice_is_refused():
    twice = [MULTI_HYPERVISORS[0], {**MULTI_HYPERVISORS[1], "name": "hv2"}]
    error = rejected(hypervisors=twice)
    assert error.key == "hypervisors[1].name"


def test_one_libvirt_host_under_two_names_is_refused():
    twice = [MULTI_HYPERVISORS[0], {**MULTI_HYPERVISORS[1], "uri": HV2}]
    error = rejected(hypervisors=twice)
    assert error.key == "hypervisors[1].uri" and "hypervisors[0]" in str(error)


def test_a_named_hypervisor_that_is_libvirtUri_is_refused_while_both_run_nodes():
    same = [{**MULTI_HYPERVISORS[0], "uri": LOCAL}, MULTI_HYPERVISORS[1]]
    error = rejected(hypervisors=same)
    assert error.key == "hypervisors[0].uri" and "two pools of one name" in str(error)
    nodes = placed((0, "hypervisor", "hv2"))
    run = run_program(multihost_config(hypervisors=same, nodes=nodes), stack="multihost")
    assert sorted(r.plain_inputs["uri"] for r in run.of_type(PROVIDER)) == sorted([LOCAL, HV3])


def test_a_hypervisor_for_an_existing_machine_is_refused():
    error = rejected(nodes=placed((1, "existing", True)))
    assert error.key == "nodes[1].hypervisor" and "existing machine" in str(error)
    error = rejected(hostSource="existing")
    assert error.key == "nodes[1].hypervisor" and "hostSource is existing" in str(error)


@pytest.mark.parametrize(
    ("entry", "key", "problem"),
    [
        ({"name": "hv2"}, "hypervisors[0].uri", "not set"),
        ({"name": "HV2", "uri": HV2}, "hypervisors[0].name", "RFC 1123"),
        ({"name": "hv2", "uri": "http://hv2/system"}, "hypervisors[0].uri", "transports"),
        ({"name": "hv2", "uri": HV2, "bridge": "a bridge"}, "hypervisors[0].bridge", "bridge"),
        ({"name": "hv2", "uri": HV2, "storagePoolPath": "/etc/x"}, "hypervisors[0].storagePoolPath",
         "system tree"),
        ({"name": "hv2", "uri": HV2, "brige": "br0"}, "hypervisors[0].brige",
         "did you mean bridge"),
        ("hv2", "hypervisors[0]", "name and uri"),
    ],
)  # fmt: skip
def test_a_malformed_hypervisor_is_refused_naming_its_key(entry, key, problem):
    error = rejected(hypervisors=[entry])
    assert error.key == key and problem in str(error), str(error)


def test_each_vm_attaches_to_its_own_hypervisors_bridge():
    hypervisors = [{**MULTI_HYPERVISORS[0], "bridge": "br2"}, MULTI_HYPERVISORS[1]]
    run = run_program(multihost_config(hypervisors=hypervisors), stack="multihost")
    bridges = {
        r.plain_inputs["name"]: r.plain_inputs["networkInterfaces"][0]["bridge"]
        for r in run.of_type(DOMAIN)
    }
    assert bridges == {
        "multihost-k8s-master": "br0",
        "multihost-k8s-node01": "br2",
        "multihost-k8s-node02": "br0",
    }


def test_a_hypervisors_pool_directory_with_the_stack_in_it_must_stay_a_libvirt_name():
    long = "/srv/" + "p" * 60
    error = rejected(
        hypervisors=[MULTI_HYPERVISORS[0], {**MULTI_HYPERVISORS[1], "storagePoolPath": long}]
    )
    assert error.key == "hypervisors[1].storagePoolPath" and "stack 'multihost'" in str(error)
