"""`make doctor`: a preflight of this machine, the hypervisor and every source the nodes will
use, before a `pulumi up` that takes 15-25 minutes.

It names the stack's track (tutorial or current) and probes what that track will fetch: the
repositories and keys of the very repo files its platform gives the hosts (placeholders such as
`{minor}` filled in as there), its base image and the registries of the images it runs.

It reads the stack configuration `pulumi up` will use (Pulumi.yaml's defaults plus
Pulumi.<stack>.yaml) and checks it with the program's own settings models, without the Pulumi
engine, reporting every problem at once. Every check that does not depend on a failed setting
runs anyway, on the project defaults, so one run shows everything there is to fix. It never
sends traffic to a node address: the node network is compared with the routing table and
libvirt's networks, read locally. External sources are probed in parallel within one deadline
and reported as warnings, since the VMs' view of the network may differ.

    python -m tools.doctor [--stack dev] [--root .]

Exit status 1 when any check is a blocker (FAIL).
"""

from __future__ import annotations

import argparse
import configparser
import grp
import gzip
import importlib.metadata
import ipaddress
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.fields import MINOR_PLACEHOLDER  # noqa: E402
from components.platforms import tracks  # noqa: E402
from components.settings import (  # noqa: E402
    DEDICATED_KEY,
    MASTER_MIN_MEMORY_MIB,
    PROJECT,
    HostSource,
    Hypervisor,
    NodeSpec,
    Settings,
    SettingsError,
    check,
    stack_file_config,
)

MIN_PYTHON = (3, 10)
# The CLI range the README states: from 3.202 (it merges and validates project defaults; `type:
# object` arrived in 3.187) to the newest engine the plan simulator models (tests/plan.py
# ENGINES: pulumi/pulumi read at v3.259.0 and at master 1b5949891b, on its way to 3.260.0).
# tests/test_plan.py fails when this range reaches past what is modelled.
PULUMI_RANGE = ((3, 202, 0), (3, 261, 0))
PULUMI_INSTALL_VERSION = "3.260.0"
PROBE_TIMEOUT_SECONDS = 3.0
PROBE_DEADLINE_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 10
MAX_REDIRECTS = 5
DISK_PER_NODE_GIB = 4  # thin disks: the image's 1.2 GiB used, then packages and images
BASE_IMAGE_GIB = 1
PASSPHRASE_FILE = ".pulumi-passphrase"
# The socket the libvirt provider dials for a local URI unless ?socket= says otherwise
# (terraform-provider-libvirt@v0.8.1:libvirt/uri/unix.go defaultUnixSock). Modular daemons
# serve it from virtproxyd; virsh itself talks to virtqemud, so virsh alone does not prove it.
LIBVIRT_SOCKET = "/var/run/libvirt/libvirt-sock"

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"


def cli_range_text() -> str:
    """The accepted CLI range in words, as the README states it."""
    (low_major, low_minor, _), (high_major, high_minor, _) = PULUMI_RANGE
    return f"{low_major}.{low_minor} to {high_major}.{high_minor - 1}"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class System:
    """Where the doctor looks on this machine (tests point every part elsewhere)."""

    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    kvm: Path = Path("/dev/kvm")
    meminfo: Path = Path("/proc/meminfo")
    apparmor: Path = Path("/sys/module/apparmor/parameters/enabled")
    qemu_conf: Path = Path("/etc/libvirt/qemu.conf")
    os_release: Path = Path("/etc/os-release")
    filesystem: Path = Path("/")
    """Absolute paths of the hypervisor (sockets, the pool's directory) are read under this."""
    euid: int = field(default_factory=os.geteuid)
    user: str = field(default_factory=lambda: pwd.getpwuid(os.geteuid()).pw_name)
    groups: frozenset[str] = field(
        default_factory=lambda: frozenset(grp.getgrgid(g).gr_name for g in os.getgroups())
    )

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.environ.get("PATH", ""))

    def path(self, absolute: str) -> Path:
        return self.filesystem / absolute.lstrip("/")

    def writable(self, path: Path) -> bool:
        return os.access(path, os.W_OK)

    def free_bytes(self, path: Path) -> int:
        stats = os.statvfs(path)
        return stats.f_bavail * stats.f_frsize

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        """argv with a deadline: a tool that hangs (a hypervisor that does not answer) ends as a
        failure with status 124, as timeout(1) reports it, never as an exception."""
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_SECONDS,
                env=self.environ,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(
                argv, 124, "", f"did not answer within {COMMAND_TIMEOUT_SECONDS}s"
            )
        except OSError as error:
            return subprocess.CompletedProcess(argv, 127, "", str(error))


# --- this machine ----------------------------------------------------------------------------


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("Python", FAIL, version, "use Python 3.10 or newer (make PYTHON=python3.11)")
    return Check("Python", OK, version)


def check_dependencies(root: Path) -> Check:
    wrong = []
    for line in (root / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if not sep:
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong.append(f"{name} {installed} (needs {version})")
    if wrong:
        return Check(
            "Python packages", FAIL, ", ".join(wrong), "run `make doctor` (it installs .venv)"
        )
    return Check("Python packages", OK, "the pinned versions")


def install_cli() -> str:
    return f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PULUMI_INSTALL_VERSION}"


def check_pulumi(system: System) -> Check:
    if not system.which("pulumi"):
        return Check(
            "Pulumi CLI", FAIL, "not installed", f"{install_cli()}   (then open a new shell)"
        )
    result = system.run("pulumi", "version")
    output = result.stdout.strip()
    if result.returncode != 0:
        return Check(
            "Pulumi CLI", FAIL, f"`pulumi version` failed: {result.stderr.strip()[:120]}",
            install_cli(),
        )  # fmt: skip
    found = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)\S*", output)
    if not found:
        return Check("Pulumi CLI", WARN, f"unrecognised version {output!r}")
    version = tuple(int(part) for part in found.groups())
    low, high = PULUMI_RANGE
    if not low <= version < high:
        return Check("Pulumi CLI", FAIL, f"{output} is outside {cli_range_text()}", install_cli())
    return Check("Pulumi CLI", OK, f"{output} ({cli_range_text()})")


