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

import difflib
import re
from collections.abc import Iterator, Mapping
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
    MINOR_PLACEHOLDER,
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
    ImageTag,
    InterfaceName,
    IPv4,
    KubernetesVersion,
    LibvirtName,
    LibvirtUri,
    MirrorUrl,
    OptionalImageReference,
    OptionalImageSource,
    OptionalIPv4,
    OptionalRepositoryUrl,
    Port,
    PrivateKeyText,
    PublicKey,
    Quantity,
    RepositoryUrl,
    RpmVersion,
    TokenTtl,
    TrackImageReference,
    UserName,
    check_key_strength,
    integer,
    listed,
)
from components.platforms import Platform, platform, tracks

PROJECT = "kubeadm-libvirt"

# kubeadm's later preflight demands 1700 MiB on a control-plane node; 1.13 does not check
# memory, but an apiserver and etcd below that get OOM-killed under load.
API_SERVER_PORT = 6443
MASTER_MIN_MEMORY_MIB = 1700
MASTER_MIN_VCPUS = 2
FALLBACK_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
# Docker's default bridge (moby daemon/config: bip 172.17.0.1/16) exists on every node: a node,
# pod or service network that overlaps it is routed to docker0 instead.
DOCKER_BRIDGE = IPv4Network("172.17.0.0/16")
# glibc reads at most three nameservers (resolv.h MAXNS); kubelet warns and drops the rest.
MAX_NAMESERVERS = 3
# A lab's worth of libvirt hosts; each one used gets a provider, a pool and a base image.
MAX_HYPERVISORS = 16


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
    hypervisor: Hostname = None
    existing: Boolean = None


class HypervisorConfig(Strict):
    """One entry of `hypervisors`: a libvirt host that nodes can be placed on."""

    name: Hostname
    uri: LibvirtUri
    storagePoolPath: HostPath = None  # noqa: N815
    bridge: BridgeName = None


class StackConfig(Strict):
    """Every key of Pulumi.yaml, each checked on its own. Names are the config keys. A key whose
    default depends on the track is "" (or []) in Pulumi.yaml: the track's platform says it."""

    track: Literal["tutorial", "current"]
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
    hypervisors: listed(HypervisorConfig, 0, MAX_HYPERVISORS, "hypervisors")
    libvirtNetworkName: LibvirtName
    libvirtBridge: BridgeName
    storagePoolName: LibvirtName
    storagePoolPath: HostPath
    baseImage: OptionalImageSource
    centosVaultBaseUrls: listed(RepositoryUrl, 0, 4, "URLs")
    dockerCeRepoUrl: OptionalRepositoryUrl
    dockerCeGpgKey: OptionalRepositoryUrl
    dockerVersion: RpmVersion
    containerdVersion: RpmVersion
    kubernetesRepoUrls: listed(RepositoryUrl, 0, 4, "URLs")
    kubernetesVersion: KubernetesVersion
    kubernetesCniVersion: RpmVersion
    imageRepository: ImageRepository
    podNetworkCidr: Cidr
    serviceCidr: Cidr
    keepSwap: Boolean
    joinTokenTtl: TokenTtl
    registryMirrors: listed(MirrorUrl, 0, 4, "URLs")
    registryAddress: IPv4
    registryPort: Port
    registryImage: ImageReference
    registryStoragePath: HostPath
    flannelImage: TrackImageReference
    flannelCniPluginImage: TrackImageReference
    controlPlaneEndpoint: OptionalIPv4
    kubeVipImage: TrackImageReference
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
    hypervisor: str | None = None
    """The name of the hypervisor (of `hypervisors`) the VM runs on; None: libvirtUri's."""
    existing: bool = False
    """A machine that outlives the stack (hostSource existing, or nodes[i].existing)."""

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
class Hypervisor:
    """A libvirt host the VMs run on: the stack's libvirtUri (name None) or one of
    `hypervisors`."""

    name: str | None
    uri: str
    pool_path: str
    bridge: str | None
    key: str
    """The config key that sets it, for messages: libvirtUri or hypervisors[i]."""

    @property
    def label(self) -> str:
        return self.name or "libvirtUri"


