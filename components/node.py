"""Host preparation: everything a CentOS 7 host needs before kubeadm init or join."""

from __future__ import annotations

import json

import pulumi
from pulumi_command import remote

from components import scripts
from components.files import ini_text
from components.hosts import Host
from components.settings import Settings

# A first boot's cloud-init (growpart, keys, network) takes a minute or two; 10 is plenty.
CLOUD_INIT_TIMEOUT_SECONDS = 600


def centos_base_repo(settings: Settings) -> str:
    """CentOS-Base.repo pinned to the 7.9.2009 vault: mirrorlist.centos.org is gone since EOL."""
    sections = {}
    for repo, title in (("base", "Base"), ("updates", "Updates"), ("extras", "Extras")):
        directory = "os" if repo == "base" else repo
        sections[repo] = {
            "name": f"CentOS-7.9.2009 - {title}",
            "baseurl": [
                f"{url.rstrip('/')}/{directory}/$basearch/"
                for url in settings.packages.centos_vault_base_urls
            ],
            "gpgcheck": "1",
            "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7",
            "enabled": "1",
        }
    return ini_text(sections)


def docker_ce_repo(settings: Settings) -> str:
    return ini_text(
        {
            "docker-ce-stable": {
                "name": "Docker CE Stable - $basearch",
                "baseurl": settings.packages.docker_ce_repo_url,
                "enabled": "1",
                "gpgcheck": "1",
                "gpgkey": settings.packages.docker_ce_gpg_key,
            }
        }
    )


def kubernetes_repo(settings: Settings) -> str:
    # gpgcheck off: this repo's metadata signatures fail chronically on CentOS 7.
    # exclude: a plain `yum update` must never move the pinned packages.
    return ini_text(
        {
            "kubernetes": {
                "name": "Kubernetes",
                "baseurl": list(settings.packages.kubernetes_repo_urls),
                "enabled": "1",
                "gpgcheck": "0",
                "repo_gpgcheck": "0",
                "exclude": "kubelet kubeadm kubectl kubernetes-cni cri-tools",
            }
        }
    )


def daemon_json(settings: Settings) -> str:
    """dockerd's config: the keys are plural; the singular forms are silently ignored."""
    config = {
        "exec-opts": ["native.cgroupdriver=systemd"],
        "insecure-registries": [settings.registry.endpoint],
        "log-driver": "json-file",
        "log-opts": {"max-size": "100m"},
        "registry-mirrors": list(settings.packages.registry_mirrors),
        "storage-driver": "overlay2",
    }
    return json.dumps(config, indent=2, sort_keys=True)


def kubernetes_packages(settings: Settings) -> str:
    version = settings.kubernetes.package_version
    return " ".join(
        [
            f"kubelet-{version}-0",
            f"kubeadm-{version}-0",
            f"kubectl-{version}-0",
            f"kubernetes-cni-{settings.packages.kubernetes_cni_version}-0",
        ]
    )


def kubelet_sysconfig(settings: Settings) -> str:
    extra = "--fail-swap-on=false" if settings.kubernetes.keep_swap else ""
    return f"KUBELET_EXTRA_ARGS={extra}"


def hosts_entries(hosts: list[Host]) -> str:
    return "\n".join(f"{host.address} {host.name}" for host in hosts)


def prepare_script(host: Host, hosts: list[Host], settings: Settings) -> str:
    return scripts.render(
        "prepare-node",
        NODE_NAME=host.name,
        CLOUD_INIT_TIMEOUT_SECONDS=CLOUD_INIT_TIMEOUT_SECONDS,
        HOSTS_ENTRIES=hosts_entries(hosts),
        KEEP_SWAP="true" if settings.kubernetes.keep_swap else "false",
        MODULES_CONF="br_netfilter",
        SYSCTL_CONF="\n".join(
            [
                "net.bridge.bridge-nf-call-iptables = 1",
                "net.bridge.bridge-nf-call-ip6tables = 1",
                "net.ipv4.ip_forward = 1",
            ]
        ),
        CENTOS_BASE_REPO=centos_base_repo(settings),
        DOCKER_CE_REPO=docker_ce_repo(settings),
        KUBERNETES_REPO=kubernetes_repo(settings),
        DOCKER_PACKAGE=f"docker-ce-{settings.packages.docker_version}",
        DAEMON_JSON=daemon_json(settings),
        INSECURE_REGISTRY=settings.registry.endpoint,
        KUBERNETES_PACKAGES=kubernetes_packages(settings),
        KUBELET_SYSCONFIG=kubelet_sysconfig(settings),
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