def check_passphrase(root: Path, stack: str, system: System) -> Check:
    """The passphrase that encrypts the state's secrets: the environment's, else the project's
    .pulumi-passphrase, which the first make target makes when there is no state yet."""
    name = "state passphrase"
    for variable in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        if variable in system.environ:
            return Check(name, OK, f"{variable} is set")
    if (root / PASSPHRASE_FILE).is_file():
        return Check(name, OK, f"{PASSPHRASE_FILE} (keep it with .pulumi-state)")
    if state_file(root, stack, system) is None:
        return Check(name, OK, f"make makes {PASSPHRASE_FILE} (0600) before the first stack")
    return Check(
        name,
        FAIL,
        f"stack {stack} has a state but no passphrase is set and there is no {PASSPHRASE_FILE}",
        "export PULUMI_CONFIG_PASSPHRASE_FILE=/path/to/the/file/with/its/passphrase",
    )


# --- the configuration -------------------------------------------------------------------------


@dataclass
class Configuration:
    """The stack's settings, every problem of them, and which keys the problems are about."""

    settings: Settings | None
    checks: list[Check]
    failed: set[str]


def _root_key(key: str) -> str:
    return re.split(r"[.\[]", key)[0]


def _set_command(key: str, stack: str) -> str:
    path = " --path" if "[" in key or "." in key else ""
    return f"pulumi config set --stack {stack}{path} '{key}' <value>"


def fix_for(
    error: SettingsError, stack: str, cli: bool, other_track_keys: Iterable[str] = ()
) -> str:
    """What to do about a configuration problem, in the form that works on this machine. A key
    only another track has is removed, whatever is wrong with its value."""
    key = error.key
    if "is set as a secret" in error.problem:
        return f"pulumi config rm --stack {stack} {key}, then {_set_command(key, stack)}"
    if "not a setting of this project" in error.problem or ":" in key:
        return f"pulumi config rm --stack {stack} {key}"
    if _root_key(key) in set(other_track_keys):
        return f"pulumi config rm --stack {stack} {_root_key(key)}"
    if _root_key(key) in ("sshPrivateKey", "sshPublicKey"):
        return DEDICATED_KEY
    if cli:
        return f"{_set_command(key, stack)}   (it writes Pulumi.{stack}.yaml)"
    return f"edit {key} in Pulumi.{stack}.yaml (with the Pulumi CLI: {_set_command(key, stack)})"


def keys_of_other_tracks(track: Any) -> frozenset[str]:
    """The settings only the other tracks have, when track names one of the tracks."""
    if not any(platform.track == track for platform in tracks()):
        return frozenset()
    return frozenset().union(*(p.own_keys for p in tracks() if p.track != track))


def check_track(settings: Settings, failed: set[str]) -> Check:
    """Which track the stack builds: what every source below belongs to."""
    if "track" in failed:
        return Check("track", SKIP, "fix track first")
    detail = f"{settings.track} ({settings.platform.title})"
    if "kubernetesVersion" not in failed:
        detail += f", kubernetesVersion {settings.kubernetes.version}"
    return Check("track", OK, detail)


def load(root: Path, stack: str, system: System) -> Configuration:
    """Every configuration problem as a FAIL line. The settings returned are the stack's, or,
    when some keys failed, the stack's with those keys at the project's defaults (for the
    checks that do not depend on them), or None."""
    stack_path = root / f"Pulumi.{stack}.yaml"
    checks: list[Check] = []
    if not stack_path.is_file():
        checks.append(
            Check(
                "stack file",
                FAIL,
                f"there is no Pulumi.{stack}.yaml, so stack {stack} would run on the project's "
                "defaults: the tutorial's addresses, which stack dev uses",
                f"cp Pulumi.dev.yaml Pulumi.{stack}.yaml (the tutorial; Pulumi.current.yaml for "
                "the current track) and give it a nodeNetwork, node addresses and a "
                "registryAddress of its own (README: Two stacks on one hypervisor)",
            )
        )
    raw, secret, foreign = stack_file_config(root / "Pulumi.yaml", stack_path)
    home = Path(system.environ.get("HOME", str(Path.home())))
    settings, errors = check(raw, secret_keys=secret, foreign_keys=foreign, home=home, stack=stack)
    cli = bool(system.which("pulumi"))
    others = keys_of_other_tracks(raw.get("track"))
    for error in errors:
        checks.append(
            Check(f"config {error.key}", FAIL, str(error), fix_for(error, stack, cli, others))
        )
    failed = {_root_key(error.key) for error in errors}
    if settings is None:
        # Some key could not be read at all: the project's default stands in for each failed
        # one, so the checks that do not depend on it still run.
        defaults, _, _ = stack_file_config(root / "Pulumi.yaml", root / "-none-")
        lenient = {
            k: defaults[k] if k in failed else v
            for k, v in raw.items()
            if k not in failed or k in defaults
        }
        settings, _ = check(lenient, secret_keys=secret - failed, home=home, stack=stack)
    if settings is not None and not errors:
        checks.append(
            Check(
                "configuration",
                OK,
                f"stack {stack}: {len(settings.nodes)} nodes, {settings.host_source.value}, "
                f"Kubernetes {settings.kubernetes.version}",
            )
        )
    return Configuration(settings, checks, failed)


def check_ssh_key(settings: Settings) -> Check:
    if settings.ssh.private_key is None:
        return Check("SSH key pair", OK, "sshPrivateKey is set as a secret (not decrypted here)")
    return Check(
        "SSH key pair",
        OK,
        f"{settings.ssh.key_source}, public key {settings.ssh.public_key.split()[0]} belongs to it",
    )


# --- the hypervisor --------------------------------------------------------------------------


def is_local(uri: str) -> bool:
    return urlsplit(uri).scheme in ("qemu", "qemu+unix")


