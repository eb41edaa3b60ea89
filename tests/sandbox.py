"""Runs host scripts for real, in a sandbox that looks like a fresh CentOS 7 GenericCloud host
or, for the current track, a fresh AlmaLinux 9 GenericCloud host (Lab.create(platform="el9")).

Isolation (root only): every run gets its own mount, UTS, IPC, network and PID namespace
(`unshare` from util-linux, no extra package), and is chrooted into a tree built from files
here: the host's /usr read-only, a writable fake /etc, /var, /root, /home, /tmp, /run, and the
namespace's own /proc with /proc/sys read-only and /proc/swaps replaced by a simulated one.
The CentOS tools the scripts call are stubs (tests/stubs/, mounted at /.stubs and first on
PATH) that record their argv and keep the state they would change under /stub-state. Any host
binary a stub stands for, or that could change the host (ip, systemctl, sysctl, swapoff,
hostname, kubectl, mount, reboot...), is covered by a read-only bind mount of the stub inside
the namespace, so no path reaches the real one. The chrooted process also loses CAP_SYS_ADMIN,
CAP_NET_ADMIN, CAP_SYS_MODULE and friends, and its network namespace has only a down loopback:
nothing leaves the machine.

A Lab is the hosts of one test plus /stub-cluster, shared by them, which plays the API server
and etcd. Labs are directories: cloning one (cp -a) is how a test starts from a prepared or
initialised host without re-running the scripts that made it.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

STUBS_SOURCE = Path(__file__).parent / "stubs"
# CentOS 7's shell is bash 4.2 (4.2.46); Debian's is 5.2. When the static bash 4.2 from the
# shared test tools is there, the scripts run under it (see tests/stubs/sudo), as on CentOS 7.
CENTOS_BASH = Path(__file__).resolve().parents[2] / "shared" / "tools" / "bash-4.2.45"
SANDBOX_PATH = "/.stubs:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN_TIMEOUT_SECONDS = 60

# Host binaries that must never run in the sandbox although no script should call them.
FORBIDDEN = (
    "mount",
    "umount",
    "reboot",
    "shutdown",
    "poweroff",
    "halt",
    "swapon",
    "mkswap",
    "nsenter",
    "unshare",
    "systemd-run",
    "useradd",
    "usermod",
    "insmod",
    "rmmod",
    "iptables",
    "ip6tables",
    "nft",
    "dockerd",
    "kubelet",
    "wget",
    "ssh",
    "dnf",
    "containerd",
    "ctr",
)
# Capabilities the scripts never need; without them no stray binary could mount, reconfigure
# the network, load modules, turn swap off or set the clock, even if it got past the stubs.
DROPPED_CAPABILITIES = (
    "sys_admin",
    "net_admin",
    "sys_module",
    "sys_boot",
    "sys_time",
    "sys_rawio",
    "sys_ptrace",
    "net_raw",
    "mknod",
    "syslog",
)
# Not part of the host's file system: simulated kernel/daemon state and the sandbox plumbing.
NOT_FILES = frozenset({"stub-state", "stub-cluster", ".stubs", "usr", "dev", "proc"})

_SETUP = r"""
set -euo pipefail
tree=$1 stubs=$2 cluster=$3 shadows=$4 caps=$5 user=$6 command=$7
ro_bind() { mount -o bind,ro "$1" "$2"; }
ro_bind /usr "$tree/usr"
ro_bind "$stubs" "$tree/.stubs"
mount --bind "$cluster" "$tree/stub-cluster"
for dev in null zero full random urandom; do mount --bind "/dev/$dev" "$tree/dev/$dev"; done
# This PID namespace's own /proc (bash needs /dev/fd -> /proc/self/fd), with /proc/sys
# read-only, sysrq masked and /proc/swaps replaced by the simulated one.
mount -t proc -o nosuid,nodev,noexec proc "$tree/proc"
ro_bind "$tree/proc/sys" "$tree/proc/sys"
if [[ -e $tree/proc/sysrq-trigger ]]; then mount --bind /dev/null "$tree/proc/sysrq-trigger"; fi
mount --bind "$tree/stub-state/swaps" "$tree/proc/swaps"
while IFS=$'\t' read -r source target; do ro_bind "$source" "$tree$target"; done <"$shadows"
hostname sandbox
umask 022
exec setpriv --inh-caps=-all --bounding-set="$caps" \
  chroot "$tree" /usr/bin/env -i PATH="$SANDBOX_PATH" HOME="/home/$user" USER="$user" \
  LOGNAME="$user" SHELL=/bin/bash LANG=C /bin/bash -c "$command"
