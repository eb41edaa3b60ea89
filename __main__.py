"""kubeadm-libvirt: settings -> hosts -> node preparation -> control plane (the first master's
init, then the other masters one at a time) -> workers -> Kubernetes provider -> flannel ->
registry -> application -> smoke check -> exports.

Wiring only; every decision lives in components/. See the README for the picture.
"""

import pulumi

from components.app import SpringBootApp
from components.control_plane import ControlPlane
from components.control_plane_member import ControlPlaneMember
from components.flannel import Flannel
from components.hosts import existing_hosts
from components.kube_provider import cluster_provider
from components.libvirt_hosts import LibvirtHosts
from components.node import NodePreparation
from components.registry import PrivateRegistry
from components.settings import HostSource, load_settings
from components.smoke import SmokeCheck
from components.worker import WorkerNode

settings = load_settings()

if settings.host_source is HostSource.LIBVIRT:
    hosts = LibvirtHosts("cluster", settings).hosts
    pulumi.export("libvirtUri", settings.libvirt.uri)
    pulumi.export("domains", {n.name: settings.libvirt.domain_name(n.name) for n in settings.vms})
    pulumi.export(
        "hypervisors",
        {n.name: h.uri for h, placed in settings.placement().items() for n in placed},
    )
else:
    hosts = existing_hosts(settings)
master, *other_masters = [host for host in hosts if host.is_master]
workers = [host for host in hosts if not host.is_master]

prepared = {
    host.name: NodePreparation(f"node-{host.name}", host, hosts, settings) for host in hosts
}
control_plane = ControlPlane("control-plane", master, prepared[master.name], settings)
members: list[ControlPlaneMember] = []
for host in other_masters:
    after = [members[-1].registered] if members else None
    members.append(
        ControlPlaneMember(
            f"control-plane-{host.name}",
            host,
            master,
            control_plane,
            prepared[host.name],
            settings,
            after=after,
        )
    )
joined = [
    WorkerNode(f"worker-{w.name}", w, master, control_plane, prepared[w.name], settings)
    for w in workers
]

provider = cluster_provider(
    "kubernetes",
    control_plane,
    ready=[control_plane, *members, *joined],
    server_side_apply=settings.platform.server_side_apply,
)
on_cluster = pulumi.ResourceOptions(provider=provider)
flannel = Flannel(
    "flannel",
    settings.platform.flannel.manifest,
    settings.kubernetes.pod_network_cidr,
    settings.network.interface,
    settings.platform.flannel_images(settings),
    opts=on_cluster,
)
registry = PrivateRegistry("registry", master, settings, flannel.resources, opts=on_cluster)
app = SpringBootApp("app", settings.app, registry, str(master.address), opts=on_cluster)
SmokeCheck("smoke", hosts, control_plane.init.id, settings, after=[*registry.ready, *app.resources])

pulumi.export("kubeconfig", control_plane.kubeconfig)
pulumi.export("masterAddress", str(master.address))
pulumi.export("masters", [host.name for host in (master, *other_masters)])
pulumi.export("apiServer", f"https://{control_plane.endpoint}")
pulumi.export("nodes", {host.name: str(host.address) for host in hosts})
pulumi.export("sshUser", settings.ssh.user)
pulumi.export("hostKeys", {h.name: h.connection.host_key for h in hosts if h.connection.host_key})
pulumi.export("registryEndpoint", registry.endpoint)
pulumi.export("appImage", app.image)
pulumi.export("appUrl", app.url)
