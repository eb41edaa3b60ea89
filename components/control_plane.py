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
        spec = next(node for node in settings.nodes if node.name == master.name)
        self.endpoint = f"{master.address}:{API_SERVER_PORT}"
        init_configuration = settings.platform.init_configuration(spec, settings)
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
            ),
            update=scripts.render("check-control-plane", NODE_NAME=master.name),
            delete=reset_script(master.name, settings),
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


def reset_script(node_name: str, settings: Settings) -> str:
    return scripts.render(
        "reset-node",
        NODE_NAME=node_name,
        POD_NETWORK_CIDR=str(settings.kubernetes.pod_network_cidr),
        SSH_USER=settings.ssh.user,
    )
