"""The current track: AlmaLinux 9 (Rocky 9 by its image and user), containerd 2 from Docker's
EL9 repository with an explicit config.toml, Kubernetes 1.36 from pkgs.k8s.io driven by
kubeadm.k8s.io/v1beta4 configuration files, flannel v0.28.9 in its own namespace.

Facts, each read at its source (the README's "Tested against" lists what could not be):
- containerd/containerd@v2.3.4: 2.3 is the long-term line (supported until 2028-04-30; 2.2
  ended 2026-11-06: RELEASES.md). Config version 3 and its CRI plugin ids (docs/cri/config.md,
  as at v2.2.7); `containerd config dump` reads the file, not the daemon
  (cmd/containerd/command/config.go), while `crictl info` shows the CRI's running config
  (internal/cri/server/status.go), so that is how a stale daemon is told. SystemdCgroup
  defaults to false (internal/cri/config/config_unix.go). hosts.toml per registry under
  config_path, plain HTTP by an http:// server, no skip_verify on it (or containerd tries
  HTTPS first: core/remotes/docker/config/hosts.go), read on every pull, so no restart
  (docs/hosts.md).
- docker/containerd-packaging@2161c611:common/containerd.toml: Docker's containerd.io ships
  `disabled_plugins = ["cri"]` as config(noreplace): the file must be written whole.
- kubernetes-sigs/cri-tools@v1.36.0:pkg/common/file.go: /etc/crictl.yaml's keys.
- kubernetes/kubernetes (kubeadm v1beta4 types.go; the allow-list of flags beside --config in
  validation.go isAllowedFlag, which no longer has --cri-socket): every value in the files.
- kubernetes-sigs/kubespray@46dbdd39:roles/kubespray_defaults/vars/main/main.yml: kubeadm
  1.36 expects pause 3.10.2 (containerd@v2.3.4's own default too).
- kubernetes/release@f618b2a3:cmd/krel/templates/latest: kubelet >= 1.28 requires
  kubernetes-cni; cri-tools must be asked for.
- NetworkManager/NetworkManager@1.54.4: an address added outside NM goes on a reapply or a link
  bounce (src/core/devices/nm-device.c), so the registry's address lives in the connection's
  profile; veth devices are unmanaged by its own udev rule, cni0 and flannel.1 are kept
  unmanaged here (the form rancher/rke2-docs@3d2a1fce:docs/known_issues.md gives for flannel).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import tomli_w
import yaml

from components.files import ini_text
from components.platforms import (
    KUBERNETES_SYSCTLS,
    MANIFESTS,
    Flannel,
    HostFile,
    JoinCommand,
    Platform,
)

if TYPE_CHECKING:
    from components.settings import NodeSpec, Settings

API_SERVER_PORT = 6443
CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
CERTS_DIRECTORY = "/etc/containerd/certs.d"
# The pause image kubeadm expects, by minor.
PAUSE_VERSION = {"v1.36": "3.10.2"}

# EL9's sshd_config has its HostKey lines commented and reads /etc/ssh/sshd_config.d/*.conf
# first; HostKey lines add up (openssh/openssh-portable@V_8_7_P1:servconf.c), so one drop-in
# naming the ED25519 key is the only key sshd loads. sshd-keygen@rsa/@ecdsa would make the
# missing keys again at every sshd start (sshd-keygen@.service: ConditionFileNotEmpty=|!), so
# they are masked. bootcmd runs on every boot before sshd: AlmaLinux's 24.4 package reverts
# upstream's single-process units, and its cloud-init.service is Before=sshd.service
# (canonical/cloud-init@24.4:systemd/cloud-init-network.service.tmpl, the same unit under its
# old name). The sshd-keygen@ units may still run once on the first boot, before cloud-init;
# cc_ssh then deletes their keys and writes the stack's ED25519 pair. Idempotent.
HOST_KEY_DROP_IN = "/etc/ssh/sshd_config.d/01-kubeadm-libvirt-host-key.conf"
PIN_HOST_KEY = (
    f"printf 'HostKey /etc/ssh/ssh_host_ed25519_key\\n' > {HOST_KEY_DROP_IN}",
    "systemctl mask sshd-keygen@rsa.service sshd-keygen@ecdsa.service",
)

# System accounts of the EL9 GenericCloud images (setup-2.13.7's /etc/passwd and the users their
# packages add, from listings of the images' /etc/passwd): refused as the VMs' user.
SYSTEM_ACCOUNTS = frozenset(
    {
        "root", "bin", "daemon", "adm", "lp", "sync", "shutdown", "halt", "mail", "operator",
        "games", "ftp", "nobody", "systemd-network", "systemd-oom", "systemd-resolve",
        "systemd-coredump", "dbus", "polkitd", "sshd", "chrony", "tss", "rpc", "rpcuser",
        "sssd", "unbound", "clevis", "libstoragemgmt", "setroubleshoot", "cockpit-ws",
        "cockpit-wsinstance", "rngd", "geoclue", "pipewire",
    }
)  # fmt: skip


class EL9(Platform):
    def repositories(self, settings: Settings) -> dict[str, str]:
        urls = kubernetes_repo_urls(settings)
        return {
            "docker-ce.repo": ini_text(
                {
                    "docker-ce-stable": {
                        "name": "Docker CE Stable - $basearch",
                        "baseurl": settings.packages.docker_ce_repo_url,
                        "enabled": "1",
                        "gpgcheck": "1",
                        "gpgkey": settings.packages.docker_ce_gpg_key,
                    }
                }
            ),
            # One repository per minor (pkgs.k8s.io); exclude keeps `dnf update` off the pinned
            # packages, which are installed with --disableexcludes=kubernetes.
            "kubernetes.repo": ini_text(
                {
                    "kubernetes": {
                        "name": "Kubernetes",
                        "baseurl": urls,
                        "enabled": "1",
                        "gpgcheck": "1",
                        "gpgkey": [f"{url}repodata/repomd.xml.key" for url in urls],
                        "exclude": "kubelet kubeadm kubectl cri-tools kubernetes-cni",
                    }
                }
            ),
        }

    def rpm_keys(self, settings: Settings) -> tuple[str, ...]:
        # The pkgs.k8s.io key is extended, not rotated: dnf keeps an expired copy it cached, so
        # it is imported again on every run (kubernetes/release#3818).
        return tuple(f"{url}repodata/repomd.xml.key" for url in kubernetes_repo_urls(settings))

    def kubernetes_packages(self, settings: Settings) -> tuple[str, ...]:
        # pkgs.k8s.io's release numbers are the build service's: pin the version only.
        version = settings.kubernetes.package_version
        return (f"kubelet-{version}", f"kubeadm-{version}", f"kubectl-{version}")

    def runtime_values(self, settings: Settings) -> dict[str, str]:
        return {
            # crictl is how the script asks containerd what it runs with; cri-tools' minor
            # follows Kubernetes' (kubernetes-sigs/cri-tools@v1.36.0:README.md, compatibility).
            "RUNTIME_PACKAGES": " ".join(
                (
                    f"containerd.io-{settings.packages.containerd_version}",
                    f"cri-tools-{settings.kubernetes.minor.removeprefix('v')}.0",
                )
            ),
            "CONTAINERD_CONFIG": containerd_config(settings),
            # one "<certs.d directory> <base64 of its hosts.toml>" per line
            "REGISTRY_HOSTS": "\n".join(
                f"{directory} {base64.b64encode(text.encode()).decode()}"
                for directory, text in registry_hosts(settings).items()
            ),
            "CRICTL_CONFIG": yaml.safe_dump(
                {"runtime-endpoint": CRI_SOCKET, "image-endpoint": CRI_SOCKET, "timeout": 10},
                sort_keys=False,
            ).strip(),
            "CERTS_DIRECTORY": CERTS_DIRECTORY,
        }

    def host_files(self, settings: Settings) -> tuple[HostFile, ...]:
        return (
            HostFile(
                "/etc/NetworkManager/conf.d/90-kubeadm-libvirt.conf",
                ini_text(
                    {
                        "keyfile": {
                            "unmanaged-devices": (
                                "interface-name:cni0;interface-name:flannel*;interface-name:veth*"
                            )
                        }
                    }
                ),
                reload="reload NetworkManager",
            ),
        )

    def kubelet_sysconfig(self, settings: Settings) -> str:
        # The kubelet's settings are in kubeadm's configuration files.
        return "KUBELET_EXTRA_ARGS="

    def init_configuration(self, master: NodeSpec, settings: Settings) -> str:
        k8s = settings.kubernetes
        kubelet: dict = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "systemd",
        }
        if k8s.keep_swap:
            kubelet.update(failSwapOn=False, memorySwap={"swapBehavior": "NoSwap"})
        documents = [
            {
                "apiVersion": "kubeadm.k8s.io/v1beta4",
                "kind": "InitConfiguration",
                "localAPIEndpoint": {
                    "advertiseAddress": str(master.address),
                    "bindPort": API_SERVER_PORT,
                },
                "nodeRegistration": _node_registration(master, settings),
            },
            {
                "apiVersion": "kubeadm.k8s.io/v1beta4",
                "kind": "ClusterConfiguration",
                **(
                    {"controlPlaneEndpoint": settings.api_endpoint}
                    if settings.control_plane_endpoint
                    else {}
                ),
                "kubernetesVersion": k8s.version,
                "imageRepository": k8s.image_repository,
                "networking": {
                    "podSubnet": str(k8s.pod_network_cidr),
                    "serviceSubnet": str(k8s.service_cidr),
                },
            },
            kubelet,
        ]
        return yaml.safe_dump_all(documents, sort_keys=False)

    def join_configuration(
        self, join: JoinCommand, node: NodeSpec, endpoint: str, settings: Settings
    ) -> str:
        document = {
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "JoinConfiguration",
            "discovery": {
                "bootstrapToken": {
                    "apiServerEndpoint": endpoint,
                    "token": join.token,
                    "caCertHashes": [join.ca_cert_hash],
                }
            },
            "nodeRegistration": _node_registration(node, settings),
        }
        if join.certificate_key:
            # A master: its own API server and etcd member, the certificates downloaded with
            # the key (v1beta4 JoinControlPlane; --certificate-key and --control-plane do not
            # mix with --config).
            document["controlPlane"] = {
                "localAPIEndpoint": {
                    "advertiseAddress": str(node.address),
                    "bindPort": API_SERVER_PORT,
                },
                "certificateKey": join.certificate_key,
            }
        return yaml.safe_dump(document, sort_keys=False)

    def virtual_address_manifest(self, settings: Settings, kubeconfig: str) -> str:
        return kube_vip_manifest(settings, kubeconfig)

    def flannel_images(self, settings: Settings) -> dict[str, str]:
        return {
            "install-cni-plugin": settings.flannel_cni_plugin_image,
            "install-cni": settings.flannel_image,
            "kube-flannel": settings.flannel_image,
        }


# kube-vip mounts the kubeconfig it is given at admin.conf's path
# (kube-vip/kube-vip@v1.2.3:pkg/kubevip/config_generator.go).
KUBE_VIP_KUBECONFIG_MOUNT = "/etc/kubernetes/admin.conf"


def kube_vip_manifest(settings: Settings, kubeconfig: str) -> str:
    """kube-vip as a static Pod holding controlPlaneEndpoint by ARP on the node interface, with
    leader election among the masters: what `kube-vip manifest pod --interface <if> --address
    <vip> --controlplane --arp --leaderElection` makes at v1.2.3
    (kube-vip/kube-vip@v1.2.3:pkg/kubevip/config_generator.go, config_envvar.go), with the
    kubeconfig's hostPath typed File: a missing file then fails the Pod instead of becoming an
    empty directory (containerd/containerd@v2.3.4:internal/cri/opts/spec_linux_opts.go)."""
    env = {
        "vip_arp": "true",
        "port": str(API_SERVER_PORT),
        "vip_interface": settings.network.interface,
        "vip_subnet": "32",
        "dns_mode": "first",
        "cp_enable": "true",
        "cp_namespace": "kube-system",
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "15",
        "vip_renewdeadline": "10",
        "vip_retryperiod": "2",
        "address": str(settings.control_plane_endpoint),
        "prometheus_server": ":2112",
    }
    variables: list[dict] = [{"name": name, "value": value} for name, value in env.items()]
    node_name = {"fieldRef": {"fieldPath": "spec.nodeName"}}
    variables.insert(2, {"name": "vip_nodename", "valueFrom": node_name})  # the generator's order
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [
                {
                    "name": "kube-vip",
                    "image": settings.kube_vip_image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["manager"],
                    "env": variables,
                    "securityContext": {
                        "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
                    },
                    "volumeMounts": [
                        {"name": "kubeconfig", "mountPath": KUBE_VIP_KUBECONFIG_MOUNT}
                    ],
                }
            ],
            # kube-vip talks to the local API server as https://kubernetes:6443
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "hostNetwork": True,
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}],
        },
    }
    return yaml.safe_dump(pod, sort_keys=False)


def _node_registration(node: NodeSpec, settings: Settings) -> dict:
    """The node's name, containerd's socket and the node's own address for the kubelet (the
    master carries the registry's address on the same interface)."""
    registration: dict = {
        "name": node.name,
        "criSocket": CRI_SOCKET,
        "kubeletExtraArgs": [{"name": "node-ip", "value": str(node.address)}],
    }
    if settings.kubernetes.keep_swap:
        registration["ignorePreflightErrors"] = ["Swap"]
    return registration