@dataclass(frozen=True)
class LibvirtSettings:
    uri: str
    network_name: str
    bridge: str | None
    pool_name: str
    pool_path: str
    base_image: str
    domain_prefix: str
    """"" on stack dev (the tutorial's names), "<stack>-" on any other."""
    stack: str
    named: tuple[Hypervisor, ...] = ()
    """The hypervisors of `hypervisors`, in order."""

    def domain_name(self, node_name: str) -> str:
        """The libvirt domain of a node."""
        return f"{self.domain_prefix}{node_name}"

    @property
    def default(self) -> Hypervisor:
        """Where a VM without nodes[i].hypervisor runs: libvirtUri."""
        return Hypervisor(None, self.uri, self.pool_path, self.bridge, "libvirtUri")

    def hypervisor(self, name: str | None) -> Hypervisor | None:
        """The hypervisor of that name (None: libvirtUri's), or None when there is none."""
        if name is None:
            return self.default
        return next((h for h in self.named if h.name == name), None)


@dataclass(frozen=True)
class PackageSettings:
    """The package sources and versions, each the configured value or the track's default;
    one track's own keys are None on the other."""

    centos_vault_base_urls: tuple[str, ...] | None
    docker_ce_repo_url: str
    docker_ce_gpg_key: str
    docker_version: str | None
    containerd_version: str | None
    kubernetes_repo_urls: tuple[str, ...]
    kubernetes_cni_version: str | None
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
    def minor(self) -> str:
        """v1.36 of v1.36.4."""
        return self.version.rsplit(".", 1)[0]

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

    track: str
    host_source: HostSource
    nodes: tuple[NodeSpec, ...]
    network: NetworkSettings
    ssh: SshSettings
    libvirt: LibvirtSettings
    packages: PackageSettings
    kubernetes: KubernetesSettings
    registry: RegistrySettings
    flannel_image: str
    flannel_cni_plugin_image: str | None
    control_plane_endpoint: IPv4Address | None
    """The virtual API address the masters hold (kube-vip), or None: the master's own."""
    kube_vip_image: str | None
    app: AppSettings

    @property
    def platform(self) -> Platform:
        """The track's platform: everything that differs between the tracks."""
        return platform(self.track)

    @property
    def masters(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is Role.MASTER)

    @property
    def master(self) -> NodeSpec:
        """The first master: it runs kubeadm init and carries the registry's address."""
        return self.masters[0]

    @property
    def api_address(self) -> IPv4Address:
        """Where the API server is reached: the virtual address, or the master's."""
        return self.control_plane_endpoint or self.master.address

    @property
    def api_endpoint(self) -> str:
        return f"{self.api_address}:{API_SERVER_PORT}"

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is Role.WORKER)

    @property
    def vms(self) -> tuple[NodeSpec, ...]:
        """The nodes this stack creates as libvirt VMs."""
        return tuple(n for n in self.nodes if not n.existing)

    def placement(self) -> dict[Hypervisor, tuple[NodeSpec, ...]]:
        """The hypervisors that run VMs, each with its VMs, in the order of first use. A node
        naming no known hypervisor is left out (the settings refuse it)."""
        placed: dict[Hypervisor, list[NodeSpec]] = {}
        for node in self.vms:
            hypervisor = self.libvirt.hypervisor(node.hypervisor)
            if hypervisor is not None:
                placed.setdefault(hypervisor, []).append(node)
        return {h: tuple(nodes) for h, nodes in placed.items()}


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
    foreign = {key for key in keys if _is_foreign(key)}
    return validate(raw, secret_keys=secret, foreign_keys=foreign, stack=pulumi.get_stack())


def _is_foreign(full_key: str) -> bool:
    """A key of another namespace: only this project's own and the engine's `pulumi:` are read
    (every provider here is explicit, so provider namespaces configure nothing)."""
    namespace = full_key.partition(":")[0]
    return namespace not in (PROJECT, "pulumi")


