"""The tutorial's track: CentOS 7.9 (past its end of life, on the vault), Docker 18.06 with
daemon.json, kubelet/kubeadm/kubectl 1.13 and kubernetes-cni 0.6.0 from aliyun's frozen el7 tree,
`kubeadm init` with the tutorial's flags, flannel v0.11.0 in kube-system.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import yaml

from components.files import ini_text
from components.platforms import (
    KUBERNETES_SYSCTLS,
    MANIFESTS,
    Flannel,
    JoinCommand,
    Platform,
)

if TYPE_CHECKING:
    from components.settings import NodeSpec, Settings

# Run on every boot before sshd-keygen and sshd (canonical/cloud-init@19.4:
# systemd/cloud-init.service.tmpl is Before= both): sshd loads only the ED25519 host key, and
# sshd-keygen adds no RSA/ECDSA keys. el7's sshd_config has HostKey lines for rsa, ecdsa and
# ed25519, and /usr/sbin/sshd-keygen makes every missing type unless /etc/sysconfig/sshd sets
# AUTOCREATE_SERVER_KEYS=NO (openssh-7.4p1-23.el7_9 as imported in xcp-ng-rpms/openssh@3347de5:
# SOURCES/openssh-6.6p1-redhat.patch, SOURCES/sshd-keygen). Idempotent; tested in the sandbox.
PIN_HOST_KEY = (
    "sed -i -E 's@^(HostKey[[:space:]]+/etc/ssh/ssh_host_(rsa|dsa|ecdsa)_key)[[:space:]]*$@#\\1@'"
    " /etc/ssh/sshd_config",
    "grep -q '^HostKey[[:space:]]\\+/etc/ssh/ssh_host_ed25519_key' /etc/ssh/sshd_config"
    " || echo 'HostKey /etc/ssh/ssh_host_ed25519_key' >> /etc/ssh/sshd_config",
    "grep -q '^AUTOCREATE_SERVER_KEYS=' /etc/sysconfig/sshd"
    " || echo 'AUTOCREATE_SERVER_KEYS=NO' >> /etc/sysconfig/sshd",
)

# System accounts of the CentOS 7 GenericCloud image (setup-2.8.71's /etc/passwd, and the users
# its packages add; taken from listings of that image's /etc/passwd, not from the packages):
# cloud-init would give such an account a login shell's key and passwordless sudo.
SYSTEM_ACCOUNTS = frozenset(
    {
        "root", "bin", "daemon", "adm", "lp", "sync", "shutdown", "halt", "mail", "operator",
        "games", "ftp", "nobody", "systemd-network", "dbus", "polkitd", "sshd", "postfix",
        "chrony", "rpc", "rpcuser", "nfsnobody", "tss", "libstoragemgmt", "systemd-bus-proxy",
    }
)  # fmt: skip


class CentOS7(Platform):
    def repositories(self, settings: Settings) -> dict[str, str]:
        packages = settings.packages
        vault = {}
        for repo, title in (("base", "Base"), ("updates", "Updates"), ("extras", "Extras")):
            directory = "os" if repo == "base" else repo
            vault[repo] = {
                "name": f"CentOS-7.9.2009 - {title}",
                "baseurl": [
                    f"{url.rstrip('/')}/{directory}/$basearch/"
                    for url in packages.centos_vault_base_urls
                ],
                "gpgcheck": "1",
                "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7",
                "enabled": "1",
            }
        return {
            # mirrorlist.centos.org is gone since the end of life: the vault, pinned to 7.9.2009.
            "CentOS-Base.repo": ini_text(vault),
            "docker-ce.repo": _docker_ce_repo(settings),
            # gpgcheck off: this repo's metadata signatures fail chronically on CentOS 7.
            # exclude: a plain `yum update` must never move the pinned packages.
            "kubernetes.repo": ini_text(
                {
                    "kubernetes": {
                        "name": "Kubernetes",
                        "baseurl": list(packages.kubernetes_repo_urls),
                        "enabled": "1",
                        "gpgcheck": "0",
                        "repo_gpgcheck": "0",
                        "exclude": "kubelet kubeadm kubectl kubernetes-cni cri-tools",
                    }
                }
            ),
        }

    def kubernetes_packages(self, settings: Settings) -> tuple[str, ...]:
        # The 1.13.1 kubelet RPM requires kubernetes-cni = 0.6.0 exactly, and kubeadm takes any
        # kubelet: every package is named with its version and release.
        version = settings.kubernetes.package_version
        return (
            f"kubelet-{version}-0",
            f"kubeadm-{version}-0",
            f"kubectl-{version}-0",
            f"kubernetes-cni-{settings.packages.kubernetes_cni_version}-0",
        )

    def runtime_values(self, settings: Settings) -> dict[str, str]:
        return {
            "DOCKER_PACKAGE": f"docker-ce-{settings.packages.docker_version}",
            "DAEMON_JSON": daemon_json(settings),
            "INSECURE_REGISTRY": settings.registry.endpoint,
        }

    def kubelet_sysconfig(self, settings: Settings) -> str:
        extra = "--fail-swap-on=false" if settings.kubernetes.keep_swap else ""
        return f"KUBELET_EXTRA_ARGS={extra}"

    def init_flags(self, master: NodeSpec, settings: Settings) -> tuple[str, ...]:
        """The tutorial's four flags, the service CIDR and the node's name."""
        k8s = settings.kubernetes
        return (
            f"--apiserver-advertise-address={master.address}",
            "--image-repository",
            k8s.image_repository,
            "--kubernetes-version",
            k8s.version,
            f"--pod-network-cidr={k8s.pod_network_cidr}",
            f"--service-cidr={k8s.service_cidr}",
            "--node-name",
            master.name,
            *self.join_flags(settings),
        )

    def join_flags(self, settings: Settings) -> tuple[str, ...]:
        # kubeadm 1.13 takes --ignore-preflight-errors next to --config (JoinConfiguration
        # v1beta1 has no field for it): kubernetes/kubernetes@v1.13.1:cmd/kubeadm/app/apis/
        # kubeadm/validation/validation.go ValidateMixedArguments.
        return ("--ignore-preflight-errors=Swap",) if settings.kubernetes.keep_swap else ()

    def join_configuration(
        self, join: JoinCommand, node: NodeSpec, endpoint: str, settings: Settings
    ) -> str:
        """kubeadm.k8s.io/v1beta1 JoinConfiguration: token discovery pinned to the CA hash, and
        this node's name (kubernetes/kubernetes@v1.13.1:
        cmd/kubeadm/app/apis/kubeadm/v1beta1/types.go JoinConfiguration)."""
        document = {
            "apiVersion": "kubeadm.k8s.io/v1beta1",
            "kind": "JoinConfiguration",
            "discovery": {
                "bootstrapToken": {
                    "apiServerEndpoint": endpoint,
                    "token": join.token,
                    "caCertHashes": [join.ca_cert_hash],
                }
            },
            "nodeRegistration": {"name": node.name},
        }
        return yaml.safe_dump(document, sort_keys=False)

    def flannel_images(self, settings: Settings) -> dict[str, str]:
        return {"install-cni": settings.flannel_image, "kube-flannel": settings.flannel_image}

    def registry_address_values(self, settings: Settings) -> dict[str, str]:
        # CentOS 7's network-scripts leave an added address alone: a systemd unit adds it at
        # every boot.
        return {"UNIT_FILE": address_unit(settings)}


def address_unit(settings: Settings) -> str:
    """systemd unit that puts the registry address on the master's interface at boot."""
    cidr = f"{settings.registry.address}/{settings.network.node_network.prefixlen}"
    interface = settings.network.interface
    return ini_text(
        {
            "Unit": {
                "Description": f"Registry address {cidr} on {interface} (kubeadm-libvirt)",
                "After": "network-online.target",
                "Wants": "network-online.target",
            },
            "Service": {
                "Type": "oneshot",
                "RemainAfterExit": "yes",
                "ExecStart": f"/sbin/ip address replace {cidr} dev {interface}",
                "ExecStop": f"/sbin/ip address del {cidr} dev {interface}",
            },
            "Install": {"WantedBy": "multi-user.target"},
        }
    )