def kubernetes_repo_urls(settings: Settings) -> list[str]:
    """The repository URLs with {minor} filled in, each ending in /."""
    return [
        url.replace("{minor}", settings.kubernetes.minor).rstrip("/") + "/"
        for url in settings.packages.kubernetes_repo_urls
    ]


def containerd_config(settings: Settings) -> str:
    """config.toml, version 3, whole: CRI on, the systemd cgroup driver (the kubelet takes it
    from the CRI), kubeadm's pause image, hosts.toml files for every registry."""
    pause = f"{settings.kubernetes.image_repository}/pause:"
    pause += PAUSE_VERSION[settings.kubernetes.minor]
    document = {
        "version": 3,
        "disabled_plugins": [],
        "plugins": {
            "io.containerd.cri.v1.images": {
                "pinned_images": {"sandbox": pause},
                "registry": {"config_path": CERTS_DIRECTORY},
            },
            "io.containerd.cri.v1.runtime": {
                "cni": {"bin_dirs": ["/opt/cni/bin"], "conf_dir": "/etc/cni/net.d"},
                "containerd": {
                    "runtimes": {
                        "runc": {
                            "runtime_type": "io.containerd.runc.v2",
                            "options": {"SystemdCgroup": True},
                        }
                    }
                },
            },
        },
    }
    return "# Written by kubeadm-libvirt; changes here are overwritten.\n" + tomli_w.dumps(document)


