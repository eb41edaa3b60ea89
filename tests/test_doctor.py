"""`make doctor` (tools/doctor.py), driven with fake virsh, ip and pulumi executables and a real
HTTP server on 127.0.0.1 standing in for every mirror and registry. No test reaches any other
address: every source in the stack files here points at that server."""

from __future__ import annotations

import gzip
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, ROOT

from components.platforms import platform
from components.settings import check, stack_file_config
from tools import doctor

HEALTHY_VIRSH = """#!/bin/sh
case "$*" in
  *" version") echo "Compiled against library: libvirt 9.0.0" ;;
  *"net-list --all --name") printf 'default\\n' ;;
  *"net-dumpxml default")
    echo "<network><name>default</name><bridge name='virbr0'/>"
    echo "<ip address='192.168.122.1' netmask='255.255.255.0'/></network>" ;;
  *) echo "virsh: unexpected $*" >&2; exit 1 ;;
esac
"""
HEALTHY_ROUTES = (
    "default via 10.0.2.2 dev eth0 proto dhcp metric 100\n"
    "10.0.2.0/24 dev eth0 proto kernel scope link src 10.0.2.15\n"
    "192.168.122.0/24 dev virbr0 proto kernel scope link src 192.168.122.1\n"
)


class Mirror(http.server.BaseHTTPRequestHandler):
    """/ok/... answers 200, /v2/ 401 as a registry does, /missing/... and /missing/v2/ 404,
    /nokey/... 404 for a file ending in .key and 200 for the rest, /hang/... never,
    /redirect/<host:port>/<path> 302 to http://<host:port>/<path>. Every path asked for is
    kept in the server's `requested`."""

    def do_GET(self):  # noqa: N802 - the handler API
        self.server.requested.append(self.path)
        if self.path.startswith("/hang/"):
            time.sleep(30)
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "http://" + self.path.removeprefix("/redirect/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 404 if self.path.startswith("/missing/") else 200
        if self.path.startswith("/nokey/") and self.path.endswith(".key"):
            status = 404
        if self.path.endswith("/v2/") and status == 200:
            status = 401
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class MirrorServer(http.server.ThreadingHTTPServer):
    # The doctor probes about a dozen sources at once; the default backlog of 5 drops
    # connections on a loaded machine (socketserver.TCPServer.request_queue_size).
    request_queue_size = 128
    daemon_threads = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requested: list[str] = []


def serve(address: str = "127.0.0.1") -> MirrorServer:
    server = MirrorServer((address, 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def mirror():
    server = serve()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def recorder():
    """A server of this test's own, whose `requested` holds only what this test asked for."""
    server = serve()
    yield server
    server.shutdown()
    server.server_close()


def sources_at(base: str) -> dict:
    """Every external source of the stack on the loopback server."""
    return {
        "baseImage": f"http://{base}/ok/centos7.qcow2",
        "centosVaultBaseUrls": [f"http://{base}/ok/vault"],
        "dockerCeRepoUrl": f"http://{base}/ok/docker/$basearch/stable",
        "dockerCeGpgKey": f"http://{base}/ok/docker/gpg",
        "kubernetesRepoUrls": [f"http://{base}/ok/kubernetes/"],
        "registryMirrors": [f"http://{base}"],
        "imageRepository": f"{base}/google_containers",
        "flannelImage": f"{base}/flannel:v0.11.0",
        "registryImage": f"{base}/registry:2.8.3",
        "appSeedImage": f"{base}/app:1.0",
        "appSeedToolImage": f"{base}/skopeo:v1.15.0",
    }


class FakeSystem(doctor.System):
    free = 500 * 1024**3
    unwritable: frozenset = frozenset()

    def free_bytes(self, path: Path) -> int:
        return self.free

    def writable(self, path: Path) -> bool:
        return path not in self.unwritable


class Machine:
    """A project copy, fake executables and the machine files the doctor reads: the same for
    whoever runs the tests, however loaded the machine and however full its disk."""

    def __init__(self, tmp: Path, mirror: str, ssh_home: Path) -> None:
        self.root = tmp / "project"
        self.root.mkdir()
        for name in ("Pulumi.yaml", "requirements.txt"):
            shutil.copy(ROOT / name, self.root / name)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.files = tmp / "files"
        self.files.mkdir()
        (self.files / "kvm").touch()
        (self.files / "meminfo").write_text("MemTotal: 32000000 kB\nMemAvailable: 16000000 kB\n")
        self.filesystem = tmp / "hypervisor"
        socket = self.filesystem / doctor.LIBVIRT_SOCKET.lstrip("/")
        socket.parent.mkdir(parents=True)
        socket.touch()
        self.free = 500 * 1024**3
        self.unwritable: set[Path] = set()
        self.euid, self.groups = 1000, frozenset({"tester", "libvirt"})
        self.config = {f"{PROJECT}:{k}": v for k, v in sources_at(mirror).items()}
        self.fake("pulumi", "#!/bin/sh\necho v3.259.0\n")
        self.fake("virsh", HEALTHY_VIRSH)
        self.fake("ip", f"#!/bin/sh\nprintf '%s' '{HEALTHY_ROUTES}'\n")
        self.fake("mkisofs", "#!/bin/sh\nexit 0\n")
        self.environ = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(ssh_home),
            "PULUMI_CONFIG_PASSPHRASE": "test",
        }

    def fake(self, name: str, script: str) -> None:
        path = self.bin / name
        path.write_text(script)
        path.chmod(0o755)

    def system(self) -> doctor.System:
        system = FakeSystem(
            environ=dict(self.environ),
            kvm=self.files / "kvm",
            meminfo=self.files / "meminfo",
            apparmor=self.files / "apparmor",
            qemu_conf=self.files / "qemu.conf",
            os_release=self.files / "os-release",
            filesystem=self.filesystem,
            euid=self.euid,
            user="tester",
            groups=self.groups,
        )
        system.free = self.free
        system.unwritable = frozenset(self.unwritable)
        return system

    def write_stack(self, stack: str = "test", **config) -> None:
        values = dict(self.config)
        values.update({f"{PROJECT}:{k}": v for k, v in config.items()})
        (self.root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": values}))

    def diagnose(self, stack: str = "test", **config) -> dict[str, doctor.Check]:
        self.write_stack(stack, **config)
        return self.checks(stack)

    def checks(self, stack: str = "test") -> dict[str, doctor.Check]:
        checks = doctor.diagnose(self.root, stack, self.system())
        return {c.name: c for c in checks}


@pytest.fixture
def machine(tmp_path, mirror, ssh_home, monkeypatch):
    # Shorter waits than a real run's, the same behaviour: a source that does not answer in
    # time is a warning, and the doctor never waits longer than its deadline.
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(doctor, "PROBE_DEADLINE_SECONDS", 1.5)
    return Machine(tmp_path, mirror, ssh_home)


def test_a_ready_machine_passes_every_check(machine, monkeypatch):
    # Time enough for a loaded machine: nothing here hangs, so it is fast when it passes.
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 20.0)
    monkeypatch.setattr(doctor, "PROBE_DEADLINE_SECONDS", 30.0)
    checks = machine.diagnose()
    problems = {n: c.detail for n, c in checks.items() if c.status != doctor.OK}
    assert problems == {}
    assert len([c for c in checks.values() if c.status == doctor.OK]) >= 20


def test_a_missing_cli_is_a_blocker_with_the_install_command(machine):
    (machine.bin / "pulumi").unlink()
    check = machine.diagnose()["Pulumi CLI"]
    assert check.status == doctor.FAIL and "get.pulumi.com" in check.fix


@pytest.mark.parametrize("version", ["v3.201.0", "v3.261.0", "v3.276.0", "v4.0.1", "v2.25.0"])
def test_a_cli_outside_the_readme_range_is_a_blocker(machine, version):
    machine.fake("pulumi", f"#!/bin/sh\necho {version}\n")
    check = machine.diagnose()["Pulumi CLI"]
    assert check.status == doctor.FAIL
    assert f"--version {doctor.PULUMI_INSTALL_VERSION}" in check.fix


@pytest.mark.parametrize("version", ["v3.202.0", "v3.259.0", "v3.260.0", "v3.260.2"])
def test_a_cli_inside_the_readme_range_passes(machine, version):
    machine.fake("pulumi", f"#!/bin/sh\necho {version}\n")
    assert machine.diagnose()["Pulumi CLI"].status == doctor.OK


def test_the_cli_range_is_the_one_the_readme_states():
    text = (ROOT / "README.md").read_text()
    assert f"Pulumi CLI {doctor.cli_range_text()}" in text
    assert f"--version {doctor.PULUMI_INSTALL_VERSION}" in text


def test_without_a_passphrase_make_makes_the_projects_own_before_the_first_stack(machine):
    del machine.environ["PULUMI_CONFIG_PASSPHRASE"]
    check = machine.diagnose()["state passphrase"]
    assert check.status == doctor.OK and ".pulumi-passphrase" in check.detail


def test_a_state_without_its_passphrase_is_a_blocker(machine):
    del machine.environ["PULUMI_CONFIG_PASSPHRASE"]
    write_state(machine, "qemu:///system")
    check = machine.diagnose()["state passphrase"]
    assert check.status == doctor.FAIL and "PULUMI_CONFIG_PASSPHRASE_FILE" in check.fix
    (machine.root / ".pulumi-passphrase").write_text("chosen\n")
    assert machine.checks()["state passphrase"].status == doctor.OK


def test_a_bad_setting_is_a_blocker_naming_key_and_value(machine):
    check = machine.diagnose(podNetworkCidr="10.244.0.0/33")["config podNetworkCidr"]
    assert check.status == doctor.FAIL
    assert "config podNetworkCidr='10.244.0.0/33'" in check.detail
    assert "pulumi config set --stack test 'podNetworkCidr' <value>" in check.fix


def test_a_secret_set_in_the_stack_file_is_only_reported_as_set(machine):
    checks = machine.diagnose(sshPrivateKey={"secure": "v1:AAAAciphertext"})
    assert checks["configuration"].status == doctor.OK
    assert "not decrypted" in checks["SSH key pair"].detail


def test_a_missing_mkisofs_names_the_package_of_the_distribution(machine):
    (machine.bin / "mkisofs").unlink()
    (machine.files / "os-release").write_text('ID="rocky"\nID_LIKE="rhel centos fedora"\n')
    check = machine.diagnose()["mkisofs"]
    assert check.status == doctor.FAIL and "dnf install xorriso" in check.fix


def test_an_unreachable_libvirt_is_a_blocker(machine):
    machine.fake(
        "virsh", "#!/bin/sh\necho 'error: failed to connect to the hypervisor' >&2\nexit 1\n"
    )
    check = machine.diagnose()["libvirt"]
    assert check.status == doctor.FAIL and "failed to connect" in check.detail


def test_no_kvm_is_a_blocker(machine):
    (machine.files / "kvm").unlink()
    assert machine.diagnose()["/dev/kvm"].status == doctor.FAIL


def test_too_little_memory_for_the_nodes_is_a_blocker(machine):
    (machine.files / "meminfo").write_text("MemAvailable: 4000000 kB\n")
    check = machine.diagnose()["memory"]
    assert check.status == doctor.FAIL and "6144 MiB" in check.detail


def test_a_node_network_that_is_already_routed_is_a_blocker(machine):
    routes = HEALTHY_ROUTES + "192.168.50.0/24 dev br-lab proto kernel scope link\n"
    machine.fake("ip", f"#!/bin/sh\nprintf '%s' '{routes}'\n")
    check = machine.diagnose()["node network"]
    assert check.status == doctor.FAIL and "br-lab" in check.detail


def test_another_libvirt_network_on_the_node_network_is_a_blocker(machine):
    machine.fake(
        "virsh",
        HEALTHY_VIRSH.replace("192.168.122.1", "192.168.50.1").replace("virbr0", "virbr9"),
    )
    check = machine.diagnose()["node network"]
    assert check.status == doctor.FAIL and "default" in check.detail


def with_network(name: str) -> str:
    """The healthy virsh, with one more network named name on 192.168.50.0/24 (virbr1)."""
    return HEALTHY_VIRSH.replace("printf 'default\\n'", f"printf 'default\\n{name}\\n'").replace(
        '  *) echo "virsh',
        f'  *"net-dumpxml {name}") echo "<network><name>{name}</name><bridge name=\'virbr1\'/>'
        "<ip address='192.168.50.1' prefix='24'/></network>\" ;;\n  *) echo \"virsh",
    )


def test_the_stacks_own_network_after_a_first_up_is_fine(machine):
    virsh = with_network("k8s-net-test")
    machine.fake("virsh", virsh)
    routes = HEALTHY_ROUTES + "192.168.50.0/24 dev virbr1 proto kernel scope link\n"
    machine.fake("ip", f"#!/bin/sh\nprintf '%s' '{routes}'\n")
    assert machine.diagnose()["node network"].status == doctor.OK


def test_apparmor_without_the_fix_is_a_warning_with_the_readmes_fix(machine):
    (machine.files / "apparmor").write_text("Y\n")
    (machine.files / "qemu.conf").write_text('#security_driver = "selinux"\n')
    check = machine.diagnose()["AppArmor"]
    assert check.status == doctor.WARN and 'security_driver = "none"' in check.fix
    (machine.files / "qemu.conf").write_text('security_driver = "none"\n')
    assert machine.diagnose()["AppArmor"].status == doctor.OK


def test_a_failing_mirror_is_a_warning_naming_its_key(machine, mirror):
    checks = machine.diagnose(kubernetesRepoUrls=[f"http://{mirror}/missing/kubernetes/"])
    check = checks["kubernetesRepoUrls[0]"]
    assert check.status == doctor.WARN and "HTTP 404" in check.detail
    assert "kubernetesRepoUrls" in check.fix
    assert not any(c.status == doctor.FAIL for c in checks.values())


# The hanging source never answers within 30 s; a bound well under that, with room for a loaded
# machine, shows the doctor kept its deadline.
SECONDS_NOT_HALF_A_MINUTE = 12


def test_a_hanging_mirror_is_a_warning_within_seconds(machine, mirror):
    started = time.monotonic()
    checks = machine.diagnose(centosVaultBaseUrls=[f"http://{mirror}/hang/vault"])
    assert time.monotonic() - started < SECONDS_NOT_HALF_A_MINUTE
    check = checks["centosVaultBaseUrls[0]"]
    assert check.status == doctor.WARN and "timed out" in check.detail


def test_a_source_still_unanswered_at_the_deadline_is_not_fine(machine, mirror, monkeypatch):
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 25.0)
    started = time.monotonic()
    checks = machine.diagnose(centosVaultBaseUrls=[f"http://{mirror}/hang/vault"])
    assert time.monotonic() - started < SECONDS_NOT_HALF_A_MINUTE
    check = checks["centosVaultBaseUrls[0]"]
    assert check.status == doctor.WARN and "no answer within" in check.detail


def test_every_probe_shares_one_deadline(machine, mirror):
    hanging = [f"http://{mirror}/hang/k8s{i}/" for i in range(4)]
    started = time.monotonic()
    checks = machine.diagnose(
        kubernetesRepoUrls=hanging, centosVaultBaseUrls=[f"http://{mirror}/hang/vault"]
    )
    assert time.monotonic() - started < SECONDS_NOT_HALF_A_MINUTE
    assert all(checks[f"kubernetesRepoUrls[{i}]"].status == doctor.WARN for i in range(4))


def test_no_network_at_all_is_one_line_about_this_machine(machine):
    closed = "127.0.0.1:9"  # discard: nothing listens there
    started = time.monotonic()
    checks = machine.diagnose(**sources_at(closed))
    assert time.monotonic() - started < SECONDS_NOT_HALF_A_MINUTE
    check = checks["sources"]
    assert check.status == doctor.WARN and "none of the" in check.detail
    assert "this machine" in check.fix
    assert not [n for n in checks if n.startswith(("baseImage", "flannelImage", "centosVault"))]


def test_one_answering_source_keeps_the_lines_per_key(machine, mirror):
    closed = "127.0.0.1:9"
    sources = sources_at(closed)
    sources["flannelImage"] = f"{mirror}/flannel:v0.11.0"
    checks = machine.diagnose(**sources)
    assert checks["flannelImage"].status == doctor.OK
    assert checks["baseImage"].status == doctor.WARN and "sources" not in checks


def test_a_registry_whose_v2_answers_404_is_not_a_registry(machine, mirror):
    checks = machine.diagnose(registryMirrors=[f"http://{mirror}"], flannelImage=f"{mirror}/x")
    assert checks["registryMirrors[0]"].status == doctor.OK
    probed = doctor.probe(f"http://{mirror}/missing/v2/")
    assert probed.problem == "HTTP 404"


def test_a_redirect_to_another_host_is_named_not_passed(machine, mirror):
    other = serve("127.0.0.2")
    try:
        target = f"127.0.0.2:{other.server_port}/ok/docker/gpg"
        checks = machine.diagnose(dockerCeGpgKey=f"http://{mirror}/redirect/{target}")
    finally:
        other.shutdown()
        other.server_close()
    check = checks["dockerCeGpgKey"]
    assert check.status == doctor.WARN and f"http://{target}" in check.detail


def test_a_redirect_on_the_same_host_is_fine(machine, mirror):
    checks = machine.diagnose(dockerCeGpgKey=f"http://{mirror}/redirect/{mirror}/ok/docker/gpg")
    assert checks["dockerCeGpgKey"].status == doctor.OK


def write_state(machine, uri: str, gzipped: bool = False) -> Path:
    """A local backend's checkpoint with a libvirt provider on uri."""
    folder = machine.root / ".pulumi-state/.pulumi/stacks" / PROJECT
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "version": 3,
        "checkpoint": {
            "latest": {
                "resources": [
                    {"type": "pulumi:pulumi:Stack", "inputs": {}},
                    {"type": "pulumi:providers:libvirt", "inputs": {"uri": uri}},
                ]
            }
        },
    }
    text = json.dumps(document)
    if gzipped:
        path = folder / "test.json.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = folder / "test.json"
        path.write_text(text)
    return path


