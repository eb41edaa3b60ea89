"""Host preparation: everything a host needs before kubeadm init or join, on its track's
platform (the repositories, the container runtime and the Kubernetes packages are the
platform's; the steps are the same)."""

from __future__ import annotations

import base64

import pulumi
from pulumi_command import remote

from components import scripts
from components.hosts import Host
from components.settings import Settings

# A first boot's cloud-init (growpart, keys, network) takes a minute or two; 10 is plenty.
CLOUD_INIT_TIMEOUT_SECONDS = 600


def hosts_entries(hosts: list[Host]) -> str:
    return "\n".join(f"{host.address} {host.name}" for host in hosts)


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def prepare_script(host: Host, hosts: list[Host], settings: Settings) -> str:
    """prepare-node.sh, the platform's runtime script and install-kubernetes.sh, as one."""
    platform = settings.platform
    return scripts.render(
        "prepare-node",
        platform.runtime_script,
        "install-kubernetes",
        NODE_NAME=host.name,
        CLOUD_INIT_TIMEOUT_SECONDS=CLOUD_INIT_TIMEOUT_SECONDS,
        HOSTS_ENTRIES=hosts_entries(hosts),
        KEEP_SWAP="true" if settings.kubernetes.keep_swap else "false",
        MODULES_CONF="\n".join(platform.modules),
        SYSCTL_CONF="\n".join(platform.sysctls),
        # one "<path> <mode> <systemctl verb or -> <unit or -> <base64 content>" per line
        HOST_FILES="\n".join(
            f"{f.path} {f.mode} {f.reload or '- -'} {_encoded(f.content)}"
            for f in platform.host_files(settings)
        ),
        # one "<file name> <base64 content>" per line
        REPO_FILES="\n".join(
            f"{name} {_encoded(text)}" for name, text in platform.repositories(settings).items()
        ),
        RPM_KEYS="\n".join(platform.rpm_keys(settings)),
        KUBERNETES_PACKAGES=" ".join(platform.kubernetes_packages(settings)),
        KUBELET_SYSCONFIG=platform.kubelet_sysconfig(settings),
        **platform.runtime_values(settings),
    )


class NodePreparation(pulumi.ComponentResource):
    """Prepares one host; runs on every host in parallel and waits for nothing but its machine.

    A new machine prepares again from the start; a changed setting re-runs the (idempotent)
    script in place.
    """

    command: remote.Command

    def __init__(
        self,
        name: str,
        host: Host,
        hosts: list[Host],
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:bootstrap:NodePreparation", name, None, opts)
        self.command = host.run(f"{name}-prepare", self, prepare_script(host, hosts, settings))
        self.register_outputs({"prepared": self.command.id})