def stack_file_config(
    project_file: Path, stack_file: Path
) -> tuple[dict[str, Any], set[str], set[str]]:
    """The config `pulumi up` would hand the program, read from the files without the engine:
    Pulumi.yaml's defaults overlaid by the stack file's values (the CLI's mergeConfig,
    pulumi/pulumi@v3.259.0:pkg/workspace/config.go, unchanged at master 1b5949891b), scalars as
    the CLI renders them. A `secure:` value stays an EncryptedValue; its key is in the returned
    set of secret keys. The third set holds the stack file's keys of other namespaces."""
    project = yaml.safe_load(project_file.read_text())
    stack = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None
    raw = {key: d.get("default") for key, d in project.get("config", {}).items() if "default" in d}
    secret: set[str] = set()
    foreign: set[str] = set()
    for full_key, value in ((stack or {}).get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            if _is_foreign(full_key):
                foreign.add(full_key)
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = EncryptedValue()
            secret.add(key)
        raw[key] = value
    return {key: _as_cli_text(value) for key, value in raw.items()}, secret, foreign


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


# The one key whose value may be a secret: the program keeps it one all the way (a secret input
# of every connection, never a file or a command line). Every other value ends up in plain
# text in files on the nodes (repo files, daemon.json: 0644), on command lines and in the state.
SECRET_KEYS = frozenset({"sshPrivateKey"})
DEV_STACK = "dev"


def validate(
    raw: Mapping[str, Any],
    *,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    foreign_keys: frozenset[str] | set[str] = frozenset(),
    home: Path | None = None,
    stack: str = DEV_STACK,
) -> Settings:
    """Settings from raw config values as the CLI passes them (scalars as text, lists and
    objects as JSON text or already decoded). Raises the first SettingsError of check().
    `home` is where ~/.ssh is looked up when sshPrivateKey is empty (default: the user's)."""
    settings, errors = check(
        raw, secret_keys=secret_keys, foreign_keys=foreign_keys, home=home, stack=stack
    )
    if errors:
        raise errors[0]
    assert settings is not None
    return settings


def check(
    raw: Mapping[str, Any],
    *,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    foreign_keys: frozenset[str] | set[str] = frozenset(),
    home: Path | None = None,
    stack: str = DEV_STACK,
) -> tuple[Settings | None, list[SettingsError]]:
    """Every problem of a configuration at once: keys set as secrets that cannot stay secret,
    keys of other namespaces, every key on its own, then (when every key is well-formed) every
    rule between keys. A key set as a secret is refused before it is parsed, so no message
    carries any of its value. The settings are None when some key could not be read at all;
    with problems they describe a configuration nothing may be built from (`make doctor` uses
    them for the checks the problems do not touch)."""
    hidden = set(secret_keys) | SECRET_KEYS
    errors = [
        SettingsError(
            key,
            None,
            "is set as a secret, but only sshPrivateKey can stay one: this value is written in "
            "plain text to files and command lines on the nodes and to the state; set it "
            f"without --secret (`pulumi config rm {key}`, then `pulumi config set {key} ...`) "
            "and keep tokens out of it",
            secret=True,
        )
        for key in sorted(set(secret_keys) - SECRET_KEYS)
    ]
    refused = {error.key for error in errors}
    for full_key in sorted(foreign_keys):
        namespace, _, key = full_key.partition(":")
        problem = f"is in the namespace {namespace}, which nothing here reads"
        if key in StackConfig.model_fields:
            problem += f"; did you mean {PROJECT}:{key}?"
        else:
            problem += f" (this project's keys are {PROJECT}:<key>)"
        problem += f"; remove it: pulumi config rm {full_key}"
        errors.append(SettingsError(full_key, None, problem, secret=True))
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as error:
        fields = [e for e in _field_errors(error, hidden) if _root(e.key) not in refused]
        return None, errors + fields
    try:
        ssh = _ssh_settings(config, home or Path.home())
    except SettingsError as error:
        errors.append(error.hiding(hidden))
        ssh = SshSettings(_track_value(config, "sshUser"), "", None, "sshPrivateKey")
    settings = _build(config, ssh, stack)
    errors += [error.hiding(hidden) for error in _cross_check(settings, config)]
    return settings, errors


def _root(key: str) -> str:
    return re.split(r"[.\[]", key)[0]


_MESSAGES = {
    "missing": "is not set (Pulumi.yaml declares a default for every key)",
    "literal_error": "must be one of {expected}",
    "dict_type": "must be an object",
}
# The keys an entry of a list of objects must have, for "must be an object with ...".
_REQUIRED = {"nodes": "name, address and role", "hypervisors": "name and uri"}
# The model of an entry of each list of objects, for unknown keys.
_ENTRIES = {"nodes": NodeConfig, "hypervisors": HypervisorConfig}


def _field_errors(error: ValidationError, secret_keys: set[str]) -> list[SettingsError]:
    found = []
    for detail in error.errors(include_url=False):
        location = detail["loc"]
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
        key = key.lstrip(".")
        if detail["type"] in ("value_error", "assertion_error"):
            problem = str(detail["ctx"]["error"])
        elif detail["type"] == "extra_forbidden":
            problem = _unknown_key_problem(location)
        elif detail["type"] in ("model_type", "model_attributes_type"):
            problem = f"must be an object with {_REQUIRED.get(location[0], 'its keys')}"
        elif detail["type"] in _MESSAGES:
            problem = _MESSAGES[detail["type"]].format(**detail.get("ctx", {}))
        else:
            problem = detail["msg"]
        found.append(
            SettingsError(key, detail["input"], problem, secret=location[0] in secret_keys)
        )
    return found


def _unknown_key_problem(location: tuple) -> str:
    """An unknown key, with the key it was probably meant to be."""
    name = str(location[-1])
    entry = _ENTRIES.get(location[0]) if len(location) > 1 else None
    known = list((entry or StackConfig).model_fields)
    guess = {k.lower(): k for k in known}.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, known, n=1, cutoff=0.7)), None
    )
    if entry is not None:
        what = "a node" if entry is NodeConfig else "a hypervisor"
        return (
            f"unknown key; did you mean {guess}?"
            if guess
            else (f"unknown key; {what} has {', '.join(known)}")
        )
    hint = f"; did you mean {guess}?" if guess else " (see Pulumi.yaml)"
    return f"is not a setting of this project{hint} Remove it: pulumi config rm {name}"