def test_a_state_on_another_hypervisor_is_named_before_make_up_deletes_its_vms(machine):
    write_state(machine, "qemu+ssh://root@old-host/system")
    check = machine.diagnose()["hypervisor in the state"]
    assert check.status == doctor.WARN
    assert "qemu+ssh://root@old-host/system" in check.detail
    assert "qemu:///system" in check.detail
    assert "Changing the hypervisor" in check.fix


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_state_on_the_configured_hypervisor_is_fine(machine, gzipped):
    write_state(machine, "qemu:///system", gzipped)
    assert machine.diagnose()["hypervisor in the state"].status == doctor.OK


def test_the_state_is_read_where_pulumi_backend_url_points(machine, tmp_path):
    write_state(machine, "qemu+ssh://root@old-host/system")
    moved = tmp_path / "elsewhere"
    (machine.root / ".pulumi-state").rename(moved)
    machine.environ["PULUMI_BACKEND_URL"] = f"file://{moved}"
    assert machine.diagnose()["hypervisor in the state"].status == doctor.WARN


def test_existing_machines_skip_the_hypervisor_checks(machine):
    (machine.bin / "mkisofs").unlink()
    checks = machine.diagnose(hostSource="existing")
    assert "mkisofs" not in checks and "libvirt" not in checks
    assert checks["configuration"].status == doctor.OK


