"""One node VM: its SSH host key, a copy-on-write disk, a cloud-init seed and a libvirt domain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import pulumi
import pulumi_libvirt as libvirt
import pulumi_tls as tls

from components import cloud_init
from components.network import NodeNetwork
from components.settings import NetworkSettings, NodeSpec
from components.storage import ImageStore

GIB = 1024**3


class NodeVm(pulumi.ComponentResource):
    """A VM for one node on the track's image, with its static address, hostname, the SSH user's
    key and a host key made here (so every connection can pin it) from cloud-init."""

    domain: libvirt.Domain
    disk: libvirt.Volume
    host_public_key: pulumi.Output[str]
    """The VM's SSH host key, an OpenSSH `ssh-ed25519 ...` line."""

    def __init__(
        self,
        name: str,
        node: NodeSpec,
        network: NetworkSettings,
        node_network: NodeNetwork,
        store: ImageStore,
        ssh_user: str,
        public_key: str,
        domain_name: str,
        pin_host_key: Sequence[str],
        hypervisor: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:vm:NodeVm", name, None, opts)
        # libvirt names are unique on the host: a replacement must delete the old one first.
        child = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        host_key = tls.PrivateKey(
            f"{name}-host-key",
            algorithm="ED25519",
            opts=pulumi.ResourceOptions(
                parent=self, additional_secret_outputs=["privateKeyOpenssh"]
            ),
        )
        self.host_public_key = host_key.public_key_openssh.apply(str.strip)
        documents = {
            "meta_data": cloud_init.meta_data(node),
            "network_config": cloud_init.network_config(node, network),
        }
        user_data = pulumi.Output.all(host_key.private_key_openssh, self.host_public_key).apply(
            lambda keys: cloud_init.user_data(node, ssh_user, public_key, *keys, pin_host_key)
        )
        # cloud-init applies hostname, address and keys once per disk: a change to any of them
        # needs a fresh disk (and so a fresh VM), which a hash of the documents in the disk's
        # name brings about. The host key enters it through its public half, so the name is no
        # secret; the user-data with the private half is. A named hypervisor (hypervisor) enters
        # the hash and the seed's name: a VM that moves to another hypervisor is replaced, disk,
        # seed and domain (components/libvirt_hosts.py), while libvirtUri's names stay as ever.
        on = () if hypervisor is None else (hypervisor,)
        disk_name = pulumi.Output.all(
            self.host_public_key,
            cloud_init.user_data(node, ssh_user, public_key, "", "", pin_host_key),
        ).apply(lambda parts: f"{node.name}-{_digest(documents, *parts, *on)}.qcow2")
        self.disk = libvirt.Volume(
            f"{name}-disk",
            name=disk_name,
            pool=store.pool_name,
            base_volume_id=store.base_volume_id,
            size=node.disk_gib * GIB,
            format="qcow2",
            opts=child,
        )
        seed = libvirt.CloudInitDisk(
            f"{name}-seed",
            name="-".join((node.name, *on, "seed.iso")),
            pool=store.pool_name,
            user_data=pulumi.Output.secret(user_data),
            **documents,
            opts=child,
        )
        self.domain = libvirt.Domain(
            f"{name}-domain",
            name=domain_name,
            vcpu=node.vcpus,
            memory=node.memory_mib,
            cpu=libvirt.DomainCpuArgs(mode="host-passthrough"),
            autostart=True,
            cloudinit=seed.id,
            disks=[libvirt.DomainDiskArgs(volume_id=self.disk.id)],
            network_interfaces=[node_network.interface(node.mac, node.name)],
            consoles=[libvirt.DomainConsoleArgs(type="pty", target_port="0", target_type="serial")],
            # Without a graphics block the provider adds SPICE (terraform-provider-libvirt@v0.8.1:
            # libvirt/domain_def.go newDomainDef), which QEMU on RHEL 9 and its rebuilds refuses;
            # VNC on the hypervisor's loopback only. The block's type defaults to spice and its
            # listen_type to none, so both are set. A video block's type defaults to cirrus
            # (libvirt/domain.go), gone from RHEL 9 too: plain VGA.
            graphics=libvirt.DomainGraphicsArgs(
                type="vnc", listen_type="address", listen_address="127.0.0.1", autoport=True
            ),
            video=libvirt.DomainVideoArgs(type="vga"),
            # The provider takes a changed disk (volume_id) or NIC as an update, and its update
            # leaves both as they were: it only edits DHCP host entries and never moves a NIC to
            # another network (libvirt/resource_libvirt_domain.go: neither is ForceNew). So a
            # new disk or NIC rebuilds the domain instead; replace_on_changes turns the
            # provider's update into a replacement.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(replace_on_changes=["disks", "networkInterfaces"])
            ),
        )
        self.register_outputs({"domain_id": self.domain.id, "disk_id": self.disk.id})


def _digest(documents: dict[str, str], *parts: str) -> str:
    text = json.dumps([documents, parts], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]