def check_mkisofs(system: System) -> Check:
    """The provider runs exactly `mkisofs -output ... -volid cidata -joliet -rock` on this machine
    (terraform-provider-libvirt@v0.8.1:libvirt/cloudinit_def.go): that name must be on PATH."""
    if system.which("mkisofs"):
        return Check("mkisofs", OK, system.which("mkisofs") or "")
    distribution = system.os_release.read_text() if system.os_release.exists() else ""
    if re.search(r"^(ID|ID_LIKE)=.*(fedora|rhel|centos)", distribution, re.M):
        fix = "sudo dnf install xorriso   (it provides mkisofs through alternatives)"
    else:
        fix = "sudo apt-get install genisoimage   (it provides mkisofs)"
    return Check(
        "mkisofs",
        FAIL,
        "not found: the libvirt provider runs exactly `mkisofs` to build the cloud-init seeds",
        fix,
    )


START_LIBVIRT = (
    "start libvirt: sudo systemctl enable --now libvirtd (modular daemons, Fedora/RHEL 9: "
    "virtqemud.socket and virtproxyd.socket), then allow your user: sudo usermod -aG libvirt "
    "$USER and log in again"
)


def check_libvirt(hypervisor: Hypervisor, system: System) -> Check:
    uri, name = hypervisor.uri, _named("libvirt", hypervisor)
    if not system.which("virsh"):
        return Check(
            name,
            FAIL,
            f"virsh is not installed, so {uri} cannot be checked (and `make console` needs it)",
            "sudo apt-get install libvirt-clients   (Fedora/RHEL: sudo dnf install libvirt-client)",
        )
    result = system.run("virsh", "--connect", uri, "--readonly", "version")
    if result.returncode != 0:
        return Check(
            name,
            FAIL,
            f"cannot connect to {uri}: {result.stderr.strip()[:200]}",
            START_LIBVIRT if is_local(uri) else _REACH_REMOTE,
        )
    return Check(name, OK, f"{uri} answers")


_REACH_REMOTE = (
    "make `virsh --connect <uri> version` work from this machine first: libvirt running on that "
    "host, your SSH key in its user's authorized_keys and its host key in ~/.ssh/known_hosts"
)


def _named(check: str, hypervisor: Hypervisor) -> str:
    """A check's name, with the hypervisor it is about unless it is libvirtUri's."""
    return check if hypervisor.name is None else f"{check} on {hypervisor.name}"


def _virsh(system: System, hypervisor: Hypervisor, *argv: str) -> subprocess.CompletedProcess:
    return system.run("virsh", "--connect", hypervisor.uri, "--readonly", *argv)


def check_remote_kvm(hypervisor: Hypervisor, system: System) -> Check:
    """KVM on a hypervisor reached over the network: libvirt's domain capabilities for the kvm
    domain type fail where QEMU has no KVM (virsh domcapabilities --virttype kvm)."""
    name = _named("KVM", hypervisor)
    result = _virsh(system, hypervisor, "domcapabilities", "--virttype", "kvm")
    if result.returncode != 0:
        return Check(
            name,
            FAIL,
            f"{hypervisor.uri} offers no KVM domains: {result.stderr.strip()[:200]}",
            "enable VT-x/AMD-V in that host's firmware and load kvm_intel or kvm_amd there",
        )
    return Check(name, OK, f"{hypervisor.uri} runs KVM domains")


def check_remote_memory(hypervisor: Hypervisor, nodes: Sequence[NodeSpec], system: System) -> Check:
    """Free, buffered and cached memory of a remote hypervisor (virsh nodememstats, KiB)
    against the memory of the nodes placed there."""
    name = _named("memory", hypervisor)
    needed = sum(node.memory_mib for node in nodes)
    result = _virsh(system, hypervisor, "nodememstats")
    stats = dict(re.findall(r"^\s*(\w+)\s*:\s*(\d+) KiB", result.stdout, re.M))
    if result.returncode != 0 or "free" not in stats:
        return Check(name, WARN, f"cannot read the memory of {hypervisor.uri}")
    available = sum(int(stats.get(k, 0)) for k in ("free", "buffers", "cached")) // 1024
    placed = ", ".join(node.name for node in nodes)
    if available < needed:
        return Check(
            name,
            FAIL,
            f"{available} MiB available on {hypervisor.uri}, {placed} need {needed} MiB",
            "free memory there, place a node elsewhere, or lower nodes[i].memoryMiB",
        )
    return Check(name, OK, f"{available} MiB available for {needed} MiB of {placed}")


def check_remote_disk(
    hypervisor: Hypervisor, pool: str, nodes: Sequence[NodeSpec], system: System
) -> Check:
    """The pool's free space on a remote hypervisor, once the pool exists (virsh pool-info);
    its directory cannot be read over libvirt before."""
    name = _named("disk", hypervisor)
    result = _virsh(system, hypervisor, "pool-info", pool, "--bytes")
    found = re.search(r"^Available:\s+(\d+)", result.stdout, re.M)
    if result.returncode != 0 or not found:
        return Check(
            name, SKIP, f"pool {pool} does not exist on {hypervisor.uri} yet: checked after it"
        )
    free_gib = int(found[1]) / 1024**3
    needed = DISK_PER_NODE_GIB * len(nodes)
    if free_gib < needed:
        return Check(
            name,
            FAIL,
            f"{free_gib:.1f} GiB free in pool {pool} on {hypervisor.uri}, about {needed} GiB "
            "needed",
            f"free space in {hypervisor.pool_path} there, or set {hypervisor.key}.storagePoolPath",
        )
    return Check(name, OK, f"{free_gib:.1f} GiB free in pool {pool} for about {needed} GiB")