def _docker_ce_repo(settings: Settings) -> str:
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


PLATFORM = CentOS7(
    track="tutorial",
    title="CentOS 7.9, Docker 18.06, Kubernetes 1.13 (the tutorial)",
    defaults={
        "baseImage": (
            "https://cloud.centos.org/centos/7/images/CentOS-7-x86_64-GenericCloud-2009.qcow2"
        ),
        "sshUser": "centos",
        "centosVaultBaseUrls": ("https://vault.centos.org/7.9.2009",),
        "dockerCeRepoUrl": "https://download.docker.com/linux/centos/7/$basearch/stable",
        "dockerCeGpgKey": "https://download.docker.com/linux/centos/gpg",
        "dockerVersion": "18.06.3.ce-3.el7",
        "kubernetesRepoUrls": (
            "https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-x86_64/",
        ),
        "kubernetesVersion": "v1.13.1",
        "kubernetesCniVersion": "0.6.0",
        "imageRepository": "registry.k8s.io",
        "flannelImage": "quay.io/coreos/flannel:v0.11.0-amd64",
    },
    own_keys=frozenset({"centosVaultBaseUrls", "dockerVersion", "kubernetesCniVersion"}),
    max_masters=1,
    max_masters_reason=(
        "the tutorial track builds one master: kubeadm 1.13's control-plane join is "
        "experimental (--experimental-control-plane) and needs the certificates copied by hand "
        "(--certificate-key came with 1.14); the current track builds three"
    ),
    kubernetes_versions=r"v1\.13\.[0-9]{1,3}",
    kubernetes_versions_text=(
        "v1.13.PATCH (the manifests, packages and flags of this track are Kubernetes 1.13's)"
    ),
    base_volume="centos7-genericcloud-base.qcow2",
    min_disk_gib=8,
    system_accounts=SYSTEM_ACCOUNTS,
    pin_host_key=PIN_HOST_KEY,
    modules=("br_netfilter",),
    sysctls=KUBERNETES_SYSCTLS,
    runtime_script="runtime-docker",
    # 1.13 has no server-side apply (alpha in 1.14, GA in 1.22).
    server_side_apply=False,
    control_plane_label="node-role.kubernetes.io/master",
    drain_flags=("--ignore-daemonsets", "--delete-local-data", "--force", "--timeout=120s"),
    registry_address_scripts=("add-registry-address", "remove-registry-address"),
    flannel=Flannel(manifest=MANIFESTS / "kube-flannel.yaml", namespace="kube-system"),
)