"""


def script_shell() -> str:
    """The bash the host scripts run under in the sandbox, for the test summary."""
    if CENTOS_BASH.is_file():
        return f"bash 4.2.45, CentOS 7's ({CENTOS_BASH})"
    try:
        version = subprocess.run(
            ["bash", "-c", "echo $BASH_VERSION"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        version = "?"
    return f"this machine's bash {version}, NOT CentOS 7's ({CENTOS_BASH} is missing)"


def unavailable_reason() -> str | None:
    """Why the sandbox cannot run here, or None. Only a non-root user is a reason to skip."""
    if os.geteuid() != 0:
        return "the host-script sandbox needs root (mount namespaces, chroot); CI runs as root"
    return None


def el9_unavailable_reason() -> str | None:
    """Why the el9 platform cannot run here: its containerd stub reads TOML with the system's
    /usr/bin/python3 (the only Python inside the sandbox), which needs tomllib (3.11)."""
    reason = unavailable_reason()
    if reason:
        return reason
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import tomllib"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "the el9 sandbox needs /usr/bin/python3 3.11 or newer (tomllib)"
    return None


@cache
def _stubs_dir() -> Path:
    """The stubs, executable, in one directory per test session (a clone may lose exec bits)."""
    directory = Path(tempfile.mkdtemp(prefix="host-script-stubs-"))
    atexit.register(shutil.rmtree, directory, True)
    for source in STUBS_SOURCE.iterdir():
        target = directory / source.name
        shutil.copyfile(source, target)
        target.chmod(0o755)
    if CENTOS_BASH.is_file():
        shutil.copyfile(CENTOS_BASH, directory / "_centos-bash")
        (directory / "_centos-bash").chmod(0o755)
    shadows = []
    seen = set()
    names = [p.name for p in STUBS_SOURCE.iterdir() if not p.name.startswith("_")]
    for name in [*names, *FORBIDDEN]:
        stub = directory / (name if name in names else "_forbidden")
        for folder in ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"):
            candidate = Path(folder) / name
            if not candidate.exists():
                continue
            real = candidate.resolve()
            # Only /usr is visible in the sandbox; anything else cannot be reached from it.
            if real.parts[:2] == ("/", "usr") and real.is_file() and real not in seen:
                seen.add(real)
                shadows.append(f"{stub}\t{real}\n")
    (directory / "_shadows").write_text("".join(shadows))
    return directory


@dataclass(frozen=True)
class Call:
    tool: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join([self.tool, *self.args])

    def startswith(self, tool: str, *args: str) -> bool:
        return self.tool == tool and self.args[: len(args)] == args


@dataclass(repr=False)
class Result:
    """One script run: what it printed, its exit status and the tools it called."""

    label: str
    code: int
    stdout: str
    stderr: str
    calls: list[Call] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == 0

    def ran(self, tool: str, *args: str) -> list[Call]:
        """The calls of tool whose arguments start with args."""
        return [c for c in self.calls if c.startswith(tool, *args)]

    def __repr__(self) -> str:
        return f"<Result {self.label}: exit {self.code}>"

    def __str__(self) -> str:
        calls = "\n".join(f"  {shorten(str(c))}" for c in self.calls)
        return (
            f"{self.label}: exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
            f"--- calls\n{calls}"
        )


@dataclass(frozen=True)
class Entry:
    kind: str
    mode: int
    owner: tuple[int, int]
    content: bytes | str | None
    mtime_ns: int | None


def shorten(text: str, limit: int = 160) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_calls(data: bytes) -> list[Call]:
    tokens = data.split(b"\0")
    calls, i = [], 0
    while i + 1 < len(tokens):
        count = int(tokens[i])
        tool = tokens[i + 1].decode()
        args = tuple(t.decode() for t in tokens[i + 2 : i + 2 + count])
        calls.append(Call(tool, args))
        i += 2 + count
    return calls


class Host:
    """One sandboxed host: its tree and what the stubs know about it."""

    def __init__(self, lab: Lab, name: str) -> None:
        self.lab = lab
        self.name = name
        self.root = lab.path / "hosts" / name
        self.state = self.root / "stub-state"

    @property
    def platform(self) -> str:
        """centos7 or el9: what the tree and the stubs play."""
        return (self.state / "platform").read_text().strip()

    @property
    def user(self) -> str:
        """The image's default user, the one the SSH session logs in as."""
        return {"centos7": "centos", "el9": "almalinux"}[self.platform]

    # --- running scripts -------------------------------------------------------------------

    def run(self, command_line: str, stdin: str = "", label: str = "") -> Result:
        """Run command_line as the SSH session would (`sudo bash -c '<script>'`), stdin as sent."""
        stubs = _stubs_dir()
        calls_file = self.state / "calls"
        offset = calls_file.stat().st_size if calls_file.exists() else 0
        capabilities = ",".join(f"-{c}" for c in DROPPED_CAPABILITIES)
        process = subprocess.run(
            [
                "unshare",
                "--mount",
                "--uts",
                "--ipc",
                "--net",
                "--pid",
                "--fork",
                "--kill-child",
                "--propagation",
                "private",
                "--",
                "/bin/bash",
                "-c",
                _SETUP,
                "sandbox-setup",
                str(self.root),
                str(stubs),
                str(self.lab.cluster),
                str(stubs / "_shadows"),
                capabilities,
                self.user,
                command_line,
            ],
            input=stdin.encode(),
            capture_output=True,
            timeout=RUN_TIMEOUT_SECONDS,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SANDBOX_PATH": SANDBOX_PATH},
            check=False,
        )
        data = calls_file.read_bytes()[offset:] if calls_file.exists() else b""
        return Result(
            label=f"{label or 'script'} on {self.name}",
            code=process.returncode,
            stdout=process.stdout.decode(errors="replace"),
            stderr=process.stderr.decode(errors="replace"),
            calls=_parse_calls(data),
        )

    # --- failure injection -----------------------------------------------------------------

    def fail(self, step: str, detail: str = "") -> None:
        """Make a stubbed step fail (see tests/stubs); detail narrows or selects the failure."""
        (self.state / "fail").mkdir(exist_ok=True)
        (self.state / "fail" / step).write_text(detail)

    def recover(self, step: str) -> None:
        (self.state / "fail" / step).unlink()

    # --- the tree --------------------------------------------------------------------------

    def path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read(self, path: str) -> str:
        return self.path(path).read_text()

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.path(path))

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        target = self.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def snapshot(self) -> dict[str, Entry]:
        """Every file, directory and link of the host's file system (not the stub state), with
        content, mode, owner and, for files, mtime: a rewrite with equal content shows too."""
        entries: dict[str, Entry] = {}
        for directory, dirs, files in os.walk(self.root):
            relative_dir = os.path.relpath(directory, self.root)
            if relative_dir == ".":
                dirs[:] = [d for d in dirs if d not in NOT_FILES]
                files = [f for f in files if f not in NOT_FILES]
            for name in [*dirs, *files]:
                path = os.path.normpath(os.path.join(relative_dir, name))
                info = os.lstat(os.path.join(directory, name))
                owner = (info.st_uid, info.st_gid)
                mode = stat.S_IMODE(info.st_mode)
                full = os.path.join(directory, name)
                if stat.S_ISLNK(info.st_mode):
                    entries[path] = Entry("link", mode, owner, os.readlink(full), None)
                elif stat.S_ISDIR(info.st_mode):
                    entries[path] = Entry("dir", mode, owner, None, None)
                else:
                    content = Path(full).read_bytes()
                    entries[path] = Entry("file", mode, owner, content, info.st_mtime_ns)
        return entries

    # --- simulated state -------------------------------------------------------------------

    def calls(self) -> list[Call]:
        calls_file = self.state / "calls"
        return _parse_calls(calls_file.read_bytes()) if calls_file.exists() else []

    def installed(self) -> list[str]:
        """Installed packages as name-version-release."""
        rpmdb = self.state / "rpmdb"
        lines = rpmdb.read_text().splitlines() if rpmdb.exists() else []
        return ["-".join(line.split()[:3]) for line in lines if line.strip()]

    def unit(self, unit: str) -> tuple[bool, bool] | None:
        """(enabled, active), or None for a unit the host does not have."""
        directory = self.state / "units" / (unit if "." in unit else f"{unit}.service")
        if not directory.is_dir():
            return None
        return (directory / "enabled").exists(), (directory / "active").exists()

    def selinux(self) -> str:
        return (self.state / "selinux").read_text().strip()

    def hostname(self) -> str:
        return (self.state / "hostname").read_text().strip()

    def sysctl(self, key: str) -> str | None:
        path = self.state / "sysctl" / key
        return path.read_text().strip() if path.exists() else None

    def module_loaded(self, module: str) -> bool:
        return (self.state / "modules" / module).exists()

    def swaps(self) -> list[str]:
        return (self.state / "swaps").read_text().splitlines()[1:]

    def running_docker_config(self) -> str | None:
        path = self.state / "docker" / "daemon.json"
        return path.read_text() if path.exists() else None

    def links(self) -> list[str]:
        directory = self.state / "links"
        return sorted(p.name for p in directory.iterdir()) if directory.exists() else []

    def add_link(self, name: str) -> None:
        (self.state / "links").mkdir(exist_ok=True)
        (self.state / "links" / name).touch()

    def addresses(self, link: str) -> list[str]:
        path = self.state / "addresses" / link
        return path.read_text().split() if path.exists() else []

    def running_containerd_config(self) -> dict | None:
        """The configuration containerd was last started with (its CRI view), or None."""
        path = self.state / "containerd" / "running.json"
        return json.loads(path.read_text()) if path.exists() else None

    def connection_addresses(self, connection: str = "") -> list[str]:
        """The ipv4.addresses of a NetworkManager connection profile (eth0's by default)."""
        path = self.state / "nm/connections" / (connection or EL9_CONNECTION) / "ipv4.addresses"
        return path.read_text().split() if path.exists() else []

    def nm_reconnect(self, link: str = "eth0") -> None:
        """What a reapply, a link bounce or a reboot does under NetworkManager: the link gets
        exactly its connection's addresses; anything added beside it is gone."""
        for connection in (self.state / "nm/connections").iterdir():
            if (connection / "device").read_text().strip() == link:
                addresses = (connection / "ipv4.addresses").read_text()
                (self.state / "addresses" / link).write_text(addresses)

    def iptables(self) -> str:
        path = self.state / "iptables"
        return path.read_text() if path.exists() else ""

    def set_iptables(self, rules: str) -> None:
        (self.state / "iptables").write_text(rules)

    def simulate_pod_network(self, pod_cidr: str = "10.244.0.0/16") -> None:
        """What flannel, kube-proxy and the CNI plugins leave on a node once it runs pods."""
        self.add_link("cni0")
        self.add_link("flannel.1")
        self.write("/var/lib/cni/networks/cbr0/10.244.1.2", "container-id\n")
        self.write("/etc/cni/net.d/10-flannel.conflist", '{"name": "cbr0"}\n')
        rules = self.iptables()
        nat, _, rest = rules.partition("COMMIT\n")
        nat = nat.replace(
            ":POSTROUTING ACCEPT [0:0]\n",
            ":POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n"
            ":CNI-HOSTPORT-DNAT - [0:0]\n",
        )
        nat += (
            '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'
            '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" '
            "-j KUBE-POSTROUTING\n"
            f"-A POSTROUTING -s {pod_cidr} -d {pod_cidr} -j RETURN\n"
            f"-A POSTROUTING -s {pod_cidr} ! -d 224.0.0.0/4 -j MASQUERADE\n"
            "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n"
        )
        rest = rest.replace(
            ":DOCKER - [0:0]\n", ":DOCKER - [0:0]\n:KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n"
        )
        rest = rest.replace(
            "COMMIT\n",
            "-A INPUT -j KUBE-FIREWALL\n"
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD\n'
            f"-A FORWARD -s {pod_cidr} -j ACCEPT\n"
            f"-A FORWARD -d {pod_cidr} -j ACCEPT\n"
            "COMMIT\n",
        )
        self.set_iptables(f"{nat}COMMIT\n{rest}")


