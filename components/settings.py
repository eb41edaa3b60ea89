"""Validated, immutable settings: the only place that reads Pulumi config.

Two layers. `StackConfig` (pydantic, strict, unknown keys forbidden, frozen) checks every key
on its own: its shape, characters, length and range. `_cross_check` then checks the rules
between keys (addresses inside the node network, CIDRs apart, one master...). Both run before
the program registers any resource, and a bad value stops it with one SettingsError:
`config <key>=<value>: <problem>`, with the exact key path (`nodes[1].name`) and `[secret]`
in place of a value that was set as a secret.

`validate()` needs no Pulumi engine: `make doctor` runs it on the stack files. Defaults live
in Pulumi.yaml, never here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from components.fields import (
    Boolean,
    BridgeName,
    Cidr,
    Dns1035Label,
    EncryptedValue,
    Hostname,
    HostPath,
    HttpPath,
    ImageReference,
    ImageRepository,
    ImageSource,
    ImageTag,
    InterfaceName,
    IPv4,
    KubernetesVersion,
    LibvirtName,
    LibvirtUri,
    OptionalImageReference,
    OptionalIPv4,
    Port,
    PrivateKeyText,
    PublicKey,
    Quantity,
    RpmVersion,
    TokenTtl,
    Url,
    UserName,
    check_key_strength,
    integer,
    listed,
)

PROJECT = "kubeadm-libvirt"

# kubeadm's later preflight demands 1700 MiB on a control-plane node; 1.13 does not check
# memory, but an apiserver and etcd below that get OOM-killed under load.
MASTER_MIN_MEMORY_MIB = 1700
MASTER_MIN_VCPUS = 2
FALLBACK_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
# Docker's default bridge (moby daemon/config: bip 172.17.0.1/16) exists on every node: a node,
# pod or service network that overlaps it is routed to docker0 instead.
DOCKER_BRIDGE = IPv4Network("172.17.0.0/16")
# glibc reads at most three nameservers (resolv.h MAXNS); kubelet warns and drops the rest.
MAX_NAMESERVERS = 3


class SettingsError(pulumi.RunError):
    """A config value is invalid; the message names the key and the value (or `[secret]`)."""

    def __init__(self, key: str, value: Any, problem: str, *, secret: bool = False) -> None:
        shown = "[secret]" if secret else _shorten(repr(value))
        super().__init__(f"config {key}={shown}: {problem}")
        self.key = key
        self.value = "[secret]" if secret else value
        self.problem = problem

    def hiding(self, secret_keys: set[str]) -> SettingsError:
        """This error, with the value hidden when its key was set as a secret."""
        if self.value == "[secret]" or re.split(r"[.\[]", self.key)[0] not in secret_keys:
            return self
        return SettingsError(self.key, None, self.problem, secret=True)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class NodeConfig(Strict):
    """One entry of `nodes`; sizes left out fall back to nodeVcpus/nodeMemoryMiB/nodeDiskGiB."""

    name: Hostname
    address: IPv4
    role: Literal["master", "worker"]
    vcpus: integer(1, 64) = None
    memoryMiB: integer(512, 1 << 20) = None  # noqa: N815 - the config key
    diskGiB: integer(8, 1 << 14) = None  # noqa: N815
    hostKey: PublicKey = None  # noqa: N815


class StackConfig(Strict):
    """Every key of Pulumi.yaml, each checked on its own. Names are the config keys."""

    hostSource: Literal["libvirt", "existing"]
    nodes: listed(NodeConfig, 1, 64, "nodes")
    nodeVcpus: integer(1, 64)
    nodeMemoryMiB: integer(512, 1 << 20)
    nodeDiskGiB: integer(8, 1 << 14)
    nodeNetwork: Cidr
    nodeGateway: OptionalIPv4
    nodeNameservers: listed(IPv4, 0, MAX_NAMESERVERS, "addresses")
    nodeInterface: InterfaceName
    sshUser: UserName
    sshPublicKey: PublicKey
    sshPrivateKey: PrivateKeyText
    libvirtUri: LibvirtUri
    libvirtNetworkName: LibvirtName
    libvirtBridge: BridgeName
    storagePoolName: LibvirtName
    storagePoolPath: HostPath
    baseImage: ImageSource
    centosVaultBaseUrls: listed(Url, 1, 4, "URLs")
    dockerCeRepoUrl: Url
    dockerCeGpgKey: Url
    dockerVersion: RpmVersion
    kubernetesRepoUrls: listed(Url, 1, 4, "URLs")
    kubernetesVersion: KubernetesVersion
    kubernetesCniVersion: RpmVersion
    imageRepository: ImageRepository
    podNetworkCidr: Cidr
    serviceCidr: Cidr
    keepSwap: Boolean
    joinTokenTtl: TokenTtl
    registryMirrors: listed(Url, 0, 4, "URLs")
    registryAddress: IPv4
    registryPort: Port
    registryImage: ImageReference
    registryStoragePath: HostPath
    flannelImage: ImageReference
    appName: Dns1035Label
    appImageTag: ImageTag
    appSeedImage: OptionalImageReference
    appSeedToolImage: ImageReference
    appReplicas: integer(1, 100)
    appPort: Port
    appNodePort: integer(30000, 32767)
    appProbePath: HttpPath
    appCpuRequest: Quantity
    appCpuLimit: Quantity
    appMemoryRequest: Quantity
    appMemoryLimit: Quantity


# --- the settings the components receive -------------------------------------------------------


class HostSource(str, Enum):
    LIBVIRT = "libvirt"
    EXISTING = "existing"


class Role(str, Enum):
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
    host_key: str | None = None
    """The host's expected SSH public host key (existing machines), or None."""

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
    """Authorised for user on the VMs; derived from the private key unless configured."""
    private_key: SecretStr | None
    """None only when validate() was given an EncryptedValue (make doctor)."""
    key_source: str
    """Where the private key came from: the config key or the fallback file."""


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
    kubernetes_repo_urls: tuple[str, ...]
    kubernetes_cni_version: str
    registry_mirrors: tuple[str, ...]


