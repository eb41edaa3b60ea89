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
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, ROOT

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
    """/ok/... answers 200, /v2/ 401 as a registry does, /missing/... 404, /hang/... never."""

    def do_GET(self):  # noqa: N802 - the handler API
        if self.path.startswith("/hang/"):
            time.sleep(30)
        status = 404 if self.path.startswith("/missing/") else 200
        if self.path.endswith("/v2/"):
            status = 401
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def sources_at(base: str) -> dict:
    """Every external source of the stack on the loopback server."""
    return {
        "baseImage": f"http://{base}/ok/centos7.qcow2",
        "centosVaultBaseUrls": [f"http://{base}/ok/vault"],
        "dockerCeRepoUrl": f"http://{base}/ok/docker/$basearch/stable",
        "dockerCeGpgKey": f"http://{base}/ok/docker/gpg",
        "kubernetesRepoUrls": [f"http://{base}/ok/kubernetes/"],
        "registryMirrors": [f"http://{base}/ok/hub"],
        "imageRepository": f"{base}/google_containers",
        "flannelImage": f"{base}/flannel:v0.11.0",
        "registryImage": f"{base}/registry:2.8.3",
        "appSeedImage": f"{base}/app:1.0",
        "appSeedToolImage": f"{base}/skopeo:v1.15.0",
    }


class Machine:
    """A project copy, fake executables and the machine files the doctor reads."""

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
        return doctor.System(
            environ=dict(self.environ),
            kvm=self.files / "kvm",
            meminfo=self.files / "meminfo",
            apparmor=self.files / "apparmor",
            qemu_conf=self.files / "qemu.conf",
            os_release=self.files / "os-release",
        )

    def diagnose(self, **config) -> dict[str, doctor.Check]:
        values = dict(self.config)
        values.update({f"{PROJECT}:{k}": v for k, v in config.items()})
        (self.root / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": values}))
        checks = doctor.diagnose(self.root, "test", self.system())
        return {c.name: c for c in checks}


@pytest.fixture
def machine(tmp_path, mirror, ssh_home, monkeypatch):
    # Shorter waits than a real run's, the same behaviour: a source that does not answer in
    # time is a warning, and the doctor never waits longer than its deadline.
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(doctor, "PROBE_DEADLINE_SECONDS", 1.5)
    return Machine(tmp_path, mirror, ssh_home)


def test_a_ready_machine_passes_every_check(machine):
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


def test_no_passphrase_is_a_blocker(machine):
    del machine.environ["PULUMI_CONFIG_PASSPHRASE"]
    assert machine.diagnose()["state passphrase"].status == doctor.FAIL


def test_a_bad_setting_is_a_blocker_naming_key_and_value(machine):
    check = machine.diagnose(podNetworkCidr="10.244.0.0/33")["configuration"]
    assert check.status == doctor.FAIL
    assert "config podNetworkCidr='10.244.0.0/33'" in check.detail


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


def test_the_stacks_own_network_after_a_first_up_is_fine(machine):
    virsh = HEALTHY_VIRSH.replace("printf 'default\\n'", "printf 'default\\nk8s-net\\n'").replace(
        '  *) echo "virsh',
        '  *"net-dumpxml k8s-net") echo "<network><name>k8s-net</name><bridge name=\'virbr1\'/>'
        "<ip address='192.168.50.1' prefix='24'/></network>\" ;;\n  *) echo \"virsh",
    )
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


def test_a_hanging_mirror_is_a_warning_within_seconds(machine, mirror):
    started = time.monotonic()
    checks = machine.diagnose(centosVaultBaseUrls=[f"http://{mirror}/hang/vault"])
    assert time.monotonic() - started < doctor.PROBE_DEADLINE_SECONDS + 2
    assert checks["centosVaultBaseUrls[0]"].status == doctor.WARN


def test_no_network_at_all_gives_warnings_in_seconds(machine):
    closed = "127.0.0.1:9"  # discard: nothing listens there
    started = time.monotonic()
    checks = machine.diagnose(**sources_at(closed))
    assert time.monotonic() - started < doctor.PROBE_DEADLINE_SECONDS + 2
    warned = {n for n, c in checks.items() if c.status == doctor.WARN}
    assert {"baseImage", "centosVaultBaseUrls[0]", "flannelImage"} <= warned


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