class Lab:
    """The hosts of one test and the cluster they share."""

    def __repr__(self) -> str:
        return f"<Lab {self.path}>"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cluster = path / "cluster"

    @classmethod
    def create(
        cls, path: Path, addresses: dict[str, str], platform: str = "centos7", **tree_options: bool
    ) -> Lab:
        """A lab of fresh hosts (name -> address/prefix of its eth0) of one platform: centos7
        or el9."""
        build = {"centos7": build_centos7_tree, "el9": build_el9_tree}[platform]
        lab = cls(path)
        lab.cluster.mkdir(parents=True)
        for name, address in addresses.items():
            root = path / "hosts" / name
            build(root, **tree_options)
            (root / "stub-state/addresses").mkdir()
            (root / "stub-state/addresses/eth0").write_text(f"{address}\n")
            if platform == "el9":
                # cloud-init's NetworkManager keyfile for the static network-config
                connection = root / "stub-state/nm/connections" / EL9_CONNECTION
                connection.mkdir(parents=True)
                (connection / "device").write_text("eth0\n")
                (connection / "ipv4.addresses").write_text(f"{address}\n")
        return lab

    def clone(self, path: Path) -> Lab:
        subprocess.run(["cp", "-a", str(self.path), str(path)], check=True)
        return Lab(path)

    def host(self, name: str) -> Host:
        if not (self.path / "hosts" / name).is_dir():
            raise KeyError(f"no host {name!r} in this lab")
        return Host(self, name)

    # --- the simulated cluster -------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        return (self.cluster / "endpoint").exists()

    def tokens(self) -> dict[str, list[str]]:
        """token id -> [secret, ttl, description...]"""
        directory = self.cluster / "tokens"
        if not directory.exists():
            return {}
        return {p.name: p.read_text().strip().split(maxsplit=2) for p in directory.iterdir()}

    def nodes(self) -> list[str]:
        directory = self.cluster / "nodes"
        if not directory.exists():
            return []
        return sorted(p.name for p in directory.iterdir() if "." not in p.name)

    def cordoned(self, node: str) -> bool:
        return (self.cluster / "nodes" / f"{node}.cordoned").exists()

    def accept_join_command(self, join_command: str) -> None:
        """Make the cluster know the token and CA hash of join_command (e.g. the mocks' one)."""
        words = join_command.split()
        token = words[words.index("--token") + 1]
        ca_hash = words[words.index("--discovery-token-ca-cert-hash") + 1]
        token_id, secret = token.split(".")
        (self.cluster / "tokens").mkdir(exist_ok=True)
        (self.cluster / "tokens" / token_id).write_text(f"{secret} 1h join\n")
        (self.cluster / "ca-hash").write_text(ca_hash.removeprefix("sha256:") + "\n")

    def register_node(self, name: str) -> None:
        (self.cluster / "nodes").mkdir(exist_ok=True)
        (self.cluster / "nodes" / name).write_text("Ready\n")

    def set_registration_delay(self, polls: int) -> None:
        """A node joined later shows up only after this many `kubectl get node` calls."""
        (self.cluster / "registration-delay").write_text(f"{polls}\n")

    def serve(self, address: str, path: str, status: int, body: str = "") -> None:
        """What the curl stub gets from http://address<path> (a path ending in / is its index)."""
        target = self.cluster / "http" / (address + path + ("index" if path.endswith("/") else ""))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{status}\n{body}\n")

    def run_pod(
        self,
        name: str,
        node: str,
        phase: str = "Running",
        labels: str = "",
        namespace: str = "kube-system",
    ) -> None:
        (self.cluster / "pods").mkdir(exist_ok=True)
        (self.cluster / "pods" / name).write_text(f"{phase} {node} {namespace} {labels}\n")

    def set_node_ready(self, node: str, ready: bool) -> None:
        (self.cluster / "nodes" / node).write_text("Ready\n" if ready else "False\n")

    def api_down(self, down: bool = True) -> None:
        flag = self.cluster / "down"
        if down:
            flag.touch()
        else:
            flag.unlink()


