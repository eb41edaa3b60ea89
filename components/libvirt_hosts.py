"""The libvirt source of hosts: per hypervisor a provider, a network and an image store, and one
VM per node placed there; nodes marked existing come as they are."""

from __future__ import annotations

import pulumi
import pulumi_libvirt as libvirt

from components.hosts import Host, existing_hosts, host_for
from components.network import NodeNetwork
from components.settings import Hypervisor, NodeSpec, Settings
from components.storage import ImageStore
from components.vm import NodeVm


class LibvirtHosts(pulumi.ComponentResource):
    """Creates the node VMs, each on its hypervisor through that hypervisor's own provider, and
    hands them on (with the existing machines of the stack) as Hosts, in the order of `nodes`.

    libvirtUri's provider, network and image store keep the names they always had
    (<name>-provider, ...); a named hypervisor's carry its name after a dot
    (<name>.<hypervisor>-provider), which no node or hypervisor name holds. A node's VM is
    <name>-<node> wherever it runs, so moving it is a replacement, delete-first like every VM
    replacement: the old VM is gone before the new one takes its address. The replacement must
    come from the VM's own inputs: the engine keeps a resource whose provider reference changes
    when the new provider's DiffConfig asks for no replacement (pulumi/pulumi@v3.259.0 and
    1b5949891b: pkg/resource/deploy/step_generator.go providerChanged), and the libvirt provider
    never asks (pulumi-terraform-bridge DiffConfig, no ForcesProviderReplace). So a VM on a
    named hypervisor carries that name in its disk's and seed's names (components/vm.py).
    """

    hosts: list[Host]

    def __init__(
        self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kubeadm-libvirt:vm:LibvirtHosts", name, None, opts)
        made: dict[str, Host] = {}
        for hypervisor, nodes in settings.placement().items():
            made.update(self._on(name, hypervisor, nodes, settings))
        existing = [node for node in settings.nodes if node.existing]
        made.update({host.name: host for host in existing_hosts(settings, existing)})
        self.hosts = [made[node.name] for node in settings.nodes]
        self.register_outputs({"nodes": {h.name: str(h.address) for h in self.hosts}})

    def _on(
        self, name: str, hypervisor: Hypervisor, nodes: tuple[NodeSpec, ...], settings: Settings
    ) -> dict[str, Host]:
        """The VMs of one hypervisor, with its provider, network and image store."""
        prefix = name if hypervisor.name is None else f"{name}.{hypervisor.name}"
        # A new uri is a new hypervisor: every libvirt resource must be made again there.
        # The bridged provider reports a uri change as an update only (its DiffConfig replaces
        # for ForcesProviderReplace fields, and uri has none: pulumi/pulumi-terraform-bridge@
        # v3.99.0:pkg/tfbridge/provider.go, pulumi/pulumi-libvirt@v0.5.4:provider/resources.go).
        # replace_on_changes turns it into a replacement, and delete_before_replace makes the
        # engine replace every resource of a replaced provider (pulumi/pulumi@v3.259.0 and
        # 1b5949891b: pkg/resource/deploy/step_generator.go calculateDependentReplacements).
        provider = libvirt.Provider(
            f"{prefix}-provider",
            uri=hypervisor.uri,
            opts=pulumi.ResourceOptions(
                parent=self, replace_on_changes=["uri"], delete_before_replace=True
            ),
        )
        # Every libvirt resource below inherits this provider through its parent chain.
        child = pulumi.ResourceOptions(parent=self, providers={"libvirt": provider})
        node_network = NodeNetwork(
            f"{prefix}-network",
            settings.libvirt.network_name,
            hypervisor.bridge,
            settings.network,
            opts=child,
        )
        store = ImageStore(
            f"{prefix}-images",
            settings.libvirt.pool_name,
            hypervisor.pool_path,
            settings.libvirt.base_image,
            settings.platform.base_volume,
            opts=child,
        )
        hosts = {}
        for node in nodes:
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
                hypervisor.name,
                opts=child,
            )
            hosts[node.name] = host_for(
                node, settings.ssh, host_key=vm.host_public_key, machine=vm.domain, disk=vm.disk
            )
        return hosts