def check_bridge(hypervisor: Hypervisor, system: System) -> Check:
    """The bridge the VMs attach to exists on their hypervisor: libvirt's host interfaces
    (virsh iface-list), else its network devices (nodedev-list --cap net, named
    net_<interface>_<mac>), whichever driver that host runs."""
    name = _named("bridge", hypervisor)
    bridge = hypervisor.bridge or ""
    listed = _virsh(system, hypervisor, "iface-list", "--all")
    devices = _virsh(system, hypervisor, "nodedev-list", "--cap", "net")
    names = set()
    if listed.returncode == 0:
        names |= {line.split()[0] for line in listed.stdout.splitlines()[2:] if line.split()}
    if devices.returncode == 0:
        names |= {m[1] for m in re.finditer(r"^net_(.+?)(_[0-9a-f]{2}){6}$", devices.stdout, re.M)}
    if listed.returncode != 0 and devices.returncode != 0:
        return Check(
            name,
            WARN,
            f"cannot list the interfaces of {hypervisor.uri}: make sure {bridge} exists there",
        )
    if bridge not in names:
        key = "libvirtBridge" if hypervisor.name is None else f"{hypervisor.key}.bridge"
        return Check(
            name,
            FAIL,
            f"{bridge} is not an interface of {hypervisor.uri}",
            f"make the bridge there (README: Nodes on several libvirt hosts), or fix {key}",
        )
    return Check(name, OK, f"{bridge} exists on {hypervisor.uri}")


def check_libvirt_socket(settings: Settings, system: System) -> Check:
    """The socket the provider itself dials for a local URI, which virsh may not use."""
    parameters = dict(parse_qsl(urlsplit(settings.libvirt.uri).query))
    socket = parameters.get("socket") or LIBVIRT_SOCKET
    path = system.path(socket)
    if not path.exists():
        return Check(
            "libvirt socket",
            FAIL,
            f"{socket} does not exist: the libvirt provider connects there",
            START_LIBVIRT,
        )
    if not system.writable(path):
        return Check(
            "libvirt socket",
            FAIL,
            f"{socket} is not writable by {system.user}",
            "sudo usermod -aG libvirt $USER, then log in again",
        )
    return Check("libvirt socket", OK, socket)


def check_kvm(system: System) -> Check:
    if not system.kvm.exists():
        return Check(
            "/dev/kvm",
            FAIL,
            "missing: no hardware virtualisation",
            "enable VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd",
        )
    if not os.access(system.kvm, os.R_OK | os.W_OK):
        return Check("/dev/kvm", WARN, "not writable by you (libvirt's qemu user may still use it)")
    return Check("/dev/kvm", OK, "present")


def check_group(system: System) -> Check:
    if system.euid == 0:
        return Check("libvirt access", OK, "running as root")
    if "libvirt" in system.groups:
        return Check("libvirt access", OK, f"{system.user} is in the libvirt group")
    return Check(
        "libvirt access",
        WARN,
        f"{system.user} is not in the libvirt group",
        "sudo usermod -aG libvirt $USER, then log in again",
    )


def check_memory(nodes: Sequence[NodeSpec], system: System) -> Check:
    needed = sum(node.memory_mib for node in nodes)
    found = re.search(r"^MemAvailable:\s+(\d+) kB", system.meminfo.read_text(), re.M)
    if not found:
        return Check("memory", WARN, "MemAvailable not found in /proc/meminfo")
    available = int(found[1]) // 1024
    if available < needed:
        return Check(
            "memory",
            FAIL,
            f"{available} MiB available, the nodes need {needed} MiB",
            "free memory, or lower nodeMemoryMiB / nodes[i].memoryMiB "
            f"(the master needs {MASTER_MIN_MEMORY_MIB})",
        )
    return Check("memory", OK, f"{available} MiB available for {needed} MiB of nodes")


def check_disk(pool_path: str, nodes: Sequence[NodeSpec], system: System) -> Check:
    wanted = pool_path
    path = system.path(wanted)
    while not path.exists() and path != path.parent:
        path = path.parent
    free_gib = system.free_bytes(path) / 1024**3
    shown = "/" + str(path.relative_to(system.filesystem)).removeprefix(".")
    needed = BASE_IMAGE_GIB + DISK_PER_NODE_GIB * len(nodes)
    if free_gib < needed:
        return Check(
            "disk",
            FAIL,
            f"{free_gib:.1f} GiB free at {shown} ({wanted}), about {needed} GiB needed",
            "free space there or set storagePoolPath to a roomier directory",
        )
    return Check("disk", OK, f"{free_gib:.1f} GiB free at {shown} for about {needed} GiB")


def libvirt_networks(
    system: System, uri: str
) -> dict[str, tuple[list[ipaddress.IPv4Network], str]]:
    """name -> (its IPv4 networks, its bridge), read from libvirt (nothing is sent to them)."""
    if not system.which("virsh"):
        return {}
    listed = system.run("virsh", "--connect", uri, "--readonly", "net-list", "--all", "--name")
    if listed.returncode != 0:
        return {}
    networks = {}
    for name in listed.stdout.split():
        dumped = system.run("virsh", "--connect", uri, "--readonly", "net-dumpxml", name)
        try:
            document = ElementTree.fromstring(dumped.stdout)
        except ElementTree.ParseError:
            continue
        cidrs = []
        for ip in document.findall("ip"):
            if ip.get("family", "ipv4") != "ipv4" or not ip.get("address"):
                continue
            mask = ip.get("prefix") or ip.get("netmask") or "24"
            cidrs.append(ipaddress.IPv4Interface(f"{ip.get('address')}/{mask}").network)
        bridge = document.find("bridge")
        networks[name] = (cidrs, bridge.get("name", "") if bridge is not None else "")
    return networks