# --- a fresh CentOS 7 GenericCloud host -----------------------------------------------------

CENTOS_HOSTS = (
    "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n"
    "::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n"
)
CENTOS_SELINUX_CONFIG = """
# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
SELINUX=enforcing
# SELINUXTYPE= can take one of three values:
#     targeted - Targeted processes are protected,
#     minimum - Modification of targeted policy. Only selected processes are protected. 
#     mls - Multi Level Security protection.
SELINUXTYPE=targeted 


"""  # noqa: W291 - CentOS ships those trailing blanks
CENTOS_FSTAB = """
#
# /etc/fstab
# Created by anaconda on Thu Oct 29 18:44:32 2020
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
UUID=8ac075e3-1124-4bb6-bef7-a6811bf8b870 /                       xfs     defaults        0 0
/dev/mapper/centos-swap swap                    swap    defaults        0 0
"""
CENTOS_FSTAB_SWAP = "/dev/mapper/centos-swap swap                    swap    defaults        0 0"
CENTOS_BASE_REPO = """# CentOS-Base.repo
#
# The mirror system uses the connecting IP address of the client and the
# update status of each mirror to pick mirrors that are updated to and
# geographically close to the client.  You should use this for CentOS updates
# unless you are manually picking other mirrors.

[base]
name=CentOS-$releasever - Base
mirrorlist=http://mirrorlist.centos.org/?release=$releasever&arch=$basearch&repo=os&infra=$infra
#baseurl=http://mirror.centos.org/centos/$releasever/os/$basearch/
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7

#released updates
[updates]
name=CentOS-$releasever - Updates
mirrorlist=http://mirrorlist.centos.org/?release=$releasever&arch=$basearch&repo=updates&infra=$infra
#baseurl=http://mirror.centos.org/centos/$releasever/updates/$basearch/
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7

#additional packages that may be useful
[extras]
name=CentOS-$releasever - Extras
mirrorlist=http://mirrorlist.centos.org/?release=$releasever&arch=$basearch&repo=extras&infra=$infra
#baseurl=http://mirror.centos.org/centos/$releasever/extras/$basearch/
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7
"""
CENTOS_PASSWD = """root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:99:99:Nobody:/:/sbin/nologin
sshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin
centos:x:1000:1000:Cloud User:/home/centos:/bin/bash
"""
CENTOS_GROUP = """root:x:0:
bin:x:1:
daemon:x:2:
wheel:x:10:centos
nobody:x:99:
sshd:x:74:
centos:x:1000:
"""
SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n"
SWAP_AREA = "/dev/dm-1                               partition\t2097148\t0\t-2\n"
CENTOS_PACKAGES = (
    "bash 4.2.46 34.el7 x86_64\n"
    "cloud-init 19.4 7.el7.centos.6 x86_64\n"
    "kernel 3.10.0 1160.el7 x86_64\n"
    "iptables 1.4.21 35.el7 x86_64\n"
)
FRESH_IPTABLES = (
    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    ":POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
)


