"""The libvirt source of hosts: provider, network, image store and one VM per node."""

from __future__ import annotations

import pulumi
import pulumi_libvirt as libvirt

from components.hosts import Host, host_for
from components.network import NodeNetwork
from components.settings import Settings
from components.storage import ImageStore
from components.vm import NodeVm


class LibvirtHosts(pulumi.ComponentResource):
    """Creates the node VMs on one libvirt host through an explicit provider and hands them on
    as Hosts, the same type the existing-machine source produces.
    """

    hosts: list[Host]

    def __init__(
        self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kubeadm-libvirt:vm:LibvirtHosts", name, None, opts)
        # A new libvirtUri is a new hypervisor: every libvirt resource must be made again there.
        # The bridged provider reports a uri change as an update only (its DiffConfig replaces
        # for ForcesProviderReplace fields, and uri has none: pulumi/pulumi-terraform-bridge@
        # v3.99.0:pkg/tfbridge/provider.go, pulumi/pulumi-libvirt@v0.5.4:provider/resources.go).
        # replace_on_changes turns it into a replacement, and delete_before_replace makes the
        # engine replace every resource of a replaced provider (pulumi/pulumi@v3.259.0 and
        # 1b5949891b: pkg/resource/deploy/step_generator.go calculateDependentReplacements).
        provider = libvirt.Provider(
            f"{name}-provider",
            uri=settings.libvirt.uri,
            opts=pulumi.ResourceOptions(
                parent=self, replace_on_changes=["uri"], delete_before_replace=True
            ),
        )
        # Every libvirt resource below inherits this provider through its parent chain.
        child = pulumi.ResourceOptions(parent=self, providers={"libvirt": provider})
        node_network = NodeNetwork(
            f"{name}-network", settings.libvirt, settings.network, opts=child
        )
        store = ImageStore(
            f"{name}-images", settings.libvirt, settings.platform.base_volume, opts=child
        )
        self.hosts = []
        for node in settings.nodes:
            vm = NodeVm(
                f"{name}-{node.name}",
                node,
                settings.network,
                node_network,
                store,
                settings.ssh.user,
                settings.ssh.public_key,
                settings.libvirt.domain_name(node.name),
                settings.platform.pin_host_key,
                opts=child,
            )
            self.hosts.append(
                host_for(
                    node,
                    settings.ssh,
                    host_key=vm.host_public_key,
                    machine=vm.domain,
                    disk=vm.disk,
                )
            )
        self.register_outputs({"nodes": {h.name: str(h.address) for h in self.hosts}})