def test_make_doctor_prints_one_line_per_check_and_exits_non_zero_on_a_blocker(machine):
    machine.diagnose()  # writes Pulumi.test.yaml
    (machine.bin / "pulumi").unlink()
    script = (
        "import sys; from pathlib import Path; from tools import doctor; "
        f"checks = doctor.diagnose(Path({str(machine.root)!r}), 'test', doctor.System()); "
        "print(doctor.report(checks)); "
        "sys.exit(1 if any(c.status == 'FAIL' for c in checks) else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**machine.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^  FAIL  Pulumi CLI: not installed$", result.stdout, re.M)
    assert "blockers: fix the FAIL lines before `make up`" in result.stdout


# --- the whole truth at once ---------------------------------------------------------------------


def test_a_dev_network_that_is_up_blocks_a_second_stack_on_its_range(machine):
    machine.fake("virsh", with_network("k8s-net"))
    check = machine.diagnose()["node network"]
    assert check.status == doctor.FAIL and "k8s-net" in check.detail


def test_no_libvirt_at_all_is_a_blocker(machine):
    (machine.bin / "virsh").unlink()
    (machine.filesystem / doctor.LIBVIRT_SOCKET.lstrip("/")).unlink()
    checks = machine.diagnose()
    assert checks["libvirt"].status == doctor.FAIL and "libvirt-client" in checks["libvirt"].fix
    assert checks["libvirt socket"].status == doctor.FAIL
    assert "virtproxyd" in checks["libvirt socket"].fix
    assert "0 blockers" not in doctor.report(list(checks.values()))


