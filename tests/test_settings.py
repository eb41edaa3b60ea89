"""Settings: the dev config loads as the tutorial describes, and every bad value is rejected
before any resource exists, with a message naming the key and the value."""

from __future__ import annotations

import copy
from ipaddress import IPv4Address, IPv4Network

import pulumi
import pytest
from conftest import FAKE_PUBLIC_KEY, PROJECT_FILE, key_pair, run_program, stack_config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.hosts import ssh_connection
from components.settings import HostSource, Role, SettingsError, StackConfig, load_settings

DEV_NODES = [
    {"name": "k8s-master", "address": "192.168.50.21", "role": "master", "vcpus": 2},
    {"name": "k8s-node01", "address": "192.168.50.22", "role": "worker"},
    {"name": "k8s-node02", "address": "192.168.50.23", "role": "worker"},
]


def load(**overrides):
    box = {}
    run_program(stack_config("dev", **overrides), program=lambda: box.update(s=load_settings()))
    return box["s"]


def nodes_with(index: int, **changes):
    nodes = copy.deepcopy(DEV_NODES)
    nodes[index].update(changes)
    return nodes


def rejected(**overrides) -> tuple[SettingsError, list]:
    """Run the whole program with overrides; return the error and what got registered."""
    with pytest.raises(SettingsError) as info:
        run = run_program(stack_config("dev", **overrides))
        pytest.fail(f"accepted; registered {len(run.resources)} resources")
    return info.value


def test_dev_config_is_the_tutorial_topology():
    s = load()
    assert [(n.name, str(n.address), n.role) for n in s.nodes] == [
        ("k8s-master", "192.168.50.21", Role.MASTER),
        ("k8s-node01", "192.168.50.22", Role.WORKER),
        ("k8s-node02", "192.168.50.23", Role.WORKER),
    ]
    assert s.kubernetes.version == "v1.13.1"
    assert s.kubernetes.pod_network_cidr == IPv4Network("10.244.0.0/16")
    assert s.kubernetes.image_repository == "registry.aliyuncs.com/google_containers"
    assert s.registry.endpoint == "192.168.50.24:5000"
    assert s.host_source is HostSource.LIBVIRT


def test_node_sizes_fall_back_to_the_project_defaults():
    s = load(nodeVcpus=3, nodeMemoryMiB=3072, nodeDiskGiB=30)
    worker = s.workers[0]
    assert (worker.vcpus, worker.memory_mib, worker.disk_gib) == (3, 3072, 30)
    assert s.master.vcpus == 2  # set on the node itself in Pulumi.dev.yaml


def test_gateway_and_nameserver_default_to_the_networks_first_address():
    s = load()
    assert s.network.gateway == IPv4Address("192.168.50.1")
    assert s.network.nameservers == (IPv4Address("192.168.50.1"),)


@pytest.mark.parametrize(
    ("overrides", "key", "value"),
    [
        ({"nodes": nodes_with(1, address="192.168.50.300")}, "nodes[1].address", "192.168.50.300"),
        ({"nodeNetwork": "192.168.50.0/33"}, "nodeNetwork", "192.168.50.0/33"),
        ({"nodeNetwork": "192.168.50.7/24"}, "nodeNetwork", "192.168.50.7/24"),
        ({"podNetworkCidr": "10.244.0.0/xx"}, "podNetworkCidr", "10.244.0.0/xx"),
        ({"serviceCidr": "not-a-cidr"}, "serviceCidr", "not-a-cidr"),
        ({"registryAddress": "192.168.50"}, "registryAddress", "192.168.50"),
    ],
)
def test_malformed_address_or_cidr_is_rejected(overrides, key, value):
    error = rejected(**overrides)
    assert error.key == key
    assert value in str(error)


def test_duplicate_node_address_is_rejected():
    error = rejected(nodes=nodes_with(2, address="192.168.50.22"))
    assert error.key == "nodes[2].address"
    assert "192.168.50.22" in str(error) and "nodes[1]" in str(error)