@dataclass(frozen=True)
class KubernetesSettings:
    version: str
    image_repository: str
    pod_network_cidr: IPv4Network
    service_cidr: IPv4Network
    keep_swap: bool
    join_token_ttl: timedelta

    @property
    def package_version(self) -> str:
        """The RPM version of kubelet/kubeadm/kubectl, e.g. 1.13.1."""
        return self.version.removeprefix("v")

    @property
    def token_ttl(self) -> str:
        """joinTokenTtl as kubeadm's --ttl reads it (a Go duration in whole seconds)."""
        return f"{int(self.join_token_ttl.total_seconds())}s"


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


# --- reading and checking ----------------------------------------------------------------------


def load_settings() -> Settings:
    """Read the project's config from the Pulumi engine and validate all of it."""
    prefix = f"{PROJECT}:"
    keys = set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.config.get_config_env())
    raw = {
        key.removeprefix(prefix): pulumi.runtime.get_config(key)
        for key in sorted(keys)
        if key.startswith(prefix)
    }
    secret = {key for key in raw if pulumi.runtime.is_config_secret(prefix + key)}
    return validate(raw, secret_keys=secret)


def stack_file_config(project_file: Path, stack_file: Path) -> tuple[dict[str, Any], set[str]]:
    """The config `pulumi up` would hand the program, read from the files without the engine:
    Pulumi.yaml's defaults overlaid by the stack file's values (the CLI's mergeConfig,
    pulumi/pulumi@v3.259.0:pkg/workspace/config.go, unchanged at master 1b5949891b), scalars as
    the CLI renders them. A `secure:` value stays an EncryptedValue; its key is in the returned
    set of secret keys."""
    project = yaml.safe_load(project_file.read_text())
    stack = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None
    raw = {key: d.get("default") for key, d in project.get("config", {}).items() if "default" in d}
    secret: set[str] = set()
    for full_key, value in ((stack or {}).get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = EncryptedValue()
            secret.add(key)
        raw[key] = value
    return {key: _as_cli_text(value) for key, value in raw.items()}, secret


def _as_cli_text(value: Any) -> Any:
    """YAML scalars reach the program as Go's %v prints them; lists and maps stay structured."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return value


def validate(
    raw: Mapping[str, Any],
    *,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    home: Path | None = None,
) -> Settings:
    """Settings from raw config values as the CLI passes them (scalars as text, lists and
    objects as JSON text or already decoded). Raises SettingsError on the first bad value.
    `home` is where ~/.ssh is looked up when sshPrivateKey is empty (default: the user's)."""
    secret_keys = set(secret_keys) | {"sshPrivateKey"}
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as error:
        raise _first_error(error, secret_keys) from None
    try:
        settings = _build(config, home or Path.home())
        _cross_check(settings, config)
    except SettingsError as error:
        raise error.hiding(secret_keys) from None
    return settings


_MESSAGES = {
    "missing": "is not set (Pulumi.yaml declares a default for every key)",
    "extra_forbidden": "is not a setting of this project (see Pulumi.yaml)",
    "literal_error": "must be one of {expected}",
    "model_type": "must be an object with name, address and role",
    "model_attributes_type": "must be an object with name, address and role",
    "dict_type": "must be an object",
}


def _first_error(error: ValidationError, secret_keys: set[str]) -> SettingsError:
    first = error.errors(include_url=False)[0]
    location = first["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    key = key.lstrip(".")
    if first["type"] in ("value_error", "assertion_error"):
        problem = str(first["ctx"]["error"])
    elif first["type"] in _MESSAGES:
        problem = _MESSAGES[first["type"]].format(**first.get("ctx", {}))
    else:
        problem = first["msg"]
    if first["type"] == "extra_forbidden" and location[0] == "nodes":
        problem = f"unknown key; a node has {', '.join(NodeConfig.model_fields)}"
    return SettingsError(key, first["input"], problem, secret=location[0] in secret_keys)


def _build(config: StackConfig, home: Path) -> Settings:
    host_source = HostSource(config.hostSource)
    network = config.nodeNetwork
    hosts = list(network.hosts())
    gateway = config.nodeGateway or (hosts[0] if hosts else network.network_address)
    nodes = tuple(
        NodeSpec(
            name=node.name,
            address=node.address,
            role=Role(node.role),
            vcpus=node.vcpus or config.nodeVcpus,
            memory_mib=node.memoryMiB or config.nodeMemoryMiB,
            disk_gib=node.diskGiB or config.nodeDiskGiB,
            host_key=node.hostKey,
        )
        for node in config.nodes
    )
    return Settings(
        host_source=host_source,
        nodes=nodes,
        network=NetworkSettings(
            node_network=network,
            gateway=gateway,
            nameservers=config.nodeNameservers or (gateway,),
            interface=config.nodeInterface,
        ),
        ssh=_ssh_settings(config, home),
        libvirt=LibvirtSettings(
            uri=config.libvirtUri,
            network_name=config.libvirtNetworkName,
            bridge=config.libvirtBridge or None,
            pool_name=config.storagePoolName,
            pool_path=config.storagePoolPath,
            base_image=config.baseImage,
        ),
        packages=PackageSettings(
            centos_vault_base_urls=config.centosVaultBaseUrls,
            docker_ce_repo_url=config.dockerCeRepoUrl,
            docker_ce_gpg_key=config.dockerCeGpgKey,
            docker_version=config.dockerVersion,
            kubernetes_repo_urls=config.kubernetesRepoUrls,
            kubernetes_cni_version=config.kubernetesCniVersion,
            registry_mirrors=config.registryMirrors,
        ),
        kubernetes=KubernetesSettings(
            version=config.kubernetesVersion,
            image_repository=config.imageRepository,
            pod_network_cidr=config.podNetworkCidr,
            service_cidr=config.serviceCidr,
            keep_swap=config.keepSwap,
            join_token_ttl=config.joinTokenTtl,
        ),
        registry=RegistrySettings(
            address=config.registryAddress,
            port=config.registryPort,
            image=config.registryImage,
            storage_path=config.registryStoragePath,
        ),
        flannel_image=config.flannelImage,
        app=AppSettings(
            name=config.appName,
            image_tag=config.appImageTag,
            seed_image=config.appSeedImage or None,
            seed_tool_image=config.appSeedToolImage,
            replicas=config.appReplicas,
            port=config.appPort,
            node_port=config.appNodePort,
            probe_path=config.appProbePath,
            cpu_request=config.appCpuRequest,
            cpu_limit=config.appCpuLimit,
            memory_request=config.appMemoryRequest,
            memory_limit=config.appMemoryLimit,
        ),
    )


def _ssh_settings(config: StackConfig, home: Path) -> SshSettings:
    """The key pair: sshPrivateKey, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa; the
    public key is sshPublicKey, else the private key's own."""
    configured = config.sshPrivateKey
    if isinstance(configured, EncryptedValue):
        return SshSettings(config.sshUser, config.sshPublicKey, None, "sshPrivateKey")
    text_value, source = configured.get_secret_value(), "sshPrivateKey"
    if text_value == "":
        ssh_dir = home / ".ssh"
        found = next((ssh_dir / n for n in FALLBACK_KEYS if (ssh_dir / n).is_file()), None)
        if found is None:
            raise SettingsError(
                "sshPrivateKey",
                "",
                f"is not set and none of {', '.join(FALLBACK_KEYS)} exists in {ssh_dir}; "
                "run `ssh-keygen -t ed25519 -N ''` or "
                "`pulumi config set --secret sshPrivateKey < /path/to/key`",
            )
        text_value, source = found.read_text(errors="replace"), str(found)
    derived = _public_key_of(text_value, source)
    public_key = config.sshPublicKey or derived
    if config.sshPublicKey and config.sshPublicKey.split()[:2] != derived.split()[:2]:
        raise SettingsError(
            "sshPublicKey",
            config.sshPublicKey,
            f"does not belong to the private key in use ({source}); leave it empty to use that "
            "key's own public key",
        )
    return SshSettings(config.sshUser, public_key, SecretStr(text_value), source)


def _public_key_of(private_key: str, source: str) -> str:
    """The OpenSSH public key of an unencrypted OpenSSH or PEM private key."""
    problem = None
    data = private_key.encode()
    if len(data) > 16384:
        problem = "is longer than 16384 characters"
    else:
        try:
            if b"BEGIN OPENSSH PRIVATE KEY" in data:
                key = serialization.load_ssh_private_key(data, password=None)
            else:
                key = serialization.load_pem_private_key(data, password=None)
            check_key_strength(key)
            return (
                key.public_key()
                .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
                .decode()
            )
        except TypeError:
            problem = (
                "is protected by a passphrase; Pulumi needs an unencrypted key "
                "(ssh-keygen -p -N '' -f <key> removes it)"
            )
        except (ValueError, UnsupportedAlgorithm) as error:
            problem = f"is not an OpenSSH or PEM private key ({error})"
    where = "" if source == "sshPrivateKey" else f" (read from {source})"
    raise SettingsError("sshPrivateKey", None, f"{problem}{where}", secret=True)


def _cross_check(settings: Settings, config: StackConfig) -> None:
    """Rules between keys."""
    _check_nodes(settings)
    _check_network(settings, config)
    _check_cidrs(settings)
    _check_registry(settings)
    _check_app(settings)


def _check_nodes(settings: Settings) -> None:
    names: dict[str, int] = {}
    addresses: dict[IPv4Address, int] = {}
    for i, node in enumerate(settings.nodes):
        if node.name in names:
            raise SettingsError(
                f"nodes[{i}].name", node.name, f"duplicates nodes[{names[node.name]}].name"
            )
        if node.address in addresses:
            raise SettingsError(
                f"nodes[{i}].address",
                str(node.address),
                f"duplicates nodes[{addresses[node.address]}].address",
            )
        names[node.name] = i
        addresses[node.address] = i
        if node.host_key and settings.host_source is HostSource.LIBVIRT:
            raise SettingsError(
                f"nodes[{i}].hostKey",
                node.host_key,
                "is for existing machines; libvirt VMs get a host key made by this stack",
            )
    masters = [i for i, n in enumerate(settings.nodes) if n.role is Role.MASTER]
    if len(masters) != 1:
        roles = [n.role.value for n in settings.nodes]
        raise SettingsError(
            "nodes[*].role", roles, f"need exactly one master, found {len(masters)}"
        )
    if settings.host_source is HostSource.LIBVIRT:
        index, master = masters[0], settings.nodes[masters[0]]
        if master.vcpus < MASTER_MIN_VCPUS:
            raise SettingsError(
                f"nodes[{index}].vcpus",
                master.vcpus,
                f"kubeadm needs at least {MASTER_MIN_VCPUS} on the master",
            )
        if master.memory_mib < MASTER_MIN_MEMORY_MIB:
            raise SettingsError(
                f"nodes[{index}].memoryMiB",
                master.memory_mib,
                f"the master needs at least {MASTER_MIN_MEMORY_MIB} MiB for the control plane",
            )
        if settings.ssh.user == "root":
            raise SettingsError(
                "sshUser", "root", "the VMs allow no root login; use a user such as centos"
            )


def _special_address_problem(address: IPv4Address) -> str | None:
    if address.is_unspecified:
        return "is the unspecified address"
    if address.is_loopback:
        return "is a loopback address"
    if address.is_multicast:
        return "is a multicast address"
    if address.is_link_local:
        return "is a link-local address"
    if address.is_reserved:
        return "is a reserved address"
    return None


def _host_address_problem(address: IPv4Address, network: IPv4Network) -> str | None:
    """Why address is not a usable host address of network, or None."""
    if address not in network:
        return f"is outside nodeNetwork {network}"
    if address in (network.network_address, network.broadcast_address):
        return f"is the network or broadcast address of {network}, not a host address"
    return _special_address_problem(address)


def _check_network(settings: Settings, config: StackConfig) -> None:
    network = settings.network
    node_network = network.node_network
    problem = _special_address_problem(node_network.network_address) or (
        "has room for no hosts" if node_network.prefixlen > 29 else None
    )
    if problem is None and node_network.overlaps(DOCKER_BRIDGE):
        problem = f"overlaps Docker's bridge network {DOCKER_BRIDGE} on every node"
    if problem:
        raise SettingsError("nodeNetwork", str(node_network), problem)
    gateway_key = "nodeGateway"
    problem = _host_address_problem(network.gateway, node_network)
    if problem:
        raise SettingsError(gateway_key, str(network.gateway), problem)
    for i, node in enumerate(settings.nodes):
        problem = _host_address_problem(node.address, node_network)
        if problem is None and node.address == network.gateway:
            problem = "is the nodes' gateway address"
        if problem:
            raise SettingsError(f"nodes[{i}].address", str(node.address), problem)
    for i, server in enumerate(config.nodeNameservers):
        problem = _special_address_problem(server)
        if (
            problem is None
            and server in node_network
            and server
            in (
                node_network.network_address,
                node_network.broadcast_address,
            )
        ):
            problem = f"is the network or broadcast address of {node_network}"
        if problem == "is a loopback address":
            problem = "is a loopback resolver; CoreDNS would loop"
        if problem is None and server == IPv4Address("255.255.255.255"):
            problem = "is the broadcast address"
        if problem:
            raise SettingsError(f"nodeNameservers[{i}]", str(server), problem)


def _check_cidrs(settings: Settings) -> None:
    k8s, node_network = settings.kubernetes, settings.network.node_network
    pod, service = k8s.pod_network_cidr, k8s.service_cidr
    # kube-controller-manager gives every node a /24 of the pod network (NodeCIDRMaskSize
    # defaults to 24: kubernetes/kubernetes 1.13 pkg/apis/componentconfig/v1alpha1/defaults.go);
    # flannel's SubnetLen is /24 too.
    node_bits = max(1, len(settings.nodes) - 1).bit_length()
    if pod.prefixlen > 24 - node_bits:
        raise SettingsError(
            "podNetworkCidr",
            str(pod),
            f"is too small: each of {len(settings.nodes)} nodes gets a /24 from it, so it needs "
            f"a prefix of /{24 - node_bits} or shorter",
        )
    # kube-apiserver refuses a service range of more than 2^20 addresses (bits-ones > 20:
    # kubernetes/kubernetes 1.13 cmd/kube-apiserver/app/options/validation.go
    # validateClusterIPFlags); below /28 there is no room for the API and DNS services.
    if not 12 <= service.prefixlen <= 28:
        raise SettingsError("serviceCidr", str(service), "must have a prefix between /12 and /28")
    for key, cidr in (("podNetworkCidr", pod), ("serviceCidr", service)):
        problem = _special_address_problem(cidr.network_address)
        if problem:
            raise SettingsError(key, str(cidr), problem.replace("address", "network"))
    if pod.overlaps(service):
        raise SettingsError("podNetworkCidr", str(pod), f"overlaps serviceCidr {service}")
    for key, cidr in (("podNetworkCidr", pod), ("serviceCidr", service)):
        if cidr.overlaps(node_network):
            raise SettingsError(key, str(cidr), f"overlaps nodeNetwork {node_network}")
        if cidr.overlaps(DOCKER_BRIDGE):
            raise SettingsError(
                key, str(cidr), f"overlaps Docker's bridge network {DOCKER_BRIDGE} on every node"
            )


def _check_registry(settings: Settings) -> None:
    address, network = settings.registry.address, settings.network.node_network
    problem = _host_address_problem(address, network)
    if problem is None and address == settings.network.gateway:
        problem = "is the nodes' gateway address"
    for node in settings.nodes:
        if problem is None and node.address == address:
            problem = f"is the address of node {node.name}"
    if problem:
        raise SettingsError("registryAddress", str(address), problem)


_QUANTITY_UNITS = {
    "m": Decimal("0.001"),
    "": Decimal(1),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
}


def _quantity(value: str) -> Decimal:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", value).groups()
    return Decimal(number) * _QUANTITY_UNITS[unit]


def _check_app(settings: Settings) -> None:
    app = settings.app
    # The API server refuses a request above its limit (core validation of ResourceRequirements).
    for resource, request, limit in (
        ("Cpu", app.cpu_request, app.cpu_limit),
        ("Memory", app.memory_request, app.memory_limit),
    ):
        if _quantity(request) > _quantity(limit):
            raise SettingsError(
                f"app{resource}Request", request, f"is more than app{resource}Limit {limit}"
            )
