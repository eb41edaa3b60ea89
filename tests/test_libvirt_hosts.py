"""The libvirt layer under mocks: what `pulumi up` would create on the hypervisor."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest
import yaml
from conftest import FAKE_PUBLIC_KEY, is_secret_input, key_pair, run_program, stack_config

DOMAIN = "libvirt:index/domain:Domain"
VOLUME = "libvirt:index/volume:Volume"
SEED = "libvirt:index/cloudInitDisk:CloudInitDisk"
NETWORK = "libvirt:index/network:Network"
POOL = "libvirt:index/pool:Pool"
PROVIDER = "pulumi:providers:libvirt"
GIB = 1024**3
NODES = ("k8s-master", "k8s-node01", "k8s-node02")
ADDRESSES = dict(zip(NODES, ("192.168.50.21", "192.168.50.22", "192.168.50.23"), strict=True))


def domains(run):
    return {d.plain_inputs["name"]: d for d in run.of_type(DOMAIN)}


def seed_for(run, node):
    return next(s for s in run.of_type(SEED) if s.plain_inputs["name"] == f"{node}-seed.iso")


def test_dev_config_creates_three_domains_three_seeds_and_three_disks(dev_run):
    assert sorted(domains(dev_run)) == ["k8s-master", "k8s-node01", "k8s-node02"]
    assert len(dev_run.of_type(SEED)) == 3
    disks = [v for v in dev_run.of_type(VOLUME) if "baseVolumeId" in v.plain_inputs]
    assert len(disks) == 3


def test_every_disk_is_a_cow_layer_over_the_one_centos7_base_volume(dev_run):
    bases = [v for v in dev_run.of_type(VOLUME) if "source" in v.plain_inputs]
    assert len(bases) == 1, "expected exactly one base image volume"
    base = bases[0]
    assert base.plain_inputs["source"].endswith("CentOS-7-x86_64-GenericCloud-2009.qcow2")
    assert base.plain_inputs["format"] == "qcow2"
    base_id = f"{base.name}-id"
    for disk in (v for v in dev_run.of_type(VOLUME) if v is not base):
        inputs = disk.plain_inputs
        assert inputs["baseVolumeId"] == base_id, disk.name
        assert inputs["format"] == "qcow2", disk.name
        assert inputs["size"] == 20 * GIB, disk.name
        assert base.urn in disk.property_dependencies["baseVolumeId"], disk.name


def test_volumes_and_seeds_live_in_the_stacks_own_pool(dev_run):
    pools = dev_run.of_type(POOL)
    assert len(pools) == 1
    pool = pools[0].plain_inputs
    assert pool["type"] == "dir"
    assert pool["name"] == "kubeadm-libvirt"
    assert pool["target"]["path"] == "/var/lib/libvirt/kubeadm-libvirt"
    for resource in dev_run.of_type(VOLUME) + dev_run.of_type(SEED):
        assert resource.plain_inputs["pool"] == "kubeadm-libvirt", resource.name


def test_every_libvirt_resource_uses_the_one_explicit_provider(dev_run):
    providers = dev_run.of_type(PROVIDER)
    assert len(providers) == 1
    assert providers[0].plain_inputs["uri"] == "qemu:///system"
    reference = f"{providers[0].urn}::{providers[0].name}-id"
    libvirt_resources = [r for r in dev_run.resources if r.type.startswith("libvirt:")]
    assert len(libvirt_resources) == 3 * 3 + 3  # per node disk/seed/domain; pool, base, network
    for resource in libvirt_resources:
        assert resource.provider == reference, resource.name


def test_master_gets_its_vcpus_and_memory_and_all_domains_a_serial_console(dev_run):
    master = domains(dev_run)["k8s-master"].plain_inputs
    assert master["vcpu"] >= 2
    assert master["memory"] == 2048
    for name, domain in domains(dev_run).items():
        consoles = domain.plain_inputs["consoles"]
        assert {"type": "pty", "targetPort": "0", "targetType": "serial"} in consoles, name


def test_domains_boot_their_own_seed_and_disk_on_the_nat_network(dev_run):
    network = dev_run.of_type(NETWORK)[0]
    for name, domain in domains(dev_run).items():
        inputs = domain.plain_inputs
        assert inputs["cloudinit"] == f"cluster-{name}-seed-id"
        assert inputs["disks"] == [{"volumeId": f"cluster-{name}-disk-id"}]
        (nic,) = inputs["networkInterfaces"]
        assert nic["networkId"] == f"{network.name}-id", name
        assert not nic.get("waitForLease"), f"{name}: static addresses, nothing to wait for"


def test_nat_network_has_the_node_cidr_dns_on_and_dhcp_off(dev_run):
    (network,) = dev_run.of_type(NETWORK)
    inputs = network.plain_inputs
    assert inputs["mode"] == "nat"
    assert inputs["addresses"] == ["192.168.50.0/24"]
    assert inputs["dhcp"] == {"enabled": False}
    assert inputs["dns"]["enabled"] is True


def test_fixed_names_are_replaced_delete_first(dev_run):
    for resource in dev_run.resources:
        if resource.type in (DOMAIN, VOLUME, SEED, NETWORK, POOL):
            assert resource.delete_before_replace, resource.name


def test_cloud_init_user_data_sets_hostname_user_key_sudo_and_growpart(dev_run):
    text = seed_for(dev_run, "k8s-node01").plain_inputs["userData"]
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert doc["hostname"] == "k8s-node01"
    (user,) = doc["users"]
    assert user["name"] == "centos"
    assert user["ssh_authorized_keys"] == [FAKE_PUBLIC_KEY]
    assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
    assert doc["growpart"]["devices"] == ["/"]
    assert doc["ssh_pwauth"] is False


def test_cloud_init_never_manages_etc_hosts(dev_run):
    """Node preparation writes the node entries to /etc/hosts; cloud-init would rewrite the file
    from a template on every boot with manage_etc_hosts on (cc_update_etc_hosts.py)."""
    for seed in dev_run.of_type(SEED):
        assert yaml.safe_load(seed.plain_inputs["userData"])["manage_etc_hosts"] is False


def test_each_vm_gets_one_ed25519_host_key_made_by_the_stack(dev_run):
    """cc_ssh (cloud-init 19.4) deletes the image's host keys, writes ssh_keys' ed25519 pair and
    generates none itself; the bootcmd keeps sshd and sshd-keygen to that key."""
    keys = dev_run.of_type("tls:index/privateKey:PrivateKey")
    assert sorted(k.name for k in keys) == [f"cluster-{n}-host-key" for n in NODES]
    for key in keys:
        assert key.plain_inputs == {"algorithm": "ED25519"}, key.name
    for node in NODES:
        seed = seed_for(dev_run, node)
        assert is_secret_input(seed.inputs["userData"]), f"{node}: user-data holds a private key"
        doc = yaml.safe_load(seed.plain_inputs["userData"])
        assert doc["ssh_deletekeys"] is True and "ssh_genkeytypes" not in doc
        assert set(doc["ssh_keys"]) == {"ed25519_private", "ed25519_public"}
        assert doc["ssh_keys"]["ed25519_private"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        assert any("AUTOCREATE_SERVER_KEYS=NO" in line for line in doc["bootcmd"])


def test_every_connection_to_a_vm_pins_that_vms_host_key(dev_run):
    public = {
        key.name.removeprefix("cluster-").removesuffix("-host-key"): key
        for key in dev_run.of_type("tls:index/privateKey:PrivateKey")
    }
    for command in dev_run.of_type("command:remote:Command"):
        connection = command.plain_inputs["connection"]
        node = next(n for n, a in ADDRESSES.items() if a == connection["host"])
        seed = yaml.safe_load(seed_for(dev_run, node).plain_inputs["userData"])
        assert connection["hostKey"] == seed["ssh_keys"]["ed25519_public"], command.name
        assert connection["hostKey"].startswith("ssh-ed25519 "), command.name
        assert node in public


@pytest.mark.parametrize(("network", "prefix"), [("10.20.0.0/16", 16), ("10.20.30.0/25", 25)])
def test_the_static_address_has_the_node_networks_own_prefix(network, prefix):
    base = str(IPv4Network(network).network_address).rsplit(".", 1)[0]
    nodes = [
        {"name": "cp", "address": f"{base}.10", "role": "master"},
        {"name": "w1", "address": f"{base}.11", "role": "worker"},
    ]
    run = run_program(
        stack_config("dev", nodes=nodes, nodeNetwork=network, registryAddress=f"{base}.99")
    )
    for node, address in (("cp", f"{base}.10"), ("w1", f"{base}.11")):
        doc = yaml.safe_load(seed_for(run, node).plain_inputs["networkConfig"])
        (subnet,) = doc["config"][0]["subnets"]
        assert subnet["address"] == f"{address}/{prefix}", node


def test_cloud_init_meta_data_names_the_host(dev_run):
    doc = yaml.safe_load(seed_for(dev_run, "k8s-node02").plain_inputs["metaData"])
    assert doc == {"instance-id": "k8s-node02", "local-hostname": "k8s-node02"}


def test_cloud_init_network_config_is_static_with_gateway_and_dns(dev_run):
    doc = yaml.safe_load(seed_for(dev_run, "k8s-master").plain_inputs["networkConfig"])
    assert doc["version"] == 1
    (nic,) = doc["config"]
    assert nic["name"] == "eth0"
    (subnet,) = nic["subnets"]
    assert subnet == {
        "type": "static",
        "address": "192.168.50.21/24",
        "gateway": "192.168.50.1",
        "dns_nameservers": ["192.168.50.1"],
    }
    domain_nic = domains(dev_run)["k8s-master"].plain_inputs["networkInterfaces"][0]
    assert nic["mac_address"] == domain_nic["mac"], "network-config must match the VM's NIC"


def test_macs_are_unique_per_node(dev_run):
    macs = [d.plain_inputs["networkInterfaces"][0]["mac"] for d in dev_run.of_type(DOMAIN)]
    assert len(set(macs)) == 3


def test_a_bridge_replaces_the_nat_network():
    run = run_program(stack_config("dev", libvirtBridge="br0"))
    assert run.of_type(NETWORK) == []
    for domain in run.of_type(DOMAIN):
        (nic,) = domain.plain_inputs["networkInterfaces"]
        assert nic["bridge"] == "br0" and "networkId" not in nic, domain.name


def test_node_sizes_reach_the_domain_and_disk():
    nodes = [
        {"name": "cp", "address": "10.1.0.10", "role": "master", "vcpus": 4, "memoryMiB": 8192},
        {"name": "w1", "address": "10.1.0.11", "role": "worker", "diskGiB": 50},
    ]
    run = run_program(
        stack_config("dev", nodes=nodes, nodeNetwork="10.1.0.0/24", registryAddress="10.1.0.99")
    )
    cp = domains(run)["cp"].plain_inputs
    assert (cp["vcpu"], cp["memory"]) == (4, 8192)
    disk = next(v for v in run.of_type(VOLUME) if v.plain_inputs["name"].startswith("w1-"))
    assert disk.plain_inputs["size"] == 50 * GIB


def test_libvirt_uri_reaches_the_provider():
    run = run_program(stack_config("dev", libvirtUri="qemu+ssh://root@hv.example/system"))
    (provider,) = run.of_type(PROVIDER)
    assert provider.plain_inputs["uri"] == "qemu+ssh://root@hv.example/system"


def disk_names(run) -> dict[str, str]:
    return {
        d.name: d.plain_inputs["name"]
        for d in run.of_type(VOLUME)
        if "baseVolumeId" in d.plain_inputs
    }


def test_a_changed_address_or_key_gives_that_node_a_fresh_disk():
    """cloud-init applies hostname, address and key once per disk: a change needs a new disk."""
    before = disk_names(run_program(stack_config("dev")))
    nodes = [
        {"name": "k8s-master", "address": "192.168.50.21", "role": "master"},
        {"name": "k8s-node01", "address": "192.168.50.32", "role": "worker"},
        {"name": "k8s-node02", "address": "192.168.50.23", "role": "worker"},
    ]
    after = disk_names(run_program(stack_config("dev", nodes=nodes)))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"cluster-k8s-node01-disk"}
    other_private, other_public = key_pair("another user")
    rekeyed = disk_names(
        run_program(stack_config("dev", sshPrivateKey=other_private, sshPublicKey=other_public))
    )
    assert all(before[name] != rekeyed[name] for name in before)


def test_a_new_host_key_gives_that_node_a_fresh_disk():
    """The host key is written by cloud-init once per disk too: the disk's name digest covers
    it, so a replaced key (a new pulumi-tls key) means a new disk for that node only."""
    before = disk_names(run_program(stack_config("dev")))
    after = disk_names(
        run_program(stack_config("dev"), generations={"cluster-k8s-node02-host-key": 1})
    )
    assert {name for name in before if before[name] != after[name]} == {"cluster-k8s-node02-disk"}


def test_settings_outside_cloud_init_keep_the_disks():
    before = disk_names(run_program(stack_config("dev")))
    after = disk_names(run_program(stack_config("dev", dockerVersion="18.06.1.ce-3.el7")))
    assert before == after