def _track_value(config: StackConfig, key: str) -> Any:
    """The configured value of a key, or, when it is empty, the track's default (None for a key
    the track does not have)."""
    value = getattr(config, key)
    if value not in ("", ()):
        return value
    return platform(config.track).defaults.get(key)


def _build(config: StackConfig, ssh: SshSettings, stack: str) -> Settings:
    host_source = HostSource(config.hostSource)
    value = lambda key: _track_value(config, key)  # noqa: E731
    network = config.nodeNetwork
    # The first host address, found without listing the network's addresses.
    first = network.network_address + 1 if network.num_addresses > 2 else network.network_address
    gateway = config.nodeGateway or first
    # Stacks beside dev on one hypervisor never share a libvirt name: theirs carry the stack.
    suffix = "" if stack == DEV_STACK else f"-{stack}"
    nodes = tuple(
        NodeSpec(
            name=node.name,
            address=node.address,
            role=Role(node.role),
            vcpus=node.vcpus or config.nodeVcpus,
            memory_mib=node.memoryMiB or config.nodeMemoryMiB,
            disk_gib=node.diskGiB or config.nodeDiskGiB,
            host_key=node.hostKey,
            hypervisor=node.hypervisor,
            existing=host_source is HostSource.EXISTING or bool(node.existing),
        )
        for node in config.nodes
    )
    named = tuple(
        Hypervisor(
            name=h.name,
            uri=h.uri,
            pool_path=(h.storagePoolPath or config.storagePoolPath) + suffix,
            bridge=h.bridge or None,
            key=f"hypervisors[{i}]",
        )
        for i, h in enumerate(config.hypervisors)
    )
    return Settings(
        track=config.track,
        host_source=host_source,
        nodes=nodes,
        network=NetworkSettings(
            node_network=network,
            gateway=gateway,
            nameservers=config.nodeNameservers or (gateway,),
            interface=config.nodeInterface,
        ),
        ssh=ssh,
        libvirt=LibvirtSettings(
            uri=config.libvirtUri,
            network_name=config.libvirtNetworkName + suffix,
            bridge=config.libvirtBridge or None,
            pool_name=config.storagePoolName + suffix,
            pool_path=config.storagePoolPath + suffix,
            base_image=value("baseImage"),
            domain_prefix="" if stack == DEV_STACK else f"{stack}-",
            stack=stack,
            named=named,
        ),
        packages=PackageSettings(
            centos_vault_base_urls=value("centosVaultBaseUrls"),
            docker_ce_repo_url=value("dockerCeRepoUrl"),
            docker_ce_gpg_key=value("dockerCeGpgKey"),
            docker_version=value("dockerVersion"),
            containerd_version=value("containerdVersion"),
            kubernetes_repo_urls=tuple(value("kubernetesRepoUrls")),
            kubernetes_cni_version=value("kubernetesCniVersion"),
            registry_mirrors=config.registryMirrors,
        ),
        kubernetes=KubernetesSettings(
            version=value("kubernetesVersion"),
            image_repository=value("imageRepository"),
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
        flannel_image=value("flannelImage"),
        flannel_cni_plugin_image=value("flannelCniPluginImage"),
        control_plane_endpoint=config.controlPlaneEndpoint,
        kube_vip_image=value("kubeVipImage"),
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


# A key of its own for the cluster: the fix every SSH key message gives, never a change to the
# user's personal key.
DEDICATED_KEY = (
    "make a key for this cluster only: ssh-keygen -t ed25519 -N '' -f ~/.ssh/kubeadm-libvirt, "
    "then pulumi config set --secret sshPrivateKey < ~/.ssh/kubeadm-libvirt"
)


def _ssh_settings(config: StackConfig, home: Path) -> SshSettings:
    """The key pair: sshPrivateKey, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa; the
    public key is sshPublicKey, else the private key's own."""
    configured = config.sshPrivateKey
    user = _track_value(config, "sshUser")
    if isinstance(configured, EncryptedValue):
        return SshSettings(user, config.sshPublicKey, None, "sshPrivateKey")
    text_value, source = configured.get_secret_value(), "sshPrivateKey"
    if text_value == "":
        ssh_dir = home / ".ssh"
        found = next((ssh_dir / n for n in FALLBACK_KEYS if (ssh_dir / n).is_file()), None)
        if found is None:
            raise SettingsError(
                "sshPrivateKey",
                "",
                f"is not set and none of {', '.join(FALLBACK_KEYS)} exists in {ssh_dir}; "
                + DEDICATED_KEY,
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
    return SshSettings(user, public_key, SecretStr(text_value), source)


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
                "is protected by a passphrase, and Pulumi needs a key without one; keep yours "
                "as it is and " + DEDICATED_KEY
            )
        except (ValueError, UnsupportedAlgorithm) as error:
            problem = f"is not an OpenSSH or PEM private key ({error})"
    where = "" if source == "sshPrivateKey" else f" (read from {source})"
    raise SettingsError("sshPrivateKey", None, f"{problem}{where}", secret=True)


def _cross_check(settings: Settings, config: StackConfig) -> Iterator[SettingsError]:
    """Rules between keys, every problem of each."""
    yield from _check_track(settings, config)
    yield from _check_nodes(settings)
    yield from _check_hypervisors(settings)
    yield from _check_names(settings)
    yield from _check_network(settings, config)
    yield from _check_cidrs(settings)
    yield from _check_registry(settings)
    yield from _check_endpoint(settings)
    yield from _check_app(settings)


def _check_nodes(settings: Settings) -> Iterator[SettingsError]:
    names: dict[str, int] = {}
    addresses: dict[IPv4Address, int] = {}
    for i, node in enumerate(settings.nodes):
        if node.name in names:
            yield SettingsError(
                f"nodes[{i}].name", node.name, f"duplicates nodes[{names[node.name]}].name"
            )
        if node.address in addresses:
            yield SettingsError(
                f"nodes[{i}].address",
                str(node.address),
                f"duplicates nodes[{addresses[node.address]}].address",
            )
        names.setdefault(node.name, i)
        addresses.setdefault(node.address, i)
        if node.host_key and not node.existing:
            yield SettingsError(
                f"nodes[{i}].hostKey",
                node.host_key,
                "is for existing machines; libvirt VMs get a host key made by this stack",
            )
    masters = [i for i, n in enumerate(settings.nodes) if n.role is Role.MASTER]
    roles = [n.role.value for n in settings.nodes]
    own = settings.platform
    if not masters:
        yield SettingsError("nodes[*].role", roles, "need a master, found none")
    elif len(masters) > own.max_masters:
        yield SettingsError(
            "nodes[*].role",
            roles,
            f"{len(masters)} masters: {own.max_masters_reason}",
        )
    elif len(masters) > 1 and settings.control_plane_endpoint is None:
        yield SettingsError(
            "controlPlaneEndpoint",
            "",
            f"is needed with {len(masters)} masters: a free address of nodeNetwork that the "
            "masters hold for the API server (kube-vip), e.g. "
            f"{settings.network.node_network.network_address + 20}",
        )
    if len(masters) == len(settings.nodes):
        yield SettingsError(
            "nodes[*].role",
            roles,
            "need at least one worker: the master keeps kubeadm's NoSchedule taint, so the app "
            "would never be scheduled",
        )
    for index in masters:
        master = settings.nodes[index]
        if master.existing:
            continue
        if master.vcpus < MASTER_MIN_VCPUS:
            yield SettingsError(
                f"nodes[{index}].vcpus",
                master.vcpus,
                f"kubeadm needs at least {MASTER_MIN_VCPUS} on a master",
            )
        if master.memory_mib < MASTER_MIN_MEMORY_MIB:
            yield SettingsError(
                f"nodes[{index}].memoryMiB",
                master.memory_mib,
                f"a master needs at least {MASTER_MIN_MEMORY_MIB} MiB for the control plane",
            )
    if settings.vms and settings.ssh.user in own.system_accounts:
        yield SettingsError(
            "sshUser",
            settings.ssh.user,
            f"is a system account of the {settings.track} track's image (no root login, and "
            "cloud-init would give it a key and passwordless sudo); use a user of its own such "
            f"as {own.defaults['sshUser']}",
        )
    for i, node in enumerate(settings.nodes):
        if own.refuses_rsa_host_keys and (node.host_key or "").startswith("ssh-rsa "):
            # pulumi-command v1.2.1 asks only for the pinned key's type, ssh-rsa (SHA-1), which
            # EL9's DEFAULT crypto policy no longer signs with (rsa-sha2-* only): no common
            # algorithm (pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/
            # connection.go; golang/crypto@v0.48.0:ssh/handshake.go; crypto-policies DEFAULT).
            yield SettingsError(
                f"nodes[{i}].hostKey",
                node.host_key,
                "is an RSA host key: EL9's DEFAULT crypto policy offers it only as rsa-sha2-*, "
                "while Pulumi's SSH client asks for ssh-rsa, so no connection would be made; "
                "pin the host's ED25519 key (/etc/ssh/ssh_host_ed25519_key.pub)",
            )
        if not node.existing and node.disk_gib < own.min_disk_gib:
            yield SettingsError(
                f"nodes[{i}].diskGiB",
                node.disk_gib,
                f"is smaller than the {settings.track} track's image ({own.min_disk_gib} GiB)",
            )


def _check_hypervisors(settings: Settings) -> Iterator[SettingsError]:
    """Every VM on a known hypervisor, each hypervisor once, and one L2 network for all nodes:
    a libvirt NAT network lives on its own host, so a stack whose nodes are on more than one
    place (a hypervisor, or existing machines) needs a bridge onto one LAN on every hypervisor."""
    libvirt = settings.libvirt
    names: dict[str, int] = {}
    uris: dict[str, str] = {}
    for i, hypervisor in enumerate(libvirt.named):
        if hypervisor.name in names:
            yield SettingsError(
                f"hypervisors[{i}].name",
                hypervisor.name,
                f"duplicates hypervisors[{names[hypervisor.name]}].name",
            )
        if hypervisor.uri in uris:
            yield SettingsError(
                f"hypervisors[{i}].uri",
                hypervisor.uri,
                f"is {uris[hypervisor.uri]}'s too: name each libvirt host once",
            )
        names.setdefault(hypervisor.name, i)
        uris.setdefault(hypervisor.uri, f"hypervisors[{i}]")
    for i, node in enumerate(settings.nodes):
        if node.hypervisor is None:
            continue
        if settings.host_source is HostSource.EXISTING:
            yield SettingsError(
                f"nodes[{i}].hypervisor",
                node.hypervisor,
                "places a VM, but hostSource is existing: every node is a machine you run",
            )
        elif node.existing:
            yield SettingsError(
                f"nodes[{i}].hypervisor",
                node.hypervisor,
                "places a VM, but the node is an existing machine (nodes[i].existing)",
            )
        elif libvirt.hypervisor(node.hypervisor) is None:
            known = ", ".join(h.name for h in libvirt.named if h.name) or "none"
            yield SettingsError(
                f"nodes[{i}].hypervisor",
                node.hypervisor,
                f"is not the name of one of hypervisors (named: {known})",
            )
    placement = settings.placement()
    default = libvirt.default
    for hypervisor in placement:
        if hypervisor.name and hypervisor.uri == default.uri and default in placement:
            yield SettingsError(
                f"{hypervisor.key}.uri",
                hypervisor.uri,
                "is libvirtUri, where the nodes without a hypervisor run: one libvirt host under "
                "two names would hold two pools of one name; place those nodes on "
                f"{hypervisor.name} too",
            )
    places = {h.label: [n.name for n in nodes] for h, nodes in placement.items()}
    existing = [n.name for n in settings.nodes if n.existing]
    if existing:
        places["existing machines"] = existing
    if len(places) < 2:
        return
    described = "; ".join(f"{place}: {', '.join(nodes)}" for place, nodes in places.items())
    for hypervisor, nodes in placement.items():
        if hypervisor.bridge is None:
            key = "libvirtBridge" if hypervisor.name is None else f"{hypervisor.key}.bridge"
            yield SettingsError(
                key,
                "",
                f"is empty, so {', '.join(n.name for n in nodes)} on {hypervisor.label} would sit "
                "on a NAT network of that host alone, which the other nodes cannot reach "
                f"({described}); nodes on several places need a bridge onto one LAN or VLAN on "
                "every hypervisor (README: Nodes on several libvirt hosts)",
            )


def _check_track(settings: Settings, config: StackConfig) -> Iterator[SettingsError]:
    """The track takes its own versions, and no key of the other track."""
    own = settings.platform
    if not re.fullmatch(own.kubernetes_versions, settings.kubernetes.version, re.ASCII):
        yield SettingsError(
            "kubernetesVersion",
            settings.kubernetes.version,
            f"must be {own.kubernetes_versions_text} on the {settings.track} track",
        )
    for other in tracks():
        if other is own:
            continue
        for key in sorted(other.own_keys):
            value = getattr(config, key)
            if value not in ("", (), None):
                yield SettingsError(
                    key,
                    value,
                    f"belongs to the {other.track} track, and this stack's track is "
                    f"{settings.track}; remove it: pulumi config rm {key}",
                )
    if own.track == "tutorial":
        for i, url in enumerate(settings.packages.kubernetes_repo_urls):
            if MINOR_PLACEHOLDER in url:
                yield SettingsError(
                    f"kubernetesRepoUrls[{i}]",
                    url,
                    "names {minor}, but the tutorial's repository holds every 1.13 release",
                )


def _check_names(settings: Settings) -> Iterator[SettingsError]:
    """The libvirt names with the stack's suffix still fit libvirt's names."""
    libvirt = settings.libvirt
    if libvirt.stack == DEV_STACK:
        return
    derived = {
        "libvirtNetworkName": libvirt.network_name,
        "storagePoolName": libvirt.pool_name,
        "storagePoolPath": libvirt.pool_path.rsplit("/", 1)[-1],
        "nodes[*].name": libvirt.domain_name(max((n.name for n in settings.nodes), key=len)),
    }
    for hypervisor in libvirt.named:
        derived[f"{hypervisor.key}.storagePoolPath"] = hypervisor.pool_path.rsplit("/", 1)[-1]
    for key, name in derived.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name, re.ASCII):
            yield SettingsError(
                key,
                name,
                f"with stack {libvirt.stack!r} in it is not a libvirt name (letters, digits, "
                "_ . -, at most 64): use a shorter stack name",
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


# One L2 segment of VMs or machines; wider is a typo, and would only make libvirt's NAT network
# and dnsmasq manage millions of addresses.
WIDEST_NODE_NETWORK = 16


def _check_network(settings: Settings, config: StackConfig) -> Iterator[SettingsError]:
    network = settings.network
    node_network = network.node_network
    problem = _special_address_problem(node_network.network_address) or (
        "has room for no hosts" if node_network.prefixlen > 29 else None
    )
    if problem is None and node_network.prefixlen < WIDEST_NODE_NETWORK:
        problem = (
            f"is wider than /{WIDEST_NODE_NETWORK} ({node_network.num_addresses} addresses); "
            "the nodes share one network segment"
        )
    if problem is None and node_network.overlaps(DOCKER_BRIDGE):
        problem = f"overlaps Docker's bridge network {DOCKER_BRIDGE} on every node"
    if problem:
        yield SettingsError("nodeNetwork", str(node_network), problem)
        return
    problem = _host_address_problem(network.gateway, node_network)
    if problem:
        yield SettingsError("nodeGateway", str(network.gateway), problem)
    for i, node in enumerate(settings.nodes):
        problem = _host_address_problem(node.address, node_network)
        if problem is None and node.address == network.gateway:
            problem = "is the nodes' gateway address"
        if problem:
            yield SettingsError(f"nodes[{i}].address", str(node.address), problem)
    for i, server in enumerate(config.nodeNameservers):
        problem = _special_address_problem(server)
        if problem is None and server in (
            node_network.network_address,
            node_network.broadcast_address,
        ):
            problem = f"is the network or broadcast address of {node_network}"
        if problem == "is a loopback address":
            problem = "is a loopback resolver; CoreDNS would loop"
        if problem is None and server == IPv4Address("255.255.255.255"):
            problem = "is the broadcast address"
        if problem:
            yield SettingsError(f"nodeNameservers[{i}]", str(server), problem)


def _check_cidrs(settings: Settings) -> Iterator[SettingsError]:
    k8s, node_network = settings.kubernetes, settings.network.node_network
    pod, service = k8s.pod_network_cidr, k8s.service_cidr
    # kube-controller-manager gives every node a /24 of the pod network (NodeCIDRMaskSize
    # defaults to 24: kubernetes/kubernetes 1.13 pkg/apis/componentconfig/v1alpha1/defaults.go);
    # flannel's SubnetLen is /24 too.
    node_bits = max(1, len(settings.nodes) - 1).bit_length()
    if pod.prefixlen > 24 - node_bits:
        yield SettingsError(
            "podNetworkCidr",
            str(pod),
            f"is too small: each of {len(settings.nodes)} nodes gets a /24 from it, so it needs "
            f"a prefix of /{24 - node_bits} or shorter",
        )
    # kube-apiserver refuses a service range of more than 2^20 addresses (bits-ones > 20:
    # kubernetes/kubernetes 1.13 cmd/kube-apiserver/app/options/validation.go
    # validateClusterIPFlags); below /28 there is no room for the API and DNS services.
    if not 12 <= service.prefixlen <= 28:
        yield SettingsError("serviceCidr", str(service), "must have a prefix between /12 and /28")
    for key, cidr in (("podNetworkCidr", pod), ("serviceCidr", service)):
        problem = _special_address_problem(cidr.network_address)
        if problem:
            yield SettingsError(key, str(cidr), problem.replace("address", "network"))
    if pod.overlaps(service):
        yield SettingsError("podNetworkCidr", str(pod), f"overlaps serviceCidr {service}")
    for key, cidr in (("podNetworkCidr", pod), ("serviceCidr", service)):
        if cidr.overlaps(node_network):
            yield SettingsError(key, str(cidr), f"overlaps nodeNetwork {node_network}")
        if cidr.overlaps(DOCKER_BRIDGE):
            yield SettingsError(
                key, str(cidr), f"overlaps Docker's bridge network {DOCKER_BRIDGE} on every node"
            )


def _free_address_problem(address: IPv4Address, settings: Settings) -> str | None:
    """Why address is not a free host address of the node network (a host address, not the
    gateway, no node's), or None."""
    problem = _host_address_problem(address, settings.network.node_network)
    if problem is None and address == settings.network.gateway:
        problem = "is the nodes' gateway address"
    for node in settings.nodes:
        if problem is None and node.address == address:
            problem = f"is the address of node {node.name}"
    return problem


def _check_registry(settings: Settings) -> Iterator[SettingsError]:
    address = settings.registry.address
    problem = _free_address_problem(address, settings)
    if problem:
        yield SettingsError("registryAddress", str(address), problem)


def _check_endpoint(settings: Settings) -> Iterator[SettingsError]:
    """The virtual API address: a free host address of the node network."""
    address = settings.control_plane_endpoint
    if address is None:
        return
    problem = _free_address_problem(address, settings)
    if problem is None and address == settings.registry.address:
        problem = "is registryAddress: the registry's address is the first master's own"
    if problem:
        yield SettingsError("controlPlaneEndpoint", str(address), problem)


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


def _check_app(settings: Settings) -> Iterator[SettingsError]:
    app = settings.app
    # The API server refuses a request above its limit (core validation of ResourceRequirements).
    for resource, request, limit in (
        ("Cpu", app.cpu_request, app.cpu_limit),
        ("Memory", app.memory_request, app.memory_limit),
    ):
        if _quantity(request) > _quantity(limit):
            yield SettingsError(
                f"app{resource}Request", request, f"is more than app{resource}Limit {limit}"
            )