def check_node_network(settings: Settings, system: System, hypervisor: Hypervisor) -> Check:
    node_network = settings.network.node_network
    ours = settings.libvirt.network_name
    networks = libvirt_networks(system, hypervisor.uri)
    own_bridge = networks.get(ours, ([], ""))[1]
    check = _named("node network", hypervisor)
    for name, (cidrs, _) in networks.items():
        if name == ours and hypervisor.bridge is None:
            continue
        for cidr in cidrs:
            if cidr.overlaps(node_network):
                return Check(
                    check,
                    FAIL,
                    f"{node_network} overlaps libvirt network {name} ({cidr})",
                    "set nodeNetwork (and the node and registry addresses) to a free range, or "
                    f"remove that network (virsh net-destroy {name}; virsh net-undefine {name})",
                )
    local = is_local(hypervisor.uri)
    if hypervisor.bridge is not None or not local or not system.which("ip"):
        return Check(check, OK, f"{node_network} is not used by another libvirt network")
    routes = system.run("ip", "-4", "route", "show").stdout
    for line in routes.splitlines():
        words = line.split()
        if not words or words[0] == "default":
            continue
        try:
            destination = ipaddress.IPv4Network(words[0], strict=False)
        except ValueError:
            continue
        device = words[words.index("dev") + 1] if "dev" in words else ""
        if destination.overlaps(node_network) and not (own_bridge and device == own_bridge):
            return Check(
                check,
                FAIL,
                f"{node_network} is already routed here: {line.strip()}",
                "set nodeNetwork (and the node and registry addresses) to a range this host "
                "does not use",
            )
    return Check(check, OK, f"{node_network} is not routed here yet")


def check_other_stacks(root: Path, stack: str, settings: Settings, system: System) -> Check:
    """Another stack of this project whose nodes would share addresses with this one, or whose
    node network overlaps it on the same hypervisor: the two would break each other."""
    home = Path(system.environ.get("HOME", str(Path.home())))
    for path in sorted(root.glob("Pulumi.*.yaml")):
        other = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if other == stack:
            continue
        raw, secret, foreign = stack_file_config(root / "Pulumi.yaml", path)
        theirs, _ = check(raw, secret_keys=secret, foreign_keys=foreign, home=home, stack=other)
        if theirs is None:
            continue
        shared = {str(n.address) for n in settings.nodes} & {str(n.address) for n in theirs.nodes}
        same_hypervisor = bool(_hypervisor_uris(settings) & _hypervisor_uris(theirs))
        overlap = same_hypervisor and settings.network.node_network.overlaps(
            theirs.network.node_network
        )
        if shared or overlap:
            what = (
                f"node addresses {', '.join(sorted(shared))}"
                if shared
                else f"nodeNetwork {theirs.network.node_network}"
            )
            return Check(
                "other stacks",
                FAIL,
                f"stack {other} (Pulumi.{other}.yaml) uses {what} on the same hypervisor",
                f"give stack {stack} a nodeNetwork, node addresses and registryAddress of its own",
            )
    return Check("other stacks", OK, "no other stack of this project uses these addresses")


def _hypervisor_uris(settings: Settings) -> set[str]:
    """The libvirt URIs a stack runs VMs on (none for existing machines)."""
    if settings.host_source is not HostSource.LIBVIRT:
        return set()
    return {hypervisor.uri for hypervisor in settings.placement()}


def check_apparmor(system: System) -> Check:
    if not system.apparmor.exists() or system.apparmor.read_text().strip() != "Y":
        return Check("AppArmor", OK, "not active")
    try:
        conf = system.qemu_conf.read_text()
    except OSError:
        return Check(
            "AppArmor",
            WARN,
            f"active; {system.qemu_conf} is not readable, so security_driver is unknown",
            "see README, Troubleshooting: Permission denied on a pool volume",
        )
    driver = re.search(r'^\s*security_driver\s*=\s*"([^"]*)"', conf, re.M)
    if driver and driver[1] == "none":
        return Check("AppArmor", OK, 'active; libvirt runs with security_driver = "none"')
    return Check(
        "AppArmor",
        WARN,
        "active: domains may fail with `Permission denied` on the stack's pool volumes",
        'set security_driver = "none" in /etc/libvirt/qemu.conf and restart libvirtd '
        "(README, Troubleshooting)",
    )


# --- the state -------------------------------------------------------------------------------


def state_file(root: Path, stack: str, system: System) -> Path | None:
    """The stack's checkpoint in a local (file://) backend: .pulumi/stacks/<project>/<stack>
    .json, or .json.gz (pulumi/pulumi@1b5949891b:pkg/backend/diy/store.go StackBasePath; the
    legacy layout has no project folder). None for another backend or no state yet."""
    url = system.environ.get("PULUMI_BACKEND_URL") or f"file://{root / '.pulumi-state'}"
    if not url.startswith("file://"):
        return None
    base = Path(url.removeprefix("file://").split("?")[0]).expanduser()
    if not base.is_absolute():
        base = root / base
    stacks = base / ".pulumi" / "stacks"
    for folder in (stacks / PROJECT, stacks):
        for suffix in (".json", ".json.gz"):
            candidate = folder / f"{stack}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def state_libvirt_uris(path: Path) -> set[str]:
    """The URIs of the libvirt providers in a checkpoint."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        document = json.load(handle)
    resources = ((document.get("checkpoint") or {}).get("latest") or {}).get("resources") or []
    return {
        resource["inputs"]["uri"]
        for resource in resources
        if resource.get("type") == "pulumi:providers:libvirt"
        and isinstance((resource.get("inputs") or {}).get("uri"), str)
    }


def check_state_hypervisor(root: Path, stack: str, settings: Settings, system: System) -> Check:
    """A new libvirtUri replaces the libvirt provider delete-first: every VM is deleted through
    the old hypervisor before anything is made on the new one (pulumi/pulumi@1b5949891b:
    pkg/resource/deploy/step_generator.go calculateDependentReplacements loads the old provider
    for those deletes), and `make up` stops there when the old hypervisor is gone."""
    name = "hypervisor in the state"
    path = state_file(root, stack, system)
    if path is None:
        return Check(name, OK, "no local state for this stack yet")
    try:
        uris = state_libvirt_uris(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Check(name, WARN, f"{path} could not be read ({error})")
    wanted = {hypervisor.uri for hypervisor in settings.placement()}
    gone = uris - wanted
    if not gone:
        shown = ", ".join(sorted(uris))
        return Check(name, OK, f"{path.name}: {shown}" if uris else "no VMs in the state")
    return Check(
        name,
        WARN,
        f"the stack has VMs on {', '.join(sorted(gone))}, which the configuration no longer "
        f"uses ({', '.join(sorted(wanted)) or 'no VMs'}): `make up` first deletes them "
        "through that hypervisor and stops if it is gone",
        "keep the old hypervisor reachable for that run, or see README, Changing the hypervisor",
    )


# --- external sources --------------------------------------------------------------------------


def registry_of(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return "registry-1.docker.io" if first == "docker.io" else first
    return "registry-1.docker.io"


@dataclass(frozen=True)
class Source:
    """One thing the nodes (or the libvirt provider, for the image) will fetch."""

    name: str
    """The report line's name: the setting it comes from (`kubernetesRepoUrls[0]`), with what
    it is when the setting names something else (`kubernetesRepoUrls[0] GPG key`)."""
    url: str
    what: str
    setting: str
    """The root key whose value this is, or "" for a URL the track's platform itself names."""
    needs: frozenset[str] = frozenset()
    """The other settings the URL is built from (`{minor}` from kubernetesVersion)."""
    track_default: bool = False
    """The value is the track's own default, not one the stack chose."""