def _write(root: Path, path: str, text: str, mode: int = 0o644) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def _skeleton(root: Path, user: str, platform: str) -> Path:
    """What every tree has: the file system's frame, devices, the image user's home with its
    authorized key, and the stubs' state. Returns the state directory."""
    for directory in ("usr", ".stubs", "stub-cluster", "dev", "proc", "run", "var/log", "var/lib"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    for device in ("null", "zero", "full", "random", "urandom"):
        (root / "dev" / device).touch()
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        (root / "dev" / link).symlink_to(target)
    for number, link in ((1, "stdout"), (2, "stderr")):
        (root / "dev" / link).symlink_to(f"/proc/self/fd/{number}")
    for directory, mode in (("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o550)):
        (root / directory).mkdir(parents=True, exist_ok=True)
        (root / directory).chmod(mode)
    home = root / "home" / user
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh/authorized_keys").write_text("ssh-ed25519 AAAAC3Nza test@example\n")
    for path in (home, home / ".ssh", home / ".ssh/authorized_keys"):
        os.chown(path, 1000, 1000)
    home.chmod(0o700)
    (home / ".ssh").chmod(0o700)
    (root / "etc/sysctl.d").mkdir(parents=True)
    (root / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    (root / "etc/modules-load.d").mkdir()
    (root / "etc/systemd/system/multi-user.target.wants").mkdir(parents=True)
    (root / "etc/sysconfig").mkdir()
    _mirror_alternatives(root)

    state = root / "stub-state"
    for directory in ("fail", "units", "sysctl", "modules", "links"):
        (state / directory).mkdir(parents=True)
    (state / "platform").write_text(f"{platform}\n")
    (state / "calls").touch()
    (state / "hostname").write_text("localhost.localdomain\n")
    (state / "selinux").write_text("Enforcing\n")
    (state / "sysctl/net.ipv4.ip_forward").write_text("0\n")
    (state / "links/lo").touch()
    (state / "links/eth0").touch()
    return state


def build_centos7_tree(root: Path, *, swap: bool = True, firewalld: bool = True) -> None:
    """A fresh CentOS 7 GenericCloud host as the scripts find it on first boot."""
    state = _skeleton(root, "centos", "centos7")
    write = functools.partial(_write, root)
    write("etc/hosts", CENTOS_HOSTS)
    write("etc/hostname", "localhost.localdomain\n")
    write("etc/passwd", CENTOS_PASSWD)
    write("etc/group", CENTOS_GROUP)
    write("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    write("etc/selinux/config", CENTOS_SELINUX_CONFIG)
    write("etc/fstab", CENTOS_FSTAB if swap else CENTOS_FSTAB.replace(CENTOS_FSTAB_SWAP + "\n", ""))
    write("etc/yum.repos.d/CentOS-Base.repo", CENTOS_BASE_REPO)
    write("etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    write(
        "etc/sysctl.conf", "# System default settings live in /usr/lib/sysctl.d/00-system.conf.\n"
    )
    write("etc/cloud/cloud.cfg", "users:\n - default\ndisable_root: 1\n")
    write("etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n")

    (state / "swaps").write_text(SWAPS_HEADER + (SWAP_AREA if swap else ""))
    (state / "iptables").write_text(FRESH_IPTABLES)
    packages = CENTOS_PACKAGES
    if firewalld:
        packages += "firewalld 0.6.3 13.el7_9 noarch\n"
        (state / "units/firewalld.service").mkdir()
        (state / "units/firewalld.service/enabled").touch()
        (state / "units/firewalld.service/active").touch()
    (state / "rpmdb").write_text(packages)


# --- a fresh AlmaLinux 9 GenericCloud host ---------------------------------------------------

# The connection cloud-init 24.4 writes for eth0 from a static network-config (its
# NetworkManager renderer names it "cloud-init <device>").
EL9_CONNECTION = "cloud-init eth0"
EL9_PASSWD = """root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin
sshd:x:74:74:Privilege-separated SSH:/usr/share/empty.sshd:/sbin/nologin
almalinux:x:1000:1000:Cloud User:/home/almalinux:/bin/bash
"""
EL9_GROUP = """root:x:0:
bin:x:1:
daemon:x:2:
wheel:x:10:almalinux
sshd:x:74:
nobody:x:65534:
almalinux:x:1000:
"""
EL9_SELINUX_CONFIG = """
# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
# See also:
# https://docs.fedoraproject.org/en-US/quick-docs/getting-started-with-selinux/#getting-started-with-selinux-selinux-states-and-modes
#
# NOTE: In earlier Fedora kernel builds, SELINUX=disabled would also
# fully disable SELinux during boot. If you need a system with SELinux
# fully disabled instead of SELinux running with no policy loaded, you
# need to pass selinux=0 to the kernel command line. You can use grubby
# to persistently set the bootloader to boot with selinux=0:
#
#    grubby --update-kernel ALL --args selinux=0
#
# To revert back to SELinux enabled:
#
#    grubby --update-kernel ALL --remove-args selinux
#
SELINUX=enforcing
# SELINUXTYPE= can take one of these three values:
#     targeted - Targeted processes are protected,
#     minimum - Modification of targeted policy. Only selected processes are protected.
#     mls - Multi Level Security protection.
SELINUXTYPE=targeted
"""
# The GenericCloud image has no swap partition.
EL9_FSTAB = """
#
# /etc/fstab
# Created by anaconda on Mon Nov 10 09:02:11 2025
#
UUID=4a7c1c2e-3e21-4f0f-9d38-0f5b1d1e9a11 /                       xfs     defaults        0 0
UUID=7B77-95E7          /boot/efi               vfat    defaults,uid=0,gid=0,umask=077,shortname=winnt 0 2
"""  # noqa: E501 - as the image has it
EL9_REPOS = {
    "almalinux-baseos.repo": "[baseos]\nname=AlmaLinux $releasever - BaseOS\n"
    "mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos\n"
    "enabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\n",
    "almalinux-appstream.repo": "[appstream]\nname=AlmaLinux $releasever - AppStream\n"
    "mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\n"
    "enabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\n",
}
EL9_PACKAGES = (
    "bash 5.1.8 9.el9 x86_64\n"
    "cloud-init 24.4 4.el9.alma.1 noarch\n"
    "kernel 5.14.0 611.5.1.el9_7 x86_64\n"
    "NetworkManager 1.54.0 2.el9_7 x86_64\n"
    "openssh-server 8.7p1 46.el9 x86_64\n"
)


def build_el9_tree(root: Path) -> None:
    """A fresh AlmaLinux 9 GenericCloud host as the scripts find it on first boot: no swap, no
    firewalld, no iptables, NetworkManager running eth0's cloud-init connection."""
    state = _skeleton(root, "almalinux", "el9")
    write = functools.partial(_write, root)
    write("etc/hosts", CENTOS_HOSTS)
    write("etc/hostname", "localhost\n")
    write("etc/passwd", EL9_PASSWD)
    write("etc/group", EL9_GROUP)
    write("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    write("etc/selinux/config", EL9_SELINUX_CONFIG)
    write("etc/fstab", EL9_FSTAB)
    for name, text in EL9_REPOS.items():
        write(f"etc/yum.repos.d/{name}", text)
    write("etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    write("etc/sysctl.conf", "# sysctl settings are defined through files in\n")
    write("etc/cloud/cloud.cfg", "users:\n - default\ndisable_root: true\n")
    write("etc/almalinux-release", "AlmaLinux release 9.7 (Moss Jungle Cat)\n")
    write(
        "etc/ssh/sshd_config",
        "#HostKey /etc/ssh/ssh_host_rsa_key\n"
        "#HostKey /etc/ssh/ssh_host_ecdsa_key\n#HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "Include /etc/ssh/sshd_config.d/*.conf\n",
    )
    (root / "etc/ssh/sshd_config.d").mkdir()
    (root / "etc/NetworkManager/conf.d").mkdir(parents=True)
    (root / "etc/NetworkManager/system-connections").mkdir(parents=True)

    (state / "swaps").write_text(SWAPS_HEADER)
    (state / "hostname").write_text("localhost\n")
    # the tables kubelet and kube-proxy find (iptables-nft keeps the same save format)
    (state / "iptables").write_text(FRESH_IPTABLES)
    for unit in ("NetworkManager.service", "sshd.service"):
        (state / "units" / unit).mkdir()
        (state / "units" / unit / "enabled").touch()
        (state / "units" / unit / "active").touch()
    (state / "rpmdb").write_text(EL9_PACKAGES)


@cache
def _command_alternatives() -> tuple[tuple[str, str], ...]:
    """The host's commands that go through /etc/alternatives (Debian: awk -> mawk)."""
    found = set()
    for folder in (Path("/usr/bin"), Path("/usr/sbin")):
        for entry in folder.iterdir():
            if not entry.is_symlink():
                continue
            link = os.readlink(entry)
            if link.startswith("/etc/alternatives/"):
                alternative = Path(link)
                if alternative.is_symlink() and os.readlink(alternative).startswith("/usr/"):
                    found.add((alternative.name, os.readlink(alternative)))
    return tuple(sorted(found))


def _mirror_alternatives(root: Path) -> None:
    """Those commands resolve through the tree's /etc, so it gets the same links (CentOS has an
    /etc/alternatives too)."""
    alternatives = _command_alternatives()
    if alternatives:
        (root / "etc/alternatives").mkdir(parents=True, exist_ok=True)
    for name, target in alternatives:
        (root / "etc/alternatives" / name).symlink_to(target)
