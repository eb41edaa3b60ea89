"""The network the VMs attach to: a NAT network this stack owns, or an existing host bridge."""

from __future__ import annotations

import pulumi
import pulumi_libvirt as libvirt

from components.settings import NetworkSettings


class NodeNetwork(pulumi.ComponentResource):
    """A libvirt NAT network for the node CIDR (gateway .1, DNS on, DHCP off: addresses are
    static, from cloud-init), or, when a bridge is configured, no resource at all: the VMs join
    that bridge directly.
    """

    network_id: pulumi.Output[str] | None
    bridge: str | None

    def __init__(
        self,
        name: str,
        network_name: str,
        bridge: str | None,
        network: NetworkSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:vm:NodeNetwork", name, None, opts)
        self.bridge = bridge
        self.network_id = None
        if self.bridge is None:
            nat = libvirt.Network(
                f"{name}-nat",
                name=network_name,
                mode="nat",
                addresses=[str(network.node_network)],
                dhcp=libvirt.NetworkDhcpArgs(enabled=False),
                dns=libvirt.NetworkDnsArgs(enabled=True, local_only=False),
                autostart=True,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            self.network_id = nat.id
        self.register_outputs({"network_id": self.network_id, "bridge": self.bridge})

    def interface(self, mac: str, hostname: str) -> libvirt.DomainNetworkInterfaceArgs:
        """The NIC of a VM on this network. No wait_for_lease: there is no DHCP to wait for."""
        return libvirt.DomainNetworkInterfaceArgs(
            network_id=self.network_id,
            bridge=self.bridge,
            mac=mac,
            hostname=hostname,
            wait_for_lease=False,
        )