# The nodes' architecture, which yum/dnf put in for $basearch: both tracks boot x86_64 images.
ARCH = "x86_64"
# What a setting's URL may carry for the platform to fill in, and the setting it comes from.
PLACEHOLDERS = {MINOR_PLACEHOLDER: "kubernetesVersion"}
_VARIABLE = re.compile(r"(\{[A-Za-z]+\}|\$[A-Za-z]+)")


@dataclass(frozen=True)
class _Origin:
    """A URL-valued setting, as a pattern of the URLs the platform builds from it."""

    key: str
    value: str
    kind: str
    track_default: bool

    @property
    def setting(self) -> str:
        return _root_key(self.key)

    def matches(self, url: str) -> bool:
        """url is this setting's value, or under it, with its placeholders filled in."""
        parts = _VARIABLE.split(self.value.rstrip("/"))
        pattern = "".join("[^/]+" if i % 2 else re.escape(p) for i, p in enumerate(parts))
        found = re.match(pattern, url)
        return bool(found) and (found.end() == len(url) or url[found.end()] == "/")

    @property
    def needs(self) -> frozenset[str]:
        return frozenset(key for mark, key in PLACEHOLDERS.items() if mark in self.value)


def _is_track_default(settings: Settings, key: str, value: Any) -> bool:
    default = settings.platform.defaults.get(_root_key(key))
    index = re.search(r"\[(\d+)\]$", key)
    if index and isinstance(default, (tuple, list)):
        return int(index[1]) < len(default) and default[int(index[1])] == value
    return default is not None and default == value


def _package_origins(settings: Settings) -> list[_Origin]:
    """Every package setting that holds a URL, with the kind of file it names."""
    packages = settings.packages
    found = []
    for key, value, kind in (
        ("centosVaultBaseUrls", packages.centos_vault_base_urls, "repository"),
        ("dockerCeRepoUrl", packages.docker_ce_repo_url, "repository"),
        ("dockerCeGpgKey", packages.docker_ce_gpg_key, "GPG key"),
        ("kubernetesRepoUrls", packages.kubernetes_repo_urls, "repository"),
    ):
        values = value if isinstance(value, tuple) else (value,) if value else ()
        for i, item in enumerate(values):
            indexed = f"{key}[{i}]" if isinstance(value, tuple) else key
            found.append(_Origin(indexed, item, kind, _is_track_default(settings, indexed, item)))
    return found


def _package_files(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """(URL, kind, what) for every repository and key the hosts' yum/dnf will fetch, read from
    the very repo files and key imports the track's platform gives them."""
    platform = settings.platform
    for file_name, text in platform.repositories(settings).items():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text, source=file_name)
        for section in parser.sections():
            options = parser[section]
            title = options.get("name", section).replace("$basearch", ARCH)
            for url in options.get("baseurl", "").split():
                base = url.replace("$basearch", ARCH).rstrip("/")
                yield f"{base}/repodata/repomd.xml", "repository", f"{title} repository"
            if options.get("gpgcheck", "0") != "0":
                for url in options.get("gpgkey", "").split():
                    yield url.replace("$basearch", ARCH), "GPG key", f"{title} GPG key"
    for url in platform.rpm_keys(settings):
        yield url, "GPG key", f"{platform.track} track's RPM key"


def _package_sources(settings: Settings) -> list[Source]:
    """One probe per repository or key setting: the first URL the platform builds from it (a
    mirror that serves one directory of a tree serves the others: the vault's os/ stands for
    its updates/ and extras/)."""
    origins = _package_origins(settings)
    found: dict[str, Source] = {}
    seen: set[str] = set()
    for url, kind, what in _package_files(settings):
        if not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        origin = max(
            (o for o in origins if o.matches(url)), key=lambda o: len(o.value), default=None
        )
        if origin is None:
            source = Source(f"{settings.track} track {kind}", url, what, "")
        else:
            name = origin.key if origin.kind == kind else f"{origin.key} {kind}"
            source = Source(name, url, what, origin.setting, origin.needs, origin.track_default)
        found.setdefault(source.name, source)
    return list(found.values())