def registry_hosts(settings: Settings) -> dict[str, str]:
    """certs.d directory -> hosts.toml: the private registry over plain HTTP, and Docker Hub
    through its mirrors (or straight, when there are none)."""
    registry = f"http://{settings.registry.endpoint}"
    docker_hub: dict = {"server": "https://registry-1.docker.io"}
    if settings.packages.registry_mirrors:
        docker_hub["host"] = {
            mirror.rstrip("/"): {"capabilities": ["pull", "resolve"]}
            for mirror in settings.packages.registry_mirrors
        }
    return {
        settings.registry.endpoint: tomli_w.dumps(
            {
                "server": registry,
                "host": {registry: {"capabilities": ["pull", "resolve", "push"]}},
            }
        ),
        "docker.io": tomli_w.dumps(docker_hub),
    }


PLATFORM = EL9(
    track="current",
    title="AlmaLinux or Rocky 9, containerd 2, Kubernetes 1.36",
    defaults={
        "baseImage": (
            "https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/"
            "AlmaLinux-9-GenericCloud-latest.x86_64.qcow2"
        ),
        "sshUser": "almalinux",
        "dockerCeRepoUrl": "https://download.docker.com/linux/rhel/9/$basearch/stable",
        "dockerCeGpgKey": "https://download.docker.com/linux/rhel/gpg",
        "containerdVersion": "2.3.4",
        "kubernetesRepoUrls": ("https://pkgs.k8s.io/core:/stable:/{minor}/rpm/",),
        "kubernetesVersion": "v1.36.4",
        "imageRepository": "registry.k8s.io",
        "flannelImage": "ghcr.io/flannel-io/flannel:v0.28.9",
        "flannelCniPluginImage": "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3",
        # v1.2.2 read admin.conf's server (the VIP it had not taken yet) and never came up
        # (kube-vip/kube-vip@v1.2.3:pkg/manager/manager.go, #1658).
        "kubeVipImage": "ghcr.io/kube-vip/kube-vip:v1.2.3",
    },
    own_keys=frozenset(
        {"containerdVersion", "flannelCniPluginImage", "controlPlaneEndpoint", "kubeVipImage"}
    ),
    # etcd's writes wait for a majority; seven members tolerate three failures, more only slow
    # it down (etcd-io/etcd@v3.6.14:Documentation, FAQ "cluster size").
    max_masters=7,
    max_masters_reason="more than 7 masters only slow etcd down (each write waits for a majority)",
    kubernetes_versions=r"v1\.36\.[0-9]{1,3}",
    kubernetes_versions_text=(
        "v1.36.PATCH (the kubeadm configuration, pause image and flannel of this track were "
        "read for 1.36)"
    ),
    base_volume="el9-genericcloud-base.qcow2",
    min_disk_gib=10,
    system_accounts=SYSTEM_ACCOUNTS,
    pin_host_key=PIN_HOST_KEY,
    modules=("overlay", "br_netfilter"),
    sysctls=KUBERNETES_SYSCTLS,
    runtime_script="runtime-containerd",
    server_side_apply=True,
    control_plane_label="node-role.kubernetes.io/control-plane",
    # --delete-local-data is deprecated since kubectl 1.20 for --delete-emptydir-data.
    drain_flags=("--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=120s"),
    registry_address_scripts=("add-registry-address-nm", "remove-registry-address-nm"),
    flannel=Flannel(manifest=MANIFESTS / "kube-flannel-current.yaml", namespace="kube-flannel"),
    refuses_rsa_host_keys=True,
)
