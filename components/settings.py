"""Validated, immutable settings: the only place that reads Pulumi config.

Every rule is checked here, before the program registers any resource. A bad value stops the
program with one SettingsError naming the config key and the offending value.
Defaults live in Pulumi.yaml, never here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pulumi

PROJECT = "kubeadm-libvirt"

# kubeadm's later preflight demands 1700 MiB on a control-plane node; 1.13 does not check
# memory, but an apiserver and etcd below that get OOM-killed under load.
MASTER_MIN_MEMORY_MIB = 1700
MASTER_MIN_VCPUS = 2

_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_IMAGE = (r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", "is not a container image reference")
_QUANTITY = (r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$", "is not a Kubernetes quantity")
_NAME = (r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "is not a valid name (letters, digits, . _ -)")
_PACKAGE_VERSION = (r"^[0-9][A-Za-z0-9._-]*$", "is not an RPM version such as 18.06.3.ce-3.el7")
_ABSOLUTE_PATH = (r"^/\S*$", "must be an absolute path")
_INTERFACE = (r"^[A-Za-z0-9_.-]{1,15}$", "is not a network interface name")
_NODE_KEYS = {"name", "address", "role", "vcpus", "memoryMiB", "diskGiB"}
_FALLBACK_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")


class SettingsError(pulumi.RunError):
    """A config value is invalid; the message names the key and the value."""

    def __init__(self, key: str, value: Any, problem: str) -> None:
        super().__init__(f"config {key}={value!r}: {problem}")
        self.key = key
        self.value = value


class HostSource(StrEnum):
    LIBVIRT = "libvirt"
    EXISTING = "existing"


class Role(StrEnum):
    MASTER = "master"
    WORKER = "worker"


@dataclass(frozen=True)
class NodeSpec:
    """One cluster node as configured."""

    name: str
    address: IPv4Address
    role: Role
    vcpus: int
    memory_mib: int
    disk_gib: int

    @property
    def mac(self) -> str:
        """A stable MAC (libvirt's 52:54:00 prefix) derived from the address."""
        return "52:54:00:" + ":".join(f"{b:02x}" for b in self.address.packed[1:])


@dataclass(frozen=True)
class NetworkSettings:
    node_network: IPv4Network
    gateway: IPv4Address
    nameservers: tuple[IPv4Address, ...]
    interface: str


@dataclass(frozen=True)
class SshSettings:
    user: str
    public_key: str
    private_key: pulumi.Output[str]
    """Always a secret Output."""


@dataclass(frozen=True)
class LibvirtSettings:
    uri: str
    network_name: str
    bridge: str | None
    pool_name: str
    pool_path: str
    base_image: str


@dataclass(frozen=True)
class PackageSettings:
    centos_vault_base_urls: tuple[str, ...]
    docker_ce_repo_url: str
    docker_ce_gpg_key: str
    docker_version: str
    kubernetes_repo_url: str
    kubernetes_cni_version: str
    registry_mirrors: tuple[str, ...]


@dataclass(frozen=True)
class KubernetesSettings:
    version: str
    image_repository: str
    pod_network_cidr: IPv4Network
    service_cidr: IPv4Network
    keep_swap: bool
    join_token_ttl: str

    @property
    def package_version(self) -> str:
        """The RPM version of kubelet/kubeadm/kubectl, e.g. 1.13.1."""
        return self.version.removeprefix("v")


@dataclass(frozen=True)
class RegistrySettings:
    address: IPv4Address
    port: int
    image: str
    storage_path: str

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class AppSettings:
    name: str
    image_tag: str
    seed_image: str | None
    seed_tool_image: str
    replicas: int
    port: int
    node_port: int
    probe_path: str
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, validated."""

    host_source: HostSource
    nodes: tuple[NodeSpec, ...]
    network: NetworkSettings
    ssh: SshSettings
    libvirt: LibvirtSettings
    packages: PackageSettings
    kubernetes: KubernetesSettings
    registry: RegistrySettings
    flannel_image: str
    app: AppSettings

    @property
    def master(self) -> NodeSpec:
        return next(n for n in self.nodes if n.role is Role.MASTER)

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is Role.WORKER)


class _Reader:
    """Typed access to the project's config, turning every failure into a SettingsError."""

    def __init__(self) -> None:
        self._config = pulumi.Config(PROJECT)

    def raw(self, key: str) -> Any:
        return self._required(key, self._config.get(key))

    def structured(self, key: str) -> Any:
        return self._required(key, self._config.get_object(key))

    @staticmethod
    def _required(key: str, value: Any) -> Any:
        if value is None:
            raise SettingsError(key, None, "is not set (is Pulumi.yaml's default missing?)")
        return value

    def text(self, key: str, *, allow_empty: bool = False) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise SettingsError(key, value, "must be a non-empty string")
        return value.strip()

    def matching(self, key: str, rule: tuple[str, str], *, allow_empty: bool = False) -> str:
        value = self.text(key, allow_empty=allow_empty)
        pattern, problem = rule
        if value and not re.match(pattern, value):
            raise SettingsError(key, value, problem)
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        return _int_in_range(key, self.raw(key), low, high)

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if value not in ("true", "false"):
            raise SettingsError(key, value, "must be true or false")
        return value == "true"

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.structured(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise SettingsError(key, value, "must be a list of non-empty strings")
        return tuple(value)

    def secret_text(self, key: str) -> str:
        # Read synchronously (to decide on the fallback) but never return it unwrapped.
        return pulumi.runtime.get_config(f"{PROJECT}:{key}") or ""


def _int_in_range(key: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(key, value, "must be an integer") from None
    if isinstance(value, float) and value != number or isinstance(value, bool):
        raise SettingsError(key, value, "must be an integer")
    if not low <= number <= high:
        raise SettingsError(key, value, f"must be between {low} and {high}")
    return number


def _address(key: str, value: Any) -> IPv4Address:
    try:
        return IPv4Address(value)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise SettingsError(key, value, "is not an IPv4 address") from None


def _network(key: str, value: Any) -> IPv4Network:
    try:
        return IPv4Network(value, strict=True)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError):
        raise SettingsError(key, value, "is not an IPv4 CIDR such as 10.244.0.0/16") from None


def _hostname(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _HOSTNAME.match(value):
        raise SettingsError(
            key, value, "is not an RFC 1123 hostname (lower-case letters, digits, '-', at most 63)"
        )
    return value


def _nodes(reader: _Reader, host_source: HostSource) -> tuple[NodeSpec, ...]:
    raw = reader.structured("nodes")
    if not isinstance(raw, list) or not raw:
        raise SettingsError("nodes", raw, "must be a non-empty list of nodes")
    defaults = {
        "vcpus": reader.integer("nodeVcpus", 1, 256),
        "memoryMiB": reader.integer("nodeMemoryMiB", 512, 1 << 20),
        "diskGiB": reader.integer("nodeDiskGiB", 8, 1 << 14),
    }
    limits = {"vcpus": (1, 256), "memoryMiB": (512, 1 << 20), "diskGiB": (8, 1 << 14)}
    nodes = []
    for i, entry in enumerate(raw):
        key = f"nodes[{i}]"
        if not isinstance(entry, dict):
            raise SettingsError(key, entry, "must be an object with name, address and role")
        unknown = sorted(set(entry) - _NODE_KEYS)
        if unknown:
            raise SettingsError(
                f"{key}.{unknown[0]}",
                entry[unknown[0]],
                f"unknown key; known keys are {', '.join(sorted(_NODE_KEYS))}",
            )
        for required in ("name", "address", "role"):
            if required not in entry:
                raise SettingsError(f"{key}.{required}", None, "is required")
        try:
            role = Role(entry["role"])
        except ValueError:
            raise SettingsError(f"{key}.role", entry["role"], "must be master or worker") from None
        sizes = {
            field: _int_in_range(f"{key}.{field}", entry.get(field, default), *limits[field])
            for field, default in defaults.items()
        }
        nodes.append(
            NodeSpec(
                name=_hostname(f"{key}.name", entry["name"]),
                address=_address(f"{key}.address", entry["address"]),
                role=role,
                vcpus=sizes["vcpus"],
                memory_mib=sizes["memoryMiB"],
                disk_gib=sizes["diskGiB"],
            )
        )
    _check_nodes(nodes, host_source)
    return tuple(nodes)


def _check_nodes(nodes: list[NodeSpec], host_source: HostSource) -> None:
    seen_names: dict[str, int] = {}
    seen_addresses: dict[IPv4Address, int] = {}
    for i, node in enumerate(nodes):
        if node.name in seen_names:
            raise SettingsError(
                f"nodes[{i}].name", node.name, f"duplicates nodes[{seen_names[node.name]}].name"
            )
        if node.address in seen_addresses:
            raise SettingsError(
                f"nodes[{i}].address",
                str(node.address),
                f"duplicates nodes[{seen_addresses[node.address]}].address",
            )
        seen_names[node.name] = i
        seen_addresses[node.address] = i
    masters = [i for i, n in enumerate(nodes) if n.role is Role.MASTER]
    if len(masters) != 1:
        roles = [n.role.value for n in nodes]
        raise SettingsError(
            "nodes[*].role", roles, f"need exactly one master, found {len(masters)}"
        )
    master = nodes[masters[0]]
    if host_source is HostSource.LIBVIRT:
        key = f"nodes[{masters[0]}]"
        if master.vcpus < MASTER_MIN_VCPUS:
            raise SettingsError(
                f"{key}.vcpus",
                master.vcpus,
                f"kubeadm needs at least {MASTER_MIN_VCPUS} on the master",
            )
        if master.memory_mib < MASTER_MIN_MEMORY_MIB:
            raise SettingsError(
                f"{key}.memoryMiB",
                master.memory_mib,
                f"the master needs at least {MASTER_MIN_MEMORY_MIB} MiB for the control plane",
            )


def _network_settings(reader: _Reader, nodes: tuple[NodeSpec, ...]) -> NetworkSettings:
    node_network = _network("nodeNetwork", reader.text("nodeNetwork"))
    for i, node in enumerate(nodes):
        if node.address not in node_network:
            raise SettingsError(
                f"nodes[{i}].address", str(node.address), f"is outside nodeNetwork {node_network}"
            )
        if node.address in (node_network.network_address, node_network.broadcast_address):
            raise SettingsError(
                f"nodes[{i}].address", str(node.address), f"is not a host address of {node_network}"
            )
    gateway_text = reader.text("nodeGateway", allow_empty=True)
    gateway = _address("nodeGateway", gateway_text) if gateway_text else next(node_network.hosts())
    if gateway not in node_network:
        raise SettingsError("nodeGateway", gateway_text, f"is outside nodeNetwork {node_network}")
    for i, node in enumerate(nodes):
        if node.address == gateway:
            raise SettingsError(
                f"nodes[{i}].address", str(node.address), "is the nodes' gateway address"
            )
    nameservers = tuple(
        _address(f"nodeNameservers[{i}]", v)
        for i, v in enumerate(reader.strings("nodeNameservers"))
    ) or (gateway,)
    for i, server in enumerate(nameservers):
        if server.is_loopback:
            raise SettingsError(
                f"nodeNameservers[{i}]", str(server), "is a loopback resolver; CoreDNS would loop"
            )
    interface = reader.matching("nodeInterface", _INTERFACE)
    return NetworkSettings(node_network, gateway, nameservers, interface)


def _kubernetes_settings(reader: _Reader, network: NetworkSettings) -> KubernetesSettings:
    version = reader.text("kubernetesVersion")
    if not _VERSION.match(version):
        raise SettingsError(
            "kubernetesVersion", version, "must look like vMAJOR.MINOR.PATCH, e.g. v1.13.1"
        )
    pod = _network("podNetworkCidr", reader.text("podNetworkCidr"))
    service = _network("serviceCidr", reader.text("serviceCidr"))
    if pod.overlaps(service):
        raise SettingsError("podNetworkCidr", str(pod), f"overlaps serviceCidr {service}")
    for key, cidr in (("podNetworkCidr", pod), ("serviceCidr", service)):
        if cidr.overlaps(network.node_network):
            raise SettingsError(key, str(cidr), f"overlaps nodeNetwork {network.node_network}")
    ttl = reader.text("joinTokenTtl")
    if not re.match(r"^(\d+h)?(\d+m)?(\d+s)?$", ttl) or ttl in ("", "0h", "0m", "0s"):
        raise SettingsError("joinTokenTtl", ttl, "must be a duration such as 1h or 30m")
    return KubernetesSettings(
        version=version,
        image_repository=reader.matching("imageRepository", _IMAGE),
        pod_network_cidr=pod,
        service_cidr=service,
        keep_swap=reader.boolean("keepSwap"),
        join_token_ttl=ttl,
    )


def _registry_settings(
    reader: _Reader, network: NetworkSettings, nodes: tuple[NodeSpec, ...]
) -> RegistrySettings:
    address = _address("registryAddress", reader.text("registryAddress"))
    if address not in network.node_network:
        raise SettingsError(
            "registryAddress", str(address), f"is outside nodeNetwork {network.node_network}"
        )
    for node in nodes:
        if node.address == address:
            raise SettingsError(
                "registryAddress", str(address), f"is the address of node {node.name}"
            )
    if address == network.gateway:
        raise SettingsError("registryAddress", str(address), "is the nodes' gateway address")
    storage = reader.matching("registryStoragePath", _ABSOLUTE_PATH)
    return RegistrySettings(
        address=address,
        port=reader.integer("registryPort", 1, 65535),
        image=reader.matching("registryImage", _IMAGE),
        storage_path=storage,
    )


def _ssh_settings(reader: _Reader, host_source: HostSource) -> SshSettings:
    user = reader.text("sshUser")
    if not re.match(r"^[a-z_][a-z0-9_-]*$", user):
        raise SettingsError("sshUser", user, "is not a valid user name")
    private_key = reader.secret_text("sshPrivateKey")
    public_key = reader.text("sshPublicKey", allow_empty=True)
    if not private_key:
        ssh_dir = Path.home() / ".ssh"
        found = next((ssh_dir / n for n in _FALLBACK_KEYS if (ssh_dir / n).is_file()), None)
        if found is None:
            raise SettingsError(
                "sshPrivateKey",
                "",
                f"is not set and none of {', '.join(_FALLBACK_KEYS)} exists in {ssh_dir}; "
                "run `ssh-keygen -t ed25519` or "
                "`pulumi config set --secret sshPrivateKey < /path/to/key`",
            )
        private_key = found.read_text()
        pub = found.with_name(found.name + ".pub")
        if not public_key and pub.is_file():
            public_key = pub.read_text().strip()
    if host_source is HostSource.LIBVIRT and not public_key:
        raise SettingsError(
            "sshPublicKey", "", "is needed to authorise the SSH user on the VMs (cloud-init)"
        )
    if public_key and not re.match(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+) \S+", public_key):
        raise SettingsError("sshPublicKey", public_key, "is not an OpenSSH public key line")
    return SshSettings(
        user=user, public_key=public_key, private_key=pulumi.Output.secret(private_key)
    )


def _url_list(reader: _Reader, key: str) -> tuple[str, ...]:
    urls = reader.strings(key)
    for i, url in enumerate(urls):
        if not re.match(r"^https?://\S+$", url):
            raise SettingsError(f"{key}[{i}]", url, "must be an http(s) URL")
    return urls


def _url(reader: _Reader, key: str) -> str:
    url = reader.text(key)
    if not re.match(r"^https?://\S+$", url):
        raise SettingsError(key, url, "must be an http(s) URL")
    return url


def _app_settings(reader: _Reader) -> AppSettings:
    name = _hostname("appName", reader.text("appName"))
    probe = reader.text("appProbePath")
    if not probe.startswith("/"):
        raise SettingsError("appProbePath", probe, "must start with /")
    tag = reader.text("appImageTag")
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", tag):
        raise SettingsError("appImageTag", tag, "is not a valid image tag")
    return AppSettings(
        name=name,
        image_tag=tag,
        seed_image=reader.matching("appSeedImage", _IMAGE, allow_empty=True) or None,
        seed_tool_image=reader.matching("appSeedToolImage", _IMAGE),
        replicas=reader.integer("appReplicas", 1, 100),
        port=reader.integer("appPort", 1, 65535),
        node_port=reader.integer("appNodePort", 30000, 32767),
        probe_path=probe,
        cpu_request=reader.matching("appCpuRequest", _QUANTITY),
        cpu_limit=reader.matching("appCpuLimit", _QUANTITY),
        memory_request=reader.matching("appMemoryRequest", _QUANTITY),
        memory_limit=reader.matching("appMemoryLimit", _QUANTITY),
    )


def load_settings() -> Settings:
    """Read and validate the whole configuration; raises SettingsError on the first bad value."""
    reader = _Reader()
    source_text = reader.text("hostSource")
    try:
        host_source = HostSource(source_text)
    except ValueError:
        raise SettingsError("hostSource", source_text, "must be libvirt or existing") from None
    nodes = _nodes(reader, host_source)
    network = _network_settings(reader, nodes)
    kubernetes = _kubernetes_settings(reader, network)
    registry = _registry_settings(reader, network, nodes)
    bridge = reader.matching("libvirtBridge", _INTERFACE, allow_empty=True) or None
    pool_path = reader.matching("storagePoolPath", _ABSOLUTE_PATH)
    base_image = reader.text("baseImage")
    if not re.match(r"^(https?://\S+|/\S+)$", base_image):
        raise SettingsError("baseImage", base_image, "must be an http(s) URL or an absolute path")
    libvirt = LibvirtSettings(
        uri=reader.text("libvirtUri"),
        network_name=reader.matching("libvirtNetworkName", _NAME),
        bridge=bridge,
        pool_name=reader.matching("storagePoolName", _NAME),
        pool_path=pool_path,
        base_image=base_image,
    )
    if not re.match(r"^[a-z0-9+]+://", libvirt.uri):
        raise SettingsError(
            "libvirtUri", libvirt.uri, "is not a libvirt URI such as qemu:///system"
        )
    packages = PackageSettings(
        centos_vault_base_urls=_url_list(reader, "centosVaultBaseUrls"),
        docker_ce_repo_url=_url(reader, "dockerCeRepoUrl"),
        docker_ce_gpg_key=_url(reader, "dockerCeGpgKey"),
        docker_version=reader.matching("dockerVersion", _PACKAGE_VERSION),
        kubernetes_repo_url=_url(reader, "kubernetesRepoUrl"),
        kubernetes_cni_version=reader.matching("kubernetesCniVersion", _PACKAGE_VERSION),
        registry_mirrors=_url_list(reader, "registryMirrors"),
    )
    if not packages.centos_vault_base_urls:
        raise SettingsError("centosVaultBaseUrls", [], "needs at least one mirror")
    return Settings(
        host_source=host_source,
        nodes=nodes,
        network=network,
        ssh=_ssh_settings(reader, host_source),
        libvirt=libvirt,
        packages=packages,
        kubernetes=kubernetes,
        registry=registry,
        flannel_image=reader.matching("flannelImage", _IMAGE),
        app=_app_settings(reader),
    )