def _image_sources(settings: Settings) -> list[Source]:
    """The registry of every image the nodes pull: its /v2/ answers (401 asks for a token)."""
    # name -> (image, the setting it is, the value that setting holds)
    repository = settings.kubernetes.image_repository
    images = {"imageRepository": (repository + "/x", "imageRepository", repository)}
    # The flannel images are the ones the track's manifest runs, each named by its setting.
    flannel_settings = {
        "flannelImage": settings.flannel_image,
        "flannelCniPluginImage": settings.flannel_cni_plugin_image,
    }
    for container, image in settings.platform.flannel_images(settings).items():
        key = next((k for k, v in flannel_settings.items() if v == image), "")
        images.setdefault(key or f"flannel {container}", (image, key, image))
    images["registryImage"] = (settings.registry.image, "registryImage", settings.registry.image)
    if settings.control_plane_endpoint and settings.kube_vip_image:
        vip = settings.kube_vip_image
        images["kubeVipImage"] = (vip, "kubeVipImage", vip)
    tool = settings.app.seed_tool_image
    images["appSeedToolImage"] = (tool, "appSeedToolImage", tool)
    if settings.app.seed_image:
        images["appSeedImage"] = (settings.app.seed_image, "appSeedImage", settings.app.seed_image)
    found = []
    for name, (image, setting, value) in images.items():
        registry = registry_of(image)
        scheme = "http" if registry.startswith(("127.", "localhost")) else "https"
        found.append(
            Source(
                name,
                f"{scheme}://{registry}/v2/",
                f"image registry {registry}",
                setting,
                track_default=bool(setting) and _is_track_default(settings, setting, value),
            )
        )
    return found


def sources(settings: Settings) -> list[Source]:
    """Every source the configured track fetches: the base image, the repositories and keys of
    the repo files the hosts get, the Docker Hub mirrors and every image's registry."""
    found = []
    base = settings.libvirt.base_image
    if settings.host_source is HostSource.LIBVIRT and not base.startswith("/"):
        found.append(
            Source(
                "baseImage",
                base,
                f"the {settings.track} track's base image",
                "baseImage",
                track_default=_is_track_default(settings, "baseImage", base),
            )
        )
    found += _package_sources(settings)
    for i, url in enumerate(settings.packages.registry_mirrors):
        key = f"registryMirrors[{i}]"
        found.append(Source(key, f"{url.rstrip('/')}/v2/", "Docker Hub mirror", "registryMirrors"))
    found += _image_sources(settings)
    return found


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)
NETWORK_FAILURE = "no answer"


@dataclass(frozen=True)
class Answer:
    """What a source said: None for fine, else the problem; where it really answered from; and
    whether it answered at all (an HTTP status) or the network gave nothing."""

    problem: str | None
    final_url: str
    reached: bool = True