def test_a_socket_the_user_cannot_use_is_a_blocker(machine):
    machine.unwritable = {machine.filesystem / doctor.LIBVIRT_SOCKET.lstrip("/")}
    check = machine.diagnose()["libvirt socket"]
    assert check.status == doctor.FAIL and "not writable by tester" in check.detail


def test_the_socket_the_uri_names_is_the_one_checked(machine):
    (machine.filesystem / "run/other").mkdir(parents=True)
    (machine.filesystem / "run/other/sock").touch()
    (machine.filesystem / doctor.LIBVIRT_SOCKET.lstrip("/")).unlink()
    checks = machine.diagnose(libvirtUri="qemu:///system?socket=/run/other/sock")
    assert checks["libvirt socket"].status == doctor.OK


def test_a_hypervisor_that_hangs_is_a_blocker_not_a_traceback(machine, monkeypatch):
    monkeypatch.setattr(doctor, "COMMAND_TIMEOUT_SECONDS", 1)
    machine.fake("virsh", "#!/bin/sh\nsleep 30\n")
    checks = machine.diagnose()
    assert checks["libvirt"].status == doctor.FAIL
    assert "did not answer" in checks["libvirt"].detail
    assert checks["node network"].status == doctor.OK  # no networks could be read: none overlap


def test_every_problem_is_reported_and_every_independent_check_still_runs(machine):
    (machine.bin / "mkisofs").unlink()
    (machine.files / "meminfo").write_text("MemAvailable: 1000000 kB\n")
    checks = machine.diagnose(
        podNetworkCidr="10.244.0.0/33", appPort="eighty", nodeNetwork="192.168.50.7/24"
    )
    failed = {n for n, c in checks.items() if c.status == doctor.FAIL}
    assert {
        "config podNetworkCidr",
        "config appPort",
        "config nodeNetwork",
        "mkisofs",
        "memory",
    } <= failed
    assert checks["node network"].status == doctor.SKIP
    assert "nodeNetwork" in checks["node network"].detail
    assert checks["libvirt"].status == doctor.OK and checks["/dev/kvm"].status == doctor.OK
    assert checks["flannelImage"].status == doctor.OK


def test_a_checks_own_setting_failing_skips_it(machine):
    checks = machine.diagnose(storagePoolPath="/etc/pool")
    assert checks["disk"].status == doctor.SKIP and "storagePoolPath" in checks["disk"].detail


def test_too_little_disk_for_the_pool_is_a_blocker(machine):
    machine.free = 3 * 1024**3
    check = machine.diagnose()["disk"]
    assert check.status == doctor.FAIL and "GiB needed" in check.detail


