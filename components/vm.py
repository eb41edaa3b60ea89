"""One node VM: a copy-on-write disk, a cloud-init seed and a libvirt domain."""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi_libvirt as libvirt

from components import cloud_init
from components.network import NodeNetwork
from components.settings import NetworkSettings, NodeSpec
from components.storage import ImageStore

GIB = 1024**3


class NodeVm(pulumi.ComponentResource):
    """A CentOS 7 VM for one node, with its static address, hostname and SSH key from cloud-init."""

    domain: libvirt.Domain

    def __init__(
        self,
        name: str,
        node: NodeSpec,
        network: NetworkSettings,
        node_network: NodeNetwork,
        store: ImageStore,
        ssh_user: str,
        public_key: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:vm:NodeVm", name, None, opts)
        # libvirt names are unique on the host: a replacement must delete the old one first.
        child = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        documents = {
            "meta_data": cloud_init.meta_data(node),
            "user_data": cloud_init.user_data(node, ssh_user, public_key),
            "network_config": cloud_init.network_config(node, network),
        }
        # cloud-init applies these once per disk: a changed hostname, address or key needs a
        # fresh disk (and so a fresh VM), which the content hash in the disk's name brings about.
        digest = hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()[:10]
        disk = libvirt.Volume(
            f"{name}-disk",
            name=f"{node.name}-{digest}.qcow2",
            pool=store.pool_name,
            base_volume_id=store.base_volume_id,
            size=node.disk_gib * GIB,
            format="qcow2",
            opts=child,
        )
        seed = libvirt.CloudInitDisk(
            f"{name}-seed",
            name=f"{node.name}-seed.iso",
            pool=store.pool_name,
            **documents,
            opts=child,
        )
        self.domain = libvirt.Domain(
            f"{name}-domain",
            name=node.name,
            vcpu=node.vcpus,
            memory=node.memory_mib,
            cpu=libvirt.DomainCpuArgs(mode="host-passthrough"),
            autostart=True,
            cloudinit=seed.id,
            disks=[libvirt.DomainDiskArgs(volume_id=disk.id)],
            network_interfaces=[node_network.interface(node.mac, node.name)],
            consoles=[libvirt.DomainConsoleArgs(type="pty", target_port="0", target_type="serial")],
            opts=child,
        )
        self.register_outputs({"domain_id": self.domain.id})
