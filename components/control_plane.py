"""The control plane: kubeadm init on the (first) master and the admin kubeconfig read back."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import yaml
from pulumi_command import remote

from components import scripts
from components.hosts import Host
from components.node import NodePreparation
from components.settings import Settings

# Where a master's static Pod for the virtual address lives, and the kubeconfigs it reads the API
# with (kubeadm's paths). During the first init only super-admin.conf has rights: admin.conf's
# group is bound to cluster-admin when init is done (kubeadm 1.29, kubernetes/kubernetes#121305;
# kube-vip/kube-vip#684), and only the init node has super-admin.conf.
KUBE_VIP_MANIFEST = "/etc/kubernetes/manifests/kube-vip.yaml"
SUPER_ADMIN_CONF = "/etc/kubernetes/super-admin.conf"
ADMIN_CONF = "/etc/kubernetes/admin.conf"


def pin_server(kubeconfig: str, server: str) -> str:
    """Point every cluster entry at the configured master address."""
    document = yaml.safe_load(kubeconfig)
    for cluster in document.get("clusters") or []:
        cluster["cluster"]["server"] = server
    return yaml.safe_dump(document, sort_keys=False)


class ControlPlane(pulumi.ComponentResource):
    """kubeadm init with the track's flags or configuration file, guarded so it never runs twice
    on one host.

    kubeadm init never runs again in place: a new master machine or a changed version, CIDR,
    image repository or master address replaces the step (kubeadm reset first, then a fresh
    init), so the cluster identity changes and every add-on is made again on the new cluster.
    Any other change only checks that the control plane is still there.
    """

    init: remote.Command
    kubeconfig: pulumi.Output[str]
    """The admin kubeconfig, secret, its server the API's address: https://<controlPlaneEndpoint
    or the master's address>:6443."""
    endpoint: str

    def __init__(
        self,
        name: str,
        master: Host,
        preparation: NodePreparation,
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:bootstrap:ControlPlane", name, None, opts)
        k8s = settings.kubernetes
        spec = next(node for node in settings.nodes if node.name == master.name)
        self.endpoint = settings.api_endpoint
        init_configuration = settings.platform.init_configuration(spec, settings)
        pod = virtual_address_pod(settings)
        # What kubeadm init fixes for the cluster's life; a configuration file (the current
        # track's, with the cluster-wide KubeletConfiguration) is all of it.
        cluster_identity = [
            k8s.version,
            str(k8s.pod_network_cidr),
            str(k8s.service_cidr),
            k8s.image_repository,
            *([init_configuration] if init_configuration else []),
        ]
        self.init = master.run(
            f"{name}-init",
            self,
            create=scripts.render(
                "init-control-plane",
                NODE_NAME=master.name,
                IMAGE_REPOSITORY=k8s.image_repository,
                KUBERNETES_VERSION=k8s.version,
                INIT_FLAGS="\n".join(settings.platform.init_flags(spec, settings)),
                INIT_CONFIG=init_configuration,
                VIRTUAL_ADDRESS_POD=pod.path,
                VIRTUAL_ADDRESS_MANIFEST_INIT=pod.during_init,
                VIRTUAL_ADDRESS_MANIFEST=pod.manifest,
            ),
            update=scripts.render(
                "check-control-plane",
                NODE_NAME=master.name,
                VIRTUAL_ADDRESS_POD=pod.path,
                VIRTUAL_ADDRESS_MANIFEST=pod.manifest,
            ),
            delete=reset_script(master.name, settings, master=True),
            triggers=[preparation.command.id, *cluster_identity],
            options=pulumi.ResourceOptions(delete_before_replace=True),
        )
        on_this_cluster = [self.init.id]
        master.run(
            f"{name}-user-kubeconfig",
            self,
            create=scripts.render(
                "user-kubeconfig", NODE_NAME=master.name, SSH_USER=settings.ssh.user
            ),
            triggers=on_this_cluster,
        )
        read_kubeconfig = master.run(
            f"{name}-kubeconfig",
            self,
            create=scripts.render("print-kubeconfig", NODE_NAME=master.name),
            triggers=on_this_cluster,
            options=pulumi.ResourceOptions(additional_secret_outputs=["stdout"]),
            logging=remote.Logging.NONE,
        )
        server = f"https://{self.endpoint}"
        self.kubeconfig = pulumi.Output.secret(
            read_kubeconfig.stdout.apply(lambda text: pin_server(text, server))
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "endpoint": self.endpoint})


@dataclass(frozen=True)
class VirtualAddressPod:
    """The static Pod that holds the API's virtual address on every master, as files: "" for
    all three without a virtual address."""

    path: str = ""
    during_init: str = ""
    """While the first master initialises: reads the API with super-admin.conf."""
    manifest: str = ""
    """From then on, and on every other master: admin.conf."""


def virtual_address_pod(settings: Settings) -> VirtualAddressPod:
    if settings.control_plane_endpoint is None:
        return VirtualAddressPod()
    platform = settings.platform
    return VirtualAddressPod(
        path=KUBE_VIP_MANIFEST,
        during_init=platform.virtual_address_manifest(settings, SUPER_ADMIN_CONF),
        manifest=platform.virtual_address_manifest(settings, ADMIN_CONF),
    )


def reset_script(node_name: str, settings: Settings, master: bool = False) -> str:
    """kubeadm reset and what it leaves; on a master, kube-vip stopped first and the virtual
    address taken off the interface if kube-vip left it."""
    pod = virtual_address_pod(settings) if master else VirtualAddressPod()
    return scripts.render(
        "reset-node",
        NODE_NAME=node_name,
        POD_NETWORK_CIDR=str(settings.kubernetes.pod_network_cidr),
        SSH_USER=settings.ssh.user,
        VIRTUAL_ADDRESS_POD=pod.path,
        VIRTUAL_ADDRESS=str(settings.control_plane_endpoint or "") if master else "",
        INTERFACE=settings.network.interface,
    )