def test_a_route_that_overlaps_the_node_network_counts_not_only_an_equal_one(machine):
    routes = HEALTHY_ROUTES + "192.168.0.0/16 dev br-lab proto kernel scope link\n"
    machine.fake("ip", f"#!/bin/sh\nprintf '%s' '{routes}'\n")
    check = machine.diagnose()["node network"]
    assert check.status == doctor.FAIL and "192.168.0.0/16" in check.detail


def test_a_typo_is_named_with_the_key_it_was_meant_to_be_and_removed(machine):
    check = machine.diagnose(podNetworkCIDR="10.200.0.0/16")["config podNetworkCIDR"]
    assert check.status == doctor.FAIL
    assert "did you mean podNetworkCidr?" in check.detail
    assert check.fix == "pulumi config rm --stack test podNetworkCIDR"


def test_a_key_under_another_namespace_is_a_blocker(machine):
    machine.write_stack()
    document = yaml.safe_load((machine.root / "Pulumi.test.yaml").read_text())
    document["config"]["kubeadm:nodeNetwork"] = "10.9.0.0/24"
    (machine.root / "Pulumi.test.yaml").write_text(yaml.safe_dump(document))
    check = machine.checks()["config kubeadm:nodeNetwork"]
    assert check.status == doctor.FAIL and "kubeadm-libvirt:nodeNetwork" in check.detail
    assert "pulumi config rm --stack test kubeadm:nodeNetwork" in check.fix


def test_without_the_cli_the_fix_edits_the_stack_file(machine):
    (machine.bin / "pulumi").unlink()
    check = machine.diagnose(appPort="eighty")["config appPort"]
    assert check.fix.startswith("edit appPort in Pulumi.test.yaml")


def test_a_missing_ssh_key_is_fixed_with_a_key_for_the_cluster(machine, ssh_home):
    for name in ("id_ed25519", "id_ed25519.pub"):
        (ssh_home / ".ssh" / name).unlink()
    check = machine.diagnose()["config sshPrivateKey"]
    assert check.status == doctor.FAIL
    assert "ssh-keygen -t ed25519 -N '' -f ~/.ssh/kubeadm-libvirt" in check.fix
    assert "Pulumi.test.yaml" not in check.fix


def test_a_url_set_as_a_secret_is_refused_not_misread(machine):
    checks = machine.diagnose(registryMirrors={"secure": "v1:AAAAciphertext"})
    check = checks["config registryMirrors"]
    assert check.status == doctor.FAIL and "only sshPrivateKey can stay one" in check.detail
    assert "not a list" not in check.detail
    assert "pulumi config rm --stack test registryMirrors" in check.fix
    assert checks["flannelImage"].status == doctor.OK


def test_a_stack_without_its_stack_file_is_a_blocker(machine):
    checks = machine.checks("prod")
    check = checks["stack file"]
    assert check.status == doctor.FAIL and "Pulumi.prod.yaml" in check.detail
    assert "cp Pulumi.dev.yaml Pulumi.prod.yaml" in check.fix
    assert "Pulumi.current.yaml for the current track" in check.fix


def test_another_stack_on_the_same_addresses_is_a_blocker(machine):
    machine.write_stack("lab2")
    check = machine.diagnose()["other stacks"]
    assert check.status == doctor.FAIL and "lab2" in check.detail


def test_another_stack_with_its_vms_on_this_hypervisor_by_name_overlaps_it(machine):
    """The other stack's libvirtUri is elsewhere, but it places its nodes on this hypervisor
    through `hypervisors`, in an overlapping network: the two NAT networks would collide."""
    nodes = [
        {"name": "k8s-master", "address": "192.168.51.21", "role": "master", "hypervisor": "here"},
        {"name": "k8s-node01", "address": "192.168.51.22", "role": "worker", "hypervisor": "here"},
    ]
    machine.write_stack(
        "lab2",
        libvirtUri="qemu+ssh://root@elsewhere.example/system",
        hypervisors=[{"name": "here", "uri": "qemu:///system"}],
        nodeNetwork="192.168.50.0/23",
        nodes=nodes,
        registryAddress="192.168.51.24",
    )
    check = machine.diagnose()["other stacks"]
    assert check.status == doctor.FAIL and "nodeNetwork 192.168.50.0/23" in check.detail


def test_another_stack_on_its_own_addresses_is_fine(machine):
    nodes = [
        {"name": "k8s-master", "address": "192.168.60.21", "role": "master"},
        {"name": "k8s-node01", "address": "192.168.60.22", "role": "worker"},
    ]
    machine.write_stack(
        "lab2", nodeNetwork="192.168.60.0/24", nodes=nodes, registryAddress="192.168.60.24"
    )
    assert machine.diagnose()["other stacks"].status == doctor.OK


def test_the_ready_machine_needs_neither_root_nor_a_big_disk(machine):
    """Who runs the tests and how full the disk is do not change what the doctor sees."""
    machine.euid, machine.groups = 1000, frozenset({"libvirt"})
    assert machine.diagnose()["libvirt access"].status == doctor.OK
    machine.groups = frozenset({"users"})
    assert machine.checks()["libvirt access"].status == doctor.WARN


# --- the tracks ----------------------------------------------------------------------------------


def current_sources_at(base: str) -> dict:
    """Every external source of the current track on the loopback server, in the shapes of the
    track's own: a pkgs.k8s.io-like repository per {minor}, Docker's rhel/9 tree, ghcr.io-like
    flannel images."""
    return {
        "baseImage": f"http://{base}/ok/almalinux-9.qcow2",
        "dockerCeRepoUrl": f"http://{base}/ok/docker/rhel/9/$basearch/stable",
        "dockerCeGpgKey": f"http://{base}/ok/docker/rhel/gpg",
        "kubernetesRepoUrls": [f"http://{base}/ok/k8s/core:/stable:/{{minor}}/rpm/"],
        "registryMirrors": [f"http://{base}"],
        "imageRepository": f"{base}/k8s",
        "flannelImage": f"{base}/flannel-io/flannel:v1",
        "flannelCniPluginImage": f"{base}/flannel-io/flannel-cni-plugin:v1",
        "registryImage": f"{base}/registry:2.8.3",
        "appSeedImage": f"{base}/app:1.0",
        "appSeedToolImage": f"{base}/skopeo:v1.15.0",
    }