def test_duplicate_node_name_is_rejected():
    error = rejected(nodes=nodes_with(2, name="k8s-node01"))
    assert error.key == "nodes[2].name"
    assert "k8s-node01" in str(error)


def test_node_outside_the_node_network_is_rejected():
    error = rejected(nodes=nodes_with(1, address="192.168.60.22"))
    assert error.key == "nodes[1].address"
    assert "192.168.60.22" in str(error) and "192.168.50.0/24" in str(error)


@pytest.mark.parametrize(
    ("overrides", "key", "value"),
    [
        ({"podNetworkCidr": "10.96.0.0/16"}, "podNetworkCidr", "10.96.0.0/16"),
        ({"podNetworkCidr": "192.168.0.0/16"}, "podNetworkCidr", "192.168.0.0/16"),
        ({"serviceCidr": "192.168.50.0/25"}, "serviceCidr", "192.168.50.0/25"),
    ],
)
def test_overlapping_cidrs_are_rejected(overrides, key, value):
    error = rejected(**overrides)
    assert error.key == key
    assert value in str(error) and "overlaps" in str(error)


def test_registry_on_a_node_address_is_rejected():
    error = rejected(registryAddress="192.168.50.21")
    assert error.key == "registryAddress"
    assert "192.168.50.21" in str(error) and "k8s-master" in str(error)


def test_registry_outside_the_node_network_is_rejected():
    error = rejected(registryAddress="10.0.0.24")
    assert error.key == "registryAddress"
    assert "10.0.0.24" in str(error)


@pytest.mark.parametrize(
    ("roles", "found"),
    [
        (["worker", "worker", "worker"], "need a master, found none"),
        (["master", "master", "worker"], "2 masters: the tutorial track builds one master"),
    ],
)
def test_not_exactly_one_master_is_rejected_on_the_tutorial_track(roles, found):
    nodes = [dict(n, role=r) for n, r in zip(DEV_NODES, roles, strict=True)]
    error = rejected(nodes=nodes)
    assert error.key == "nodes[*].role"
    assert found in str(error)


def test_unknown_role_is_rejected():
    error = rejected(nodes=nodes_with(1, role="minion"))
    assert error.key == "nodes[1].role" and "minion" in str(error)


def test_master_with_one_vcpu_is_rejected():
    error = rejected(nodes=nodes_with(0, vcpus=1))
    assert error.key == "nodes[0].vcpus"
    assert "at least 2" in str(error)


def test_master_with_too_little_memory_is_rejected():
    error = rejected(nodes=nodes_with(0, memoryMiB=1024))
    assert error.key == "nodes[0].memoryMiB"
    assert "1024" in str(error) and "1700" in str(error)


def test_small_master_is_fine_for_existing_machines():
    # Sizes describe VMs this stack creates; an existing machine's CPUs are not ours to set.
    s = load(hostSource="existing", nodes=nodes_with(0, vcpus=1))
    assert s.host_source is HostSource.EXISTING


@pytest.mark.parametrize(
    "name", ["K8s-Master", "k8s_master", "-k8s", "k8s-", "a" * 64, "k8s.master"]
)
def test_hostname_that_is_not_rfc1123_is_rejected(name):
    error = rejected(nodes=nodes_with(0, name=name))
    assert error.key == "nodes[0].name"
    assert name in str(error) and "RFC 1123" in str(error)


def test_unknown_key_inside_a_node_is_rejected():
    error = rejected(nodes=nodes_with(1, ip="192.168.50.22"))
    assert error.key == "nodes[1].ip"
    assert "unknown key" in str(error)


@pytest.mark.parametrize("version", ["1.13.1", "v1.13", "v1.13.1-rc.1", "latest"])
def test_kubernetes_version_must_be_vmajor_minor_patch(version):
    error = rejected(kubernetesVersion=version)
    assert error.key == "kubernetesVersion"
    assert repr(version) in str(error)


def test_unknown_host_source_is_rejected():
    error = rejected(hostSource="aws")
    assert error.key == "hostSource" and "aws" in str(error)


