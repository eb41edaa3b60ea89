"""The control plane: kubeadm init on the master and the admin kubeconfig read back."""

from __future__ import annotations

import pulumi
import yaml
from pulumi_command import remote

from components import scripts
from components.hosts import Host
from components.node import NodePreparation
from components.settings import Settings

API_SERVER_PORT = 6443


def pin_server(kubeconfig: str, server: str) -> str:
    """Point every cluster entry at the configured master address."""
    document = yaml.safe_load(kubeconfig)
    for cluster in document.get("clusters") or []:
        cluster["cluster"]["server"] = server
    return yaml.safe_dump(document, sort_keys=False)


def ignore_preflight_errors(settings: Settings) -> str:
    return "Swap" if settings.kubernetes.keep_swap else ""


class ControlPlane(pulumi.ComponentResource):
    """kubeadm init with the tutorial's flags, guarded so it never runs twice on one host.

    Changing the version, a CIDR, the image repository or the master address replaces the init:
    kubeadm reset first (delete_before_replace), then a fresh init.
    """

    init: remote.Command
    kubeconfig: pulumi.Output[str]
    """The admin kubeconfig, secret, its server https://<master address>:6443."""
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
        self.endpoint = f"{master.address}:{API_SERVER_PORT}"
        cluster_identity = [
            k8s.version,
            str(k8s.pod_network_cidr),
            str(k8s.service_cidr),
            k8s.image_repository,
            str(master.address),
        ]
        self.init = master.run(
            f"{name}-init",
            self,
            create=scripts.render(
                "init-control-plane",
                NODE_NAME=master.name,
                ADVERTISE_ADDRESS=str(master.address),
                IMAGE_REPOSITORY=k8s.image_repository,
                KUBERNETES_VERSION=k8s.version,
                POD_NETWORK_CIDR=str(k8s.pod_network_cidr),
                SERVICE_CIDR=str(k8s.service_cidr),
                SSH_USER=settings.ssh.user,
                IGNORE_PREFLIGHT_ERRORS=ignore_preflight_errors(settings),
            ),
            delete=reset_script(master.name, settings),
            options=pulumi.ResourceOptions(delete_before_replace=True),
            triggers=[preparation.command.id, *cluster_identity],
        )
        read_kubeconfig = master.run(
            f"{name}-kubeconfig",
            self,
            create=scripts.render("print-kubeconfig", NODE_NAME=master.name),
            options=pulumi.ResourceOptions(additional_secret_outputs=["stdout"]),
            triggers=[self.init.id],
            logging=remote.Logging.NONE,
        )
        server = f"https://{self.endpoint}"
        self.kubeconfig = pulumi.Output.secret(
            read_kubeconfig.stdout.apply(lambda text: pin_server(text, server))
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "endpoint": self.endpoint})


def reset_script(node_name: str, settings: Settings) -> str:
    return scripts.render(
        "reset-node",
        NODE_NAME=node_name,
        POD_NETWORK_CIDR=str(settings.kubernetes.pod_network_cidr),
        SSH_USER=settings.ssh.user,
    )