def on_current(machine: Machine, base: str) -> Machine:
    """The machine with the project's Pulumi.current.yaml, every source on base."""
    document = yaml.safe_load((ROOT / "Pulumi.current.yaml").read_text())
    machine.config = dict(document["config"])
    machine.config.update({f"{PROJECT}:{k}": v for k, v in current_sources_at(base).items()})
    return machine


def address(server: MirrorServer) -> str:
    return f"127.0.0.1:{server.server_port}"


def pinned_minor(track: str) -> str:
    """v1.36 of the track's pinned v1.36.4, worked out here rather than by the program."""
    return re.fullmatch(r"(v\d+\.\d+)\.\d+", platform(track).defaults["kubernetesVersion"])[1]


CURRENT_PROBES = {
    "baseImage",
    "dockerCeRepoUrl",
    "dockerCeGpgKey",
    "kubernetesRepoUrls[0]",
    "kubernetesRepoUrls[0] GPG key",
    "registryMirrors[0]",
    "imageRepository",
    "flannelImage",
    "flannelCniPluginImage",
    "registryImage",
    "appSeedToolImage",
    "appSeedImage",
}


def test_the_current_track_probes_what_its_hosts_will_fetch(machine, recorder, monkeypatch):
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 20.0)
    monkeypatch.setattr(doctor, "PROBE_DEADLINE_SECONDS", 30.0)
    checks = on_current(machine, address(recorder)).diagnose("current")
    problems = {n: c.detail for n, c in checks.items() if c.status != doctor.OK}
    assert problems == {}
    minor = pinned_minor("current")
    assert Counter(recorder.requested) == Counter(
        {
            "/ok/almalinux-9.qcow2": 1,
            "/ok/docker/rhel/9/x86_64/stable/repodata/repomd.xml": 1,
            "/ok/docker/rhel/gpg": 1,
            f"/ok/k8s/core:/stable:/{minor}/rpm/repodata/repomd.xml": 1,
            f"/ok/k8s/core:/stable:/{minor}/rpm/repodata/repomd.xml.key": 1,
            # the mirror, and the registries of imageRepository, both flannel images, the
            # registry's image and the app's two
            "/v2/": 7,
        }
    )
    probed = {n for n, c in checks.items() if "http://" in c.detail}
    assert probed == CURRENT_PROBES
    assert not [n for n in checks if n.startswith(("centosVault", "dockerVersion"))]


def test_three_masters_also_probe_kube_vips_registry(machine, recorder, monkeypatch):
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 20.0)
    monkeypatch.setattr(doctor, "PROBE_DEADLINE_SECONDS", 30.0)
    base = address(recorder)
    document = yaml.safe_load((ROOT / "Pulumi.ha.yaml").read_text())
    machine.config = dict(document["config"])
    sources = {**current_sources_at(base), "kubeVipImage": f"{base}/kube-vip/kube-vip:v1"}
    machine.config.update({f"{PROJECT}:{k}": v for k, v in sources.items()})
    checks = machine.diagnose("ha")
    problems = {n: c.detail for n, c in checks.items() if c.status != doctor.OK}
    assert problems == {}
    probed = {n for n, c in checks.items() if "http://" in c.detail}
    assert probed == CURRENT_PROBES | {"kubeVipImage"}


def test_the_tutorials_probes_are_the_ones_it_always_had(machine, recorder, monkeypatch):
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 20.0)
    monkeypatch.setattr(doctor, "PROBE_DEADLINE_SECONDS", 30.0)
    machine.config = {f"{PROJECT}:{k}": v for k, v in sources_at(address(recorder)).items()}
    checks = machine.diagnose()
    assert Counter(recorder.requested) == Counter(
        {
            "/ok/centos7.qcow2": 1,
            "/ok/vault/os/x86_64/repodata/repomd.xml": 1,
            "/ok/docker/x86_64/stable/repodata/repomd.xml": 1,
            "/ok/docker/gpg": 1,
            "/ok/kubernetes/repodata/repomd.xml": 1,
            "/v2/": 6,  # the mirror; imageRepository, flannel, registry, the app's two images
        }
    )
    probed = {n for n, c in checks.items() if "http://" in c.detail}
    assert probed == {
        "baseImage",
        "centosVaultBaseUrls[0]",
        "dockerCeRepoUrl",
        "dockerCeGpgKey",
        "kubernetesRepoUrls[0]",
        "registryMirrors[0]",
        "imageRepository",
        "flannelImage",
        "registryImage",
        "appSeedToolImage",
        "appSeedImage",
    }
    assert all(checks[name].status == doctor.OK for name in probed)


def test_the_project_current_stack_has_every_placeholder_filled(ssh_home):
    """Pulumi.current.yaml as it is (only URLs worked out: nothing is sent anywhere)."""
    raw, secret, foreign = stack_file_config(ROOT / "Pulumi.yaml", ROOT / "Pulumi.current.yaml")
    settings, errors = check(
        raw, secret_keys=secret, foreign_keys=foreign, home=ssh_home, stack="current"
    )
    assert settings is not None and errors == []
    found = {source.name: source.url for source in doctor.sources(settings)}
    assert set(found) == CURRENT_PROBES - {"registryMirrors[0]"}
    leftovers = {name: url for name, url in found.items() if re.search(r"[{}$]", url)}
    assert leftovers == {}
    minor = pinned_minor("current")
    assert found["kubernetesRepoUrls[0]"].endswith(f"/{minor}/rpm/repodata/repomd.xml")
    assert found["kubernetesRepoUrls[0] GPG key"].endswith(f"/{minor}/rpm/repodata/repomd.xml.key")


CLOSED_REGISTRY = "127.0.0.1:9"  # nothing listens there


