"""The platforms the one flow builds on, one module per track:

- tutorial (centos7.py): CentOS 7.9, Docker 18.06, Kubernetes 1.13 from the aliyun mirrors;
- current (el9.py): AlmaLinux or Rocky 9, containerd 2, a supported Kubernetes from pkgs.k8s.io.

A platform is a value the flow reads: its defaults for the settings that differ between tracks,
the settings only it has, the files and packages a host gets, how kubeadm is driven, and the
add-ons' track-specific parts. Nothing else in the program asks which track it is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.settings import NodeSpec, Settings

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
# What kubeadm's preflight and the pod network need of every node's kernel, on both tracks.
KUBERNETES_SYSCTLS = (
    "net.bridge.bridge-nf-call-iptables = 1",
    "net.bridge.bridge-nf-call-ip6tables = 1",
    "net.ipv4.ip_forward = 1",
)


@dataclass(frozen=True)
class HostFile:
    """A file a host gets at preparation, and the unit to reload or restart when it changed."""

    path: str
    content: str
    mode: str = "0644"
    reload: str = ""
    """`reload <unit>` or `restart <unit>`, or nothing."""


@dataclass(frozen=True)
class Flannel:
    manifest: Path
    namespace: str


@dataclass(frozen=True)
class Platform:
    """What a track is, as data and a few builders of structured files from settings."""

    track: str
    title: str
    defaults: Mapping[str, Any]
    """Its value for every setting whose default depends on the track (Pulumi.yaml says "")."""
    own_keys: frozenset[str]
    """Settings only this track has: refused on the other when set."""
    kubernetes_versions: str
    """A regular expression of the Kubernetes versions its manifests, packages and config fit."""
    kubernetes_versions_text: str
    min_disk_gib: int
    base_volume: str
    """The name of the image's volume in the pool."""
    system_accounts: frozenset[str]
    pin_host_key: tuple[str, ...]
    """cloud-init bootcmd that keeps sshd to the ED25519 host key the stack made."""
    modules: tuple[str, ...]
    sysctls: tuple[str, ...]
    runtime_script: str
    """components/scripts/<name>.sh: the container runtime's install and configuration."""
    server_side_apply: bool
    control_plane_label: str
    """The label and NoSchedule taint kubeadm puts on the control plane."""
    drain_flags: tuple[str, ...]
    registry_address_scripts: tuple[str, str]
    """The scripts that add and remove the registry's address on the master."""
    flannel: Flannel
    max_masters: int
    max_masters_reason: str
    """Why a node list with more masters than max_masters is refused."""
    refuses_rsa_host_keys: bool = False

    # --- builders, each overridden per track ---------------------------------------------------

    def repositories(self, settings: Settings) -> dict[str, str]:
        """/etc/yum.repos.d file name -> its content."""
        raise NotImplementedError

    def rpm_keys(self, settings: Settings) -> tuple[str, ...]:
        """Keys imported on every run (a key extended rather than rotated is never re-fetched
        by yum/dnf once cached)."""
        return ()

    def kubernetes_packages(self, settings: Settings) -> tuple[str, ...]:
        raise NotImplementedError

    def runtime_values(self, settings: Settings) -> dict[str, str]:
        raise NotImplementedError

    def host_files(self, settings: Settings) -> tuple[HostFile, ...]:
        return ()

    def kubelet_sysconfig(self, settings: Settings) -> str:
        raise NotImplementedError

    def init_flags(self, master: NodeSpec, settings: Settings) -> tuple[str, ...]:
        """Flags of `kubeadm init` besides --config."""
        return ()

    def init_configuration(self, master: NodeSpec, settings: Settings) -> str:
        """The kubeadm configuration file of `kubeadm init`, or "" to use flags only."""
        return ""

    def join_flags(self, settings: Settings) -> tuple[str, ...]:
        """Flags of `kubeadm join` besides --config."""
        return ()

    def join_configuration(
        self, join: JoinCommand, node: NodeSpec, endpoint: str, settings: Settings
    ) -> str:
        raise NotImplementedError

    def registry_address_values(self, settings: Settings) -> dict[str, str]:
        """What the registry address's add script needs besides the address itself."""
        return {}

    def flannel_images(self, settings: Settings) -> dict[str, str]:
        """container name in the manifest -> its image."""
        raise NotImplementedError

    def virtual_address_manifest(self, settings: Settings, kubeconfig: str) -> str:
        """The static Pod that holds controlPlaneEndpoint on a master, reading the API with
        kubeconfig (a path on the host); only tracks with max_masters > 1 have one."""
        raise NotImplementedError(f"the {self.track} track has no virtual API address")


@dataclass(frozen=True)
class JoinCommand:
    """What `kubeadm token create --print-join-command` printed, parsed."""

    endpoint: str
    token: str
    ca_cert_hash: str
    certificate_key: str = ""
    """The key of the uploaded control-plane certificates: a master's join only."""

    @property
    def token_id(self) -> str:
        return self.token.split(".")[0]


def platform(track: str) -> Platform:
    from components.platforms import centos7, el9

    return {centos7.PLATFORM.track: centos7.PLATFORM, el9.PLATFORM.track: el9.PLATFORM}[track]


def tracks() -> tuple[Platform, ...]:
    from components.platforms import centos7, el9

    return (centos7.PLATFORM, el9.PLATFORM)