def probe(url: str) -> Answer:
    """Follow up to MAX_REDIRECTS redirects by hand (so each hop is seen) and judge the last
    answer: 2xx is there; 401 from a registry's /v2/ is there (it wants a token); anything else
    is not. A redirect to another host is named, since the nodes will fetch from there."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        request = urllib.request.Request(current, method="GET", headers={"Range": "bytes=0-0"})
        try:
            with _OPENER.open(request, timeout=PROBE_TIMEOUT_SECONDS) as response:
                response.read(1)
                return Answer(None, current)
        except urllib.error.HTTPError as error:
            if error.code in (301, 302, 303, 307, 308) and error.headers.get("Location"):
                current = urljoin(current, error.headers["Location"])
                continue
            if error.code == 401 and current.endswith("/v2/"):
                return Answer(None, current)
            return Answer(f"HTTP {error.code}", current)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return Answer(str(reason)[:120], current, reached=False)
    return Answer(f"more than {MAX_REDIRECTS} redirects", current)


def check_sources(
    settings: Settings, probe_url: Callable[[str], Answer] = probe, skip: Iterable[str] = ()
) -> list[Check]:
    """Every external source of the configured track, probed in parallel, all within one
    deadline. A source whose own setting failed is left out (its config line says why); one
    built from another setting that failed is skipped, since its URL would be wrong. When none
    of them answers at all, that is this machine's network, said once."""
    skipped = set(skip)
    if "track" in skipped:
        return [Check("sources", SKIP, "fix track first: every source depends on the track")]
    planned: list[Source | Check] = []
    for source in sources(settings):
        if source.setting in skipped:
            continue
        blocking = sorted(source.needs & skipped)
        if blocking:
            planned.append(Check(source.name, SKIP, f"fix {', '.join(blocking)} first"))
        else:
            planned.append(source)
    wanted = [s for s in planned if isinstance(s, Source)]
    answers: dict[int, Answer] = {}

    def worker(index: int, url: str) -> None:
        answers[index] = probe_url(url)

    threads = [
        threading.Thread(target=worker, args=(i, source.url), daemon=True)
        for i, source in enumerate(wanted)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + PROBE_DEADLINE_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = Answer(f"no answer within {PROBE_DEADLINE_SECONDS:.0f}s", "", reached=False)
    results = [answers.get(i, late) for i in range(len(wanted))]
    if wanted and not any(result.reached for result in results):
        return [
            Check(
                "sources",
                WARN,
                f"none of the {len(wanted)} mirrors and registries answered from this machine "
                f"({results[0].problem}): its network, DNS or proxy is down or closed",
                "check this machine's network; the VMs use their own resolver (nodeNameservers)",
            )
        ] + [c for c in planned if isinstance(c, Check)]
    judged = iter(zip(wanted, results, strict=True))
    return [
        item if isinstance(item, Check) else _judge(*next(judged), settings) for item in planned
    ]


def _judge(source: Source, result: Answer, settings: Settings) -> Check:
    """A source's line: fine, fine only elsewhere, or not there."""
    url, what = source.url, source.what
    if source.setting:
        fix = f"set {source.setting} to a source that answers"
    else:
        fix = f"the {settings.track} track's platform names it: a mirror must serve it"
    moved = _elsewhere(url, result.final_url)
    if result.problem is None and not moved:
        return Check(source.name, OK, f"{what}: {url}")
    if result.problem is None and source.track_default:
        # The track's own default sources redirect by design (pkgs.k8s.io to its CDN,
        # registry.k8s.io to the cloud registries): named, for a proxy or firewall, not faulted.
        host = urlsplit(result.final_url).hostname
        return Check(
            source.name, OK, f"{what}: {url}, served from {host} (the track's default source)"
        )
    if result.problem is None:
        return Check(
            source.name,
            WARN,
            f"{what}: {url} answers only through a redirect to {result.final_url}: the nodes "
            "will fetch from there",
            f"set {source.setting} to the URL that really serves it, if you trust it"
            if source.setting
            else fix,
        )
    return Check(
        source.name,
        WARN,
        f"{what}: {url}: {result.problem} (from this machine; the VMs may see it differently)",
        fix,
    )


def _elsewhere(url: str, final: str) -> bool:
    return bool(final) and urlsplit(url).hostname != urlsplit(final).hostname


def check_base_image_file(settings: Settings) -> Check:
    path = Path(settings.libvirt.base_image)
    if path.is_file() and os.access(path, os.R_OK):
        return Check("baseImage", OK, f"{path}")
    return Check("baseImage", FAIL, f"{path} is not a readable file", "set baseImage")


# --- all of it -------------------------------------------------------------------------------


def diagnose(
    root: Path, stack: str, system: System, probe_url: Callable[[str], Answer] = probe
) -> list[Check]:
    checks = [
        check_python(),
        check_dependencies(root),
        check_pulumi(system),
        check_passphrase(root, stack, system),
    ]
    configuration = load(root, stack, system)
    checks += configuration.checks
    settings, failed = configuration.settings, configuration.failed
    if settings is None:
        return checks
    checks.append(check_track(settings, failed))

    def guarded(keys: set[str], name: str, run: Callable[[], Check]) -> Check:
        blocking = sorted(keys & failed)
        if blocking:
            return Check(name, SKIP, f"fix {', '.join(blocking)} first")
        return run()

    if not failed & {"sshPrivateKey", "sshPublicKey"}:
        checks.append(check_ssh_key(settings))
    libvirt = (
        settings.host_source is HostSource.LIBVIRT
        and "hostSource" not in failed
        and bool(settings.vms)
    )
    if libvirt:
        checks.append(check_mkisofs(system))
        for hypervisor, nodes in settings.placement().items():
            checks += _hypervisor_checks(settings, hypervisor, nodes, system, guarded)
        checks.append(
            guarded(
                {"libvirtUri", "hypervisors", "nodes"},
                "hypervisor in the state",
                lambda: check_state_hypervisor(root, stack, settings, system),
            )
        )
    checks.append(
        guarded(
            {"nodes", "nodeNetwork", "libvirtUri", "hostSource"},
            "other stacks",
            lambda: check_other_stacks(root, stack, settings, system),
        )
    )
    checks += check_sources(settings, probe_url, skip=failed)
    if libvirt and settings.libvirt.base_image.startswith("/") and "baseImage" not in failed:
        checks.append(check_base_image_file(settings))
    return checks


def _hypervisor_checks(
    settings: Settings,
    hypervisor: Hypervisor,
    nodes: Sequence[NodeSpec],
    system: System,
    guarded: Callable[[set[str], str, Callable[[], Check]], Check],
) -> list[Check]:
    """What one hypervisor must offer for the nodes placed there, each line naming it (but
    libvirtUri's, whose checks keep their plain names). This machine's own files (socket,
    /dev/kvm, meminfo, the pool's directory) for a local URI; libvirt's answers for another."""
    uri = {"libvirtUri"} if hypervisor.name is None else {"hypervisors"}
    named = lambda check: _named(check, hypervisor)  # noqa: E731
    checks = [guarded(uri, named("libvirt"), lambda: check_libvirt(hypervisor, system))]
    reachable = checks[0].status == OK
    sizes = uri | {"nodes", "nodeMemoryMiB", "nodeDiskGiB", "storagePoolPath"}
    if is_local(hypervisor.uri):
        checks += [
            guarded(uri, named("libvirt socket"), lambda: check_libvirt_socket(settings, system)),
            guarded(uri, named("/dev/kvm"), lambda: check_kvm(system)),
            guarded(uri, named("libvirt access"), lambda: check_group(system)),
            guarded(sizes, named("memory"), lambda: check_memory(nodes, system)),
            guarded(sizes, named("disk"), lambda: check_disk(hypervisor.pool_path, nodes, system)),
            guarded(uri, named("AppArmor"), lambda: check_apparmor(system)),
        ]
    elif not reachable:
        return checks  # everything below asks that hypervisor, which did not answer
    else:
        pool = settings.libvirt.pool_name
        checks += [
            guarded(uri, named("KVM"), lambda: check_remote_kvm(hypervisor, system)),
            guarded(sizes, named("memory"), lambda: check_remote_memory(hypervisor, nodes, system)),
            guarded(
                sizes, named("disk"), lambda: check_remote_disk(hypervisor, pool, nodes, system)
            ),
        ]
    if hypervisor.bridge is not None:
        bridge = uri | {"libvirtBridge"}
        checks.append(guarded(bridge, named("bridge"), lambda: check_bridge(hypervisor, system)))
    checks.append(
        guarded(
            uri | {"nodeNetwork", "libvirtNetworkName", "libvirtBridge", "nodes"},
            named("node network"),
            lambda: check_node_network(settings, system, hypervisor),
        )
    )
    return checks


def report(checks: list[Check]) -> str:
    lines = []
    for check_ in checks:
        lines.append(f"  {check_.status:<5} {check_.name}: {check_.detail}")
        if check_.fix and check_.status in (FAIL, WARN):
            lines.append(f"        fix: {check_.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    passed = sum(c.status == OK for c in checks)
    skipped = sum(c.status == SKIP for c in checks)
    verdict = "ready for `make up`" if not failed else "fix the FAIL lines before `make up`"
    extra = f", {skipped} skipped" if skipped else ""
    lines.append(f"{passed} ok, {warned} warnings, {failed} blockers{extra}: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--root", type=Path, default=ROOT)
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    checks = diagnose(arguments.root, arguments.stack, System())
    print(f"kubeadm-libvirt doctor: stack {arguments.stack}")
    print(report(checks))
    print(f"({time.monotonic() - started:.1f}s)")
    return 1 if any(c.status == FAIL for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
