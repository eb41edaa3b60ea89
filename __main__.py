"""kubeadm-libvirt: settings -> hosts -> exports. Wiring only; see README for the picture."""

import pulumi

from components.hosts import existing_hosts
from components.libvirt_hosts import LibvirtHosts
from components.settings import HostSource, load_settings

settings = load_settings()

if settings.host_source is HostSource.LIBVIRT:
    hosts = LibvirtHosts("cluster", settings).hosts
else:
    hosts = existing_hosts(settings)

pulumi.export("nodes", {host.name: str(host.address) for host in hosts})