@pytest.mark.parametrize(
    ("name", "setting", "value", "shown"),
    [
        ("baseImage", "baseImage", "http://{m}/missing/a.qcow2", "/missing/a.qcow2: HTTP 404"),
        (
            "dockerCeRepoUrl",
            "dockerCeRepoUrl",
            "http://{m}/missing/rhel/9/$basearch/stable",
            "/missing/rhel/9/x86_64/stable/repodata/repomd.xml: HTTP 404",
        ),
        ("dockerCeGpgKey", "dockerCeGpgKey", "http://{m}/missing/gpg", "/missing/gpg: HTTP 404"),
        (
            "kubernetesRepoUrls[0]",
            "kubernetesRepoUrls",
            ["http://{m}/missing/core:/stable:/{{minor}}/rpm/"],
            "/missing/core:/stable:/{minor}/rpm/repodata/repomd.xml: HTTP 404",
        ),
        (
            "kubernetesRepoUrls[0] GPG key",
            "kubernetesRepoUrls",
            ["http://{m}/nokey/core:/stable:/{{minor}}/rpm/"],
            "/nokey/core:/stable:/{minor}/rpm/repodata/repomd.xml.key: HTTP 404",
        ),
        ("registryMirrors[0]", "registryMirrors", [f"http://{CLOSED_REGISTRY}"], "refused"),
        ("flannelImage", "flannelImage", f"{CLOSED_REGISTRY}/flannel:v1", "refused"),
        ("flannelCniPluginImage", "flannelCniPluginImage", f"{CLOSED_REGISTRY}/cni:v1", "refused"),
    ],
)
def test_a_failing_source_of_the_current_track_is_a_warning_naming_its_key(
    machine, mirror, name, setting, value, shown
):
    def filled(text: str) -> str:
        return text.format(m=mirror, minor=pinned_minor("current"))

    value = [filled(v) for v in value] if isinstance(value, list) else filled(value)
    checks = on_current(machine, mirror).diagnose("current", **{setting: value})
    check_ = checks[name]
    assert check_.status == doctor.WARN and filled(shown) in check_.detail, check_
    assert check_.fix == f"set {setting} to a source that answers"
    # The rest answer (a repository's key fails with it: it lives in the repository).
    others = {n: c for n, c in checks.items() if n in CURRENT_PROBES and not n.startswith(name)}
    assert {n: c.detail for n, c in others.items() if c.status != doctor.OK} == {}
    assert not any(c.status == doctor.FAIL for c in checks.values())


@pytest.mark.parametrize(
    ("stack", "key", "value", "belongs"),
    [
        ("current", "centosVaultBaseUrls", ["http://{m}/ok/other-track"], "tutorial"),
        ("current", "dockerVersion", "18.06.3.ce-3.el7", "tutorial"),
        ("test", "flannelCniPluginImage", "{m}/other-track/cni:v1", "current"),
    ],
)
def test_a_key_of_the_other_track_is_a_blocker_removed_and_not_probed(
    machine, recorder, stack, key, value, belongs
):
    base = address(recorder)
    if stack == "current":
        on_current(machine, base)
    else:
        machine.config = {f"{PROJECT}:{k}": v for k, v in sources_at(base).items()}
    value = [v.format(m=base) for v in value] if isinstance(value, list) else value.format(m=base)
    checks = machine.diagnose(stack, **{key: value})
    check_ = checks[f"config {key}"]
    assert check_.status == doctor.FAIL
    assert f"config {key}=" in check_.detail and f"belongs to the {belongs} track" in check_.detail
    assert (value[0] if isinstance(value, list) else value) in check_.detail
    assert check_.fix == f"pulumi config rm --stack {stack} {key}"
    assert not [n for n in checks if n.startswith(key)]
    assert not [p for p in recorder.requested if "other-track" in p]


def test_a_version_of_the_other_track_skips_the_repositories_built_from_it(machine, recorder):
    checks = on_current(machine, address(recorder)).diagnose("current", kubernetesVersion="v1.13.1")
    check_ = checks["config kubernetesVersion"]
    assert check_.status == doctor.FAIL and "config kubernetesVersion='v1.13.1'" in check_.detail
    for name in ("kubernetesRepoUrls[0]", "kubernetesRepoUrls[0] GPG key"):
        assert checks[name].status == doctor.SKIP and "kubernetesVersion" in checks[name].detail
    assert not [p for p in recorder.requested if "/k8s/" in p]
    assert checks["dockerCeRepoUrl"].status == doctor.OK
    assert checks["track"].status == doctor.OK and "v1.13.1" not in checks["track"].detail


@pytest.mark.parametrize("track", ["tutorial", "current"])
def test_the_report_names_the_track_and_its_kubernetes(machine, mirror, track):
    if track == "current":
        checks = on_current(machine, mirror).diagnose("current")
    else:
        checks = machine.diagnose()
    own = platform(track)
    text = doctor.report(list(checks.values()))
    version = own.defaults["kubernetesVersion"]
    assert f"  ok    track: {track} ({own.title}), kubernetesVersion {version}\n" in text


def test_a_track_that_is_not_one_skips_every_source(machine, recorder):
    machine.config = {f"{PROJECT}:{k}": v for k, v in sources_at(address(recorder)).items()}
    checks = machine.diagnose(track="modern")
    assert checks["config track"].status == doctor.FAIL
    assert "config track='modern'" in checks["config track"].detail
    assert checks["track"].status == doctor.SKIP
    assert checks["sources"].status == doctor.SKIP and "track" in checks["sources"].detail
    assert recorder.requested == []
    assert checks["libvirt"].status == doctor.OK  # what does not depend on the track still runs


def test_a_track_default_served_from_elsewhere_is_fine_and_named(machine, mirror, monkeypatch):
    """pkgs.k8s.io and registry.k8s.io, the current track's defaults, answer through their
    CDNs by design; a redirect from a URL the stack chose is still a warning."""
    other = serve("127.0.0.2")
    try:
        target = f"127.0.0.2:{other.server_port}"
        default = f"http://{mirror}/redirect/{target}/ok/k8s/core:/stable:/{{minor}}/rpm/"
        monkeypatch.setitem(platform("current").defaults, "kubernetesRepoUrls", (default,))
        on_current(machine, mirror).config.pop(f"{PROJECT}:kubernetesRepoUrls")
        checks = machine.diagnose("current")
        chosen = default.replace("/k8s/", "/k8s-chosen/")
        moved = machine.diagnose("current", kubernetesRepoUrls=[chosen])
    finally:
        other.shutdown()
        other.server_close()
    check_ = checks["kubernetesRepoUrls[0]"]
    assert check_.status == doctor.OK and "served from 127.0.0.2" in check_.detail
    assert moved["kubernetesRepoUrls[0]"].status == doctor.WARN
    assert "answers only through a redirect" in moved["kubernetesRepoUrls[0]"].detail


