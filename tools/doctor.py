"""`make doctor`: a preflight of this machine, the hypervisor and every source the nodes will
use, before a `pulumi up` that takes 15-25 minutes.

It reads the stack configuration `pulumi up` will use (Pulumi.yaml's defaults plus
Pulumi.<stack>.yaml) and validates it with the program's own settings models, without the
Pulumi engine. It never sends traffic to a node address: the node network is compared with the
routing table and libvirt's networks, read locally. External sources are probed in parallel with
short timeouts and reported as warnings, since the VMs' view of the network may differ.

    python -m tools.doctor [--stack dev] [--root .]

Exit status 1 when any check is a blocker (FAIL).
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.settings import (  # noqa: E402
    MASTER_MIN_MEMORY_MIB,
    PROJECT,
    HostSource,
    Settings,
    SettingsError,
    stack_file_config,
    validate,
)

MIN_PYTHON = (3, 10)
# The CLI range the README states: from 3.202 (it merges and validates project defaults; `type:
# object` arrived in 3.187) to the newest engine the plan simulator models (tests/plan.py
# ENGINES: pulumi/pulumi read at v3.259.0 and at master 1b5949891b, on its way to 3.260.0).
# tests/test_plan.py fails when this range reaches past what is modelled.
PULUMI_RANGE = ((3, 202, 0), (3, 261, 0))
PULUMI_INSTALL_VERSION = "3.260.0"


def cli_range_text() -> str:
    """The accepted CLI range in words, as the README states it."""
    (low_major, low_minor, _), (high_major, high_minor, _) = PULUMI_RANGE
    return f"{low_major}.{low_minor} to {high_major}.{high_minor - 1}"


PROBE_TIMEOUT_SECONDS = 3.0
PROBE_DEADLINE_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 10
DISK_PER_NODE_GIB = 4  # thin disks: the image's 1.2 GiB used, then packages and images
BASE_IMAGE_GIB = 1

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class System:
    """Where the doctor looks on this machine (tests point these elsewhere)."""

    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    kvm: Path = Path("/dev/kvm")
    meminfo: Path = Path("/proc/meminfo")
    apparmor: Path = Path("/sys/module/apparmor/parameters/enabled")
    qemu_conf: Path = Path("/etc/libvirt/qemu.conf")
    os_release: Path = Path("/etc/os-release")

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.environ.get("PATH", ""))

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            env=self.environ,
            check=False,
        )


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


def check_pulumi(system: System) -> Check:
    if not system.which("pulumi"):
        return Check(
            "Pulumi CLI",
            FAIL,
            "not installed",
            f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PULUMI_INSTALL_VERSION}"
            "   (then open a new shell)",
        )
    try:
        output = system.run("pulumi", "version").stdout.strip()
    except subprocess.TimeoutExpired:
        return Check("Pulumi CLI", FAIL, "`pulumi version` did not answer", "reinstall the CLI")
    found = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)\S*", output)
    if not found:
        return Check("Pulumi CLI", WARN, f"unrecognised version {output!r}")
    version = tuple(int(part) for part in found.groups())
    low, high = PULUMI_RANGE
    wanted = cli_range_text()
    if not low <= version < high:
        return Check(
            "Pulumi CLI",
            FAIL,
            f"{output} is outside {wanted}",
            f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PULUMI_INSTALL_VERSION}",
        )
    return Check("Pulumi CLI", OK, f"{output} ({wanted})")


def check_passphrase(system: System) -> Check:
    if (
        "PULUMI_CONFIG_PASSPHRASE" in system.environ
        or "PULUMI_CONFIG_PASSPHRASE_FILE" in system.environ
    ):
        return Check("state passphrase", OK, "set")
    return Check(
        "state passphrase",
        FAIL,
        "PULUMI_CONFIG_PASSPHRASE is not set (it encrypts the secrets in .pulumi-state)",
        "export PULUMI_CONFIG_PASSPHRASE='...'   (the same one every time for this state)",
    )


def load(root: Path, stack: str, system: System) -> tuple[Check, Settings | None]:
    raw, secret = stack_file_config(root / "Pulumi.yaml", root / f"Pulumi.{stack}.yaml")
    home = Path(system.environ.get("HOME", str(Path.home())))
    try:
        settings = validate(raw, secret_keys=secret, home=home)
    except SettingsError as error:
        fix = f"change {error.key} in Pulumi.{stack}.yaml (pulumi config set --stack {stack} ...)"
        return Check("configuration", FAIL, str(error), fix), None
    detail = (
        f"stack {stack}: {len(settings.nodes)} nodes, {settings.host_source.value}, "
        f"Kubernetes {settings.kubernetes.version}"
    )
    return Check("configuration", OK, detail), settings


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
    distribution = ""
    if system.os_release.exists():
        distribution = system.os_release.read_text()
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


def check_libvirt(settings: Settings, system: System) -> Check:
    uri = settings.libvirt.uri
    if not system.which("virsh"):
        return Check(
            "libvirt",
            WARN,
            f"virsh is not installed, so {uri} was not tried",
            "sudo apt-get install libvirt-clients   (Fedora/RHEL: libvirt-client)",
        )
    try:
        result = system.run("virsh", "--connect", uri, "--readonly", "version")
    except subprocess.TimeoutExpired:
        return Check("libvirt", FAIL, f"{uri} did not answer within {COMMAND_TIMEOUT_SECONDS}s")
    if result.returncode != 0:
        return Check(
            "libvirt",
            FAIL,
            f"cannot connect to {uri}: {result.stderr.strip()[:200]}",
            "start libvirt (systemctl enable --now libvirtd, or virtqemud.socket on Fedora/RHEL 9) "
            "and allow your user (sudo usermod -aG libvirt $USER, then log in again)",
        )
    return Check("libvirt", OK, f"{uri} answers")


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
    if os.geteuid() == 0:
        return Check("libvirt access", OK, "running as root")
    user = pwd.getpwuid(os.geteuid()).pw_name
    groups = {grp.getgrgid(g).gr_name for g in os.getgroups()}
    if "libvirt" in groups:
        return Check("libvirt access", OK, f"{user} is in the libvirt group")
    return Check(
        "libvirt access",
        WARN,
        f"{user} is not in the libvirt group",
        "sudo usermod -aG libvirt $USER, then log in again",
    )


def check_memory(settings: Settings, system: System) -> Check:
    needed = sum(node.memory_mib for node in settings.nodes)
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


def check_disk(settings: Settings) -> Check:
    path = Path(settings.libvirt.pool_path)
    while not path.exists():
        path = path.parent
    stats = os.statvfs(path)
    free_gib = stats.f_bavail * stats.f_frsize / 1024**3
    needed = BASE_IMAGE_GIB + DISK_PER_NODE_GIB * len(settings.nodes)
    if free_gib < needed:
        return Check(
            "disk",
            FAIL,
            f"{free_gib:.1f} GiB free at {path} (storagePoolPath), about {needed} GiB needed",
            "free space there or set storagePoolPath to a roomier directory",
        )
    return Check("disk", OK, f"{free_gib:.1f} GiB free at {path} for about {needed} GiB")


def libvirt_networks(
    system: System, uri: str
) -> dict[str, tuple[list[ipaddress.IPv4Network], str]]:
    """name -> (its IPv4 networks, its bridge), read from libvirt (nothing is sent to them)."""
    if not system.which("virsh"):
        return {}
    listed = system.run("virsh", "--connect", uri, "--readonly", "net-list", "--all", "--name")
    networks = {}
    for name in listed.stdout.split():
        xml = system.run("virsh", "--connect", uri, "--readonly", "net-dumpxml", name).stdout
        try:
            document = ElementTree.fromstring(xml)
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


def check_node_network(settings: Settings, system: System) -> Check:
    node_network = settings.network.node_network
    ours = settings.libvirt.network_name
    networks = libvirt_networks(system, settings.libvirt.uri)
    own_bridge = networks.get(ours, ([], ""))[1]
    for name, (cidrs, _) in networks.items():
        if name == ours and settings.libvirt.bridge is None:
            continue
        for cidr in cidrs:
            if cidr.overlaps(node_network):
                return Check(
                    "node network",
                    FAIL,
                    f"{node_network} overlaps libvirt network {name} ({cidr})",
                    "set nodeNetwork (and the node and registry addresses) to a free range, or "
                    f"remove that network (virsh net-destroy {name}; virsh net-undefine {name})",
                )
    local = is_local(settings.libvirt.uri)
    if settings.libvirt.bridge is not None or not local or not system.which("ip"):
        return Check("node network", OK, f"{node_network} is not used by another libvirt network")
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
                "node network",
                FAIL,
                f"{node_network} is already routed here: {line.strip()}",
                "set nodeNetwork (and the node and registry addresses) to a range this host "
                "does not use",
            )
    return Check("node network", OK, f"{node_network} is not routed here yet")


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


def state_file(root: Path, stack: str, system: System) -> Path | None:
    """The stack's checkpoint in a local (file://) backend: .pulumi/stacks/<project>/<stack>
    .json, or .json.gz (pulumi/pulumi@1b5949891b:pkg/backend/diy/store.go StackBasePath; the
    legacy layout has no project folder). None for another backend or no state yet."""
    url = system.environ.get("PULUMI_BACKEND_URL") or f"file://{root / '.pulumi-state'}"
    if not url.startswith("file://"):
        return None
    base = Path(url.removeprefix("file://")).expanduser() / ".pulumi" / "stacks"
    for folder in (base / PROJECT, base):
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
    wanted = settings.libvirt.uri
    if not uris or uris == {wanted}:
        return Check(name, OK, f"{path.name}: {wanted}" if uris else "no VMs in the state")
    return Check(
        name,
        WARN,
        f"the stack's VMs live on {', '.join(sorted(uris))}, the configuration says {wanted}: "
        "`make up` first deletes every VM through the old hypervisor and stops if it is gone",
        "keep the old hypervisor reachable for that run, or see README, Changing the hypervisor",
    )


# --- external sources --------------------------------------------------------------------------


def registry_of(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return "registry-1.docker.io" if first == "docker.io" else first
    return "registry-1.docker.io"


def sources(settings: Settings) -> list[tuple[str, str, str]]:
    """(config key, URL to probe, what answering proves) for every source the nodes use."""
    found = []
    base = settings.libvirt.base_image
    if settings.host_source is HostSource.LIBVIRT and not base.startswith("/"):
        found.append(("baseImage", base, "the CentOS 7 image"))
    for i, url in enumerate(settings.packages.centos_vault_base_urls):
        found.append(
            (
                f"centosVaultBaseUrls[{i}]",
                f"{url.rstrip('/')}/os/x86_64/repodata/repomd.xml",
                "CentOS 7.9 vault",
            )
        )
    docker = settings.packages.docker_ce_repo_url.replace("$basearch", "x86_64").rstrip("/")
    found.append(("dockerCeRepoUrl", f"{docker}/repodata/repomd.xml", "docker-ce repository"))
    found.append(("dockerCeGpgKey", settings.packages.docker_ce_gpg_key, "docker-ce GPG key"))
    for i, url in enumerate(settings.packages.kubernetes_repo_urls):
        found.append(
            (
                f"kubernetesRepoUrls[{i}]",
                f"{url.rstrip('/')}/repodata/repomd.xml",
                "Kubernetes RPMs",
            )
        )
    for i, url in enumerate(settings.packages.registry_mirrors):
        found.append((f"registryMirrors[{i}]", f"{url.rstrip('/')}/v2/", "Docker Hub mirror"))
    images = {
        "imageRepository": settings.kubernetes.image_repository + "/x",
        "flannelImage": settings.flannel_image,
        "registryImage": settings.registry.image,
        "appSeedToolImage": settings.app.seed_tool_image,
    }
    if settings.app.seed_image:
        images["appSeedImage"] = settings.app.seed_image
    for key, image in images.items():
        registry = registry_of(image)
        scheme = "http" if registry.startswith(("127.", "localhost")) else "https"
        found.append((key, f"{scheme}://{registry}/v2/", f"image registry {registry}"))
    return found


def probe(url: str) -> str | None:
    """None when url answers like a source that is there, else what went wrong."""
    request = urllib.request.Request(url, method="GET", headers={"Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_SECONDS) as response:
            response.read(1)
            return None
    except urllib.error.HTTPError as error:
        # A registry's /v2/ asks for a token (401): it is there.
        return None if error.code == 401 and url.endswith("/v2/") else f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return str(reason)[:120]


def check_sources(
    settings: Settings, probe_url: Callable[[str], str | None] = probe
) -> list[Check]:
    """Every external source, probed in parallel, each within the common deadline."""
    wanted = sources(settings)
    answers: dict[int, str | None] = {}

    def worker(index: int, url: str) -> None:
        answers[index] = probe_url(url)

    threads = [
        threading.Thread(target=worker, args=(i, url), daemon=True)
        for i, (_, url, _) in enumerate(wanted)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + PROBE_DEADLINE_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    checks = []
    for i, (key, url, what) in enumerate(wanted):
        problem = answers.get(i, f"no answer within {PROBE_DEADLINE_SECONDS:.0f}s")
        if problem is None:
            checks.append(Check(key, OK, f"{what}: {url}"))
        else:
            checks.append(
                Check(
                    key,
                    WARN,
                    f"{what}: {url}: {problem} (from this machine; the VMs may see it differently)",
                    f"set {key.split('[')[0]} to a source that answers",
                )
            )
    if settings.host_source is HostSource.LIBVIRT and settings.libvirt.base_image.startswith("/"):
        path = Path(settings.libvirt.base_image)
        if path.is_file() and os.access(path, os.R_OK):
            checks.append(Check("baseImage", OK, f"{path}"))
        else:
            checks.append(
                Check("baseImage", FAIL, f"{path} is not a readable file", "set baseImage")
            )
    return checks


# --- all of it -------------------------------------------------------------------------------


def diagnose(root: Path, stack: str, system: System, probe_url=probe) -> list[Check]:
    checks = [
        check_python(),
        check_dependencies(root),
        check_pulumi(system),
        check_passphrase(system),
    ]
    config, settings = load(root, stack, system)
    checks.append(config)
    if settings is None:
        return checks
    checks.append(check_ssh_key(settings))
    if settings.host_source is HostSource.LIBVIRT:
        checks += [check_mkisofs(system), check_libvirt(settings, system)]
        if is_local(settings.libvirt.uri):
            checks += [
                check_kvm(system),
                check_group(system),
                check_memory(settings, system),
                check_disk(settings),
                check_apparmor(system),
            ]
        checks.append(check_node_network(settings, system))
        checks.append(check_state_hypervisor(root, stack, settings, system))
    checks += check_sources(settings, probe_url)
    return checks


def report(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"  {check.status:<5} {check.name}: {check.detail}")
        if check.fix and check.status in (FAIL, WARN):
            lines.append(f"        fix: {check.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    passed = sum(c.status == OK for c in checks)
    verdict = "ready for `make up`" if not failed else "fix the FAIL lines before `make up`"
    lines.append(f"{passed} ok, {warned} warnings, {failed} blockers: {verdict}")
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