def test_loopback_nameserver_is_rejected():
    error = rejected(nodeNameservers=["127.0.0.53"])
    assert error.key == "nodeNameservers[0]" and "CoreDNS" in str(error)


def test_non_integer_size_is_rejected():
    error = rejected(nodes=nodes_with(1, memoryMiB="lots"))
    assert error.key == "nodes[1].memoryMiB" and "lots" in str(error)


def test_nothing_is_registered_when_a_setting_is_bad():
    from pulumi.runtime import settings as runtime_settings

    with pytest.raises(SettingsError):
        run_program(stack_config("dev", podNetworkCidr="192.168.0.0/16"))
    assert runtime_settings.SETTINGS.monitor.registered == []


# --- SSH key sources -------------------------------------------------------------------------


def test_ssh_key_falls_back_to_the_users_ed25519_key(ssh_home):
    s = load()
    assert s.ssh.public_key == FAKE_PUBLIC_KEY
    assert s.ssh.user == "centos"


def test_ssh_key_from_config_wins_and_stays_secret(ssh_home):
    private, public = key_pair("a key from config")
    config = stack_config("dev", sshPrivateKey=private, sshPublicKey=public)

    def program():
        settings = load_settings()
        connection = ssh_connection(settings.master.address, settings.ssh, None)
        pulumi.export("private_key", connection.private_key)

    run = run_program(config, program=program)
    assert "private_key" in run.secret_outputs
    assert run.outputs["private_key"] == private


def test_rsa_key_is_used_when_there_is_no_ed25519_key(ssh_home):
    (ssh_home / ".ssh" / "id_ed25519").unlink()
    (ssh_home / ".ssh" / "id_ed25519.pub").unlink()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (ssh_home / ".ssh" / "id_rsa").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    settings = load()
    assert settings.ssh.public_key == public.decode()
    assert settings.ssh.key_source == str(ssh_home / ".ssh" / "id_rsa")


def test_missing_ssh_key_everywhere_is_a_clear_error(ssh_home):
    for path in (ssh_home / ".ssh").iterdir():
        path.unlink()
    error = rejected()
    assert error.key == "sshPrivateKey"
    assert "ssh-keygen" in str(error) and "pulumi config set --secret sshPrivateKey" in str(error)


def test_the_public_key_is_the_private_keys_own_when_not_configured(ssh_home):
    (ssh_home / ".ssh" / "id_ed25519.pub").unlink()
    assert load().ssh.public_key == FAKE_PUBLIC_KEY


def test_a_public_key_of_another_key_pair_is_rejected():
    _, other_public = key_pair("somebody else")
    error = rejected(sshPublicKey=other_public)
    assert error.key == "sshPublicKey" and "does not belong to the private key" in str(error)


def test_malformed_public_key_is_rejected():
    error = rejected(sshPublicKey="not a key")
    assert error.key == "sshPublicKey" and "not a key" in str(error)


def test_the_settings_model_has_exactly_the_keys_pulumi_yaml_declares():
    """A key read but not declared would have no default (the CLI demands a value); a key
    declared but not read would be ignored silently."""
    assert set(StackConfig.model_fields) == set(PROJECT_FILE["config"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("appCpuRequest", "lots"),
        ("appMemoryLimit", "512 MB"),
        ("registryImage", "registry 2"),
        ("flannelImage", "Bad Image"),
        ("dockerVersion", "latest please"),
        ("storagePoolPath", "relative/dir"),
        ("registryStoragePath", "var/lib/registry"),
        ("libvirtBridge", "br 0"),
        ("libvirtNetworkName", "k8s net"),
        ("baseImage", "centos.qcow2"),
        ("centosVaultBaseUrls", ["ftp://vault.example/7.9.2009"]),
        ("appNodePort", 8080),
        ("registryPort", 70000),
    ],
)
def test_malformed_values_are_rejected_with_key_and_value(key, value):
    error = rejected(**{key: value})
    assert error.key.split("[")[0] == key
    shown = value[0] if isinstance(value, list) else value
    assert repr(shown) in str(error) or str(shown) in str(error)