# --- nodes on several hypervisors ----------------------------------------------------------------

# One fake virsh for three hypervisors, answering per URI: the local one as HEALTHY_VIRSH does,
# hv2 and hv3 as remote hosts with KVM, memory, a bridge br0 and (on hv2) the pool already made.
MULTI_VIRSH = """#!/bin/sh
uri=$2; shift 3
pool='kubeadm-libvirt-test --bytes'
case "$uri $*" in
  *" version") echo "Compiled against library: libvirt 9.0.0" ;;
  "qemu:///system net-list --all --name") printf 'default\\n' ;;
  "qemu:///system net-dumpxml default")
    echo "<network><name>default</name><bridge name='virbr0'/>"
    echo "<ip address='192.168.122.1' netmask='255.255.255.0'/></network>" ;;
  *" net-list --all --name") ;;
  *" domcapabilities --virttype kvm") [ -z "$NO_KVM" ] && echo "<domainCapabilities/>" ;;
  *" nodememstats")
    printf 'total  :  16000000 KiB\\nfree   :  %s KiB\\n' "${FREE_KIB:-8000000}"
    printf 'buffers:  1024 KiB\\ncached :  1024 KiB\\n' ;;
  *hv2*" pool-info $pool")
    printf 'Name: kubeadm-libvirt-test\\nAvailable:      %s\\n' "${POOL_BYTES:-500000000000}" ;;
  *" pool-info "*) echo "error: failed to get pool" >&2; exit 1 ;;
  *" iface-list --all") echo "error: this function is not supported" >&2; exit 1 ;;
  *" nodedev-list --cap net")
    printf 'net_eth0_52_54_00_aa_bb_cc\\nnet_%s_52_54_00_aa_bb_cd\\n' "${BRIDGE:-br0}" ;;
  *) echo "virsh: unexpected $uri $*" >&2; exit 1 ;;
esac
"""
UNREACHABLE_HV3 = """uri=$2; shift 3
case "$uri" in *hv3*) echo "error: ssh: connect to host hv3 port 22: No route" >&2; exit 1 ;; esac
"""
HV2 = "qemu+ssh://root@hv2.lab.example/system"
HV3 = "qemu+ssh://root@hv3.lab.example/system"


def multihost(machine: Machine, virsh: str = MULTI_VIRSH, **environ) -> dict[str, doctor.Check]:
    document = yaml.safe_load((ROOT / "Pulumi.multihost.yaml").read_text())
    machine.config.update({k: v for k, v in document["config"].items() if k != f"{PROJECT}:track"})
    machine.fake("virsh", virsh)
    machine.environ.update(environ)
    return machine.diagnose()


def test_every_hypervisor_is_checked_and_named_in_its_lines(machine):
    checks = multihost(machine)
    for hypervisor in ("hv2", "hv3"):
        for name in ("libvirt", "KVM", "memory", "bridge", "node network"):
            assert checks[f"{name} on {hypervisor}"].status == doctor.OK, (name, hypervisor)
    assert HV2 in checks["libvirt on hv2"].detail and HV3 in checks["KVM on hv3"].detail
    assert checks["disk on hv2"].status == doctor.OK
    assert checks["disk on hv3"].status == doctor.SKIP  # its pool is made by the first run
    # libvirtUri's checks keep their names: the local files, and its bridge.
    assert {"libvirt", "/dev/kvm", "memory", "disk", "bridge"} <= set(checks)
    assert checks["bridge"].status == doctor.OK
    problems = {n: c.detail for n, c in checks.items() if c.status in (doctor.FAIL,)}
    assert problems == {}


def test_a_hypervisor_that_does_not_answer_is_a_blocker_named_with_it(machine):
    virsh = MULTI_VIRSH.replace("uri=$2; shift 3\n", UNREACHABLE_HV3)
    checks = multihost(machine, virsh)
    assert checks["libvirt on hv3"].status == doctor.FAIL
    assert (
        HV3 in checks["libvirt on hv3"].detail and "authorized_keys" in checks["libvirt on hv3"].fix
    )
    assert not any(name.endswith(" on hv3") and name != "libvirt on hv3" for name in checks)
    assert checks["libvirt on hv2"].status == doctor.OK


@pytest.mark.parametrize(
    ("environ", "failing"),
    [
        ({"NO_KVM": "1"}, "KVM"),
        ({"FREE_KIB": "1000"}, "memory"),
        ({"BRIDGE": "br9"}, "bridge"),
        ({"POOL_BYTES": "1000"}, "disk"),
    ],
)
def test_what_a_hypervisor_lacks_fails_on_that_hypervisor(machine, environ, failing):
    checks = multihost(machine, **environ)
    name = f"{failing} on hv2"
    assert checks[name].status == doctor.FAIL, checks[name]
    assert HV2 in checks[name].detail


def test_memory_is_counted_per_hypervisor_for_the_nodes_placed_there(machine):
    checks = multihost(machine)
    assert "k8s-node01" in checks["memory on hv2"].detail
    assert "k8s-node02" not in checks["memory on hv2"].detail
    assert "2048 MiB" in checks["memory on hv2"].detail


def test_a_state_with_vms_on_a_hypervisor_no_node_uses_any_more_is_named(machine):
    write_state(machine, "qemu+ssh://root@hv9.lab.example/system")
    check = multihost(machine)["hypervisor in the state"]
    assert check.status == doctor.WARN and "hv9.lab.example" in check.detail
