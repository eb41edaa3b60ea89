"""The cloud-init seeds under the real cloud-init, one lane per track: every user-data passes
`cloud-init schema`, and every network-config renders, through `cloud-init devel
net-convert`, to the files the track's image reads.

- tutorial (CentOS 7, cloud-init 19.4): Debian 12's cloud-init 22.4, the system's (CI installs
  Debian's package), newer than the image's; a seed that passes both this schema and the 19.4
  behaviour tests (test_libvirt_hosts.py) is what the README promises. Rendered to the ifcfg
  CentOS 7 reads (sysconfig).
- current (AlmaLinux 9, cloud-init 24.4): Debian 13's cloud-init 25.1, unpacked beside the
  system's by .ci/install-cloud-init-current (Debian has no 24.4, PyPI no cloud-init). For the
  keys the seeds use its schema is 24.4's (canonical/cloud-init@24.4 and @25.1.4:
  cloudinit/config/schemas/schema-cloud-config-v1.json differ there only in description text),
  and its renderers write, for these seeds, byte for byte the files 24.4's write. 22.4 does not:
  its schema lets an unknown top-level key through, its keyfile lacks autoconnect-priority and
  its ifcfg says NM_CONTROLLED=no, which NetworkManager on EL9 would obey.
  Renderer: canonical/cloud-init@24.4:config/cloud.cfg.tmpl gives the RHEL family (almalinux
  among them) `renderers: ['eni', 'netplan', 'network-manager', 'sysconfig', 'networkd']`
  (commit 97537494d, "Use NetworkManager renderer by default in RHEL family", since 24.2); on
  the GenericCloud image eni and netplan are absent and network-manager is available (nmcli,
  NetworkManager.service enabled: cloudinit/net/network_manager.py available()), so the
  keyfile /etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection. sysconfig is
  available there too (NetworkManager's ifcfg-rh plugin: cloudinit/net/sysconfig.py
  available_nm_ifcfg_rh) and was RHEL 9's first choice up to 23.x (canonical/cloud-init#4165),
  so the seeds are rendered both ways, the keyfile first.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, require_tool, run_with_fake_home, stack_config, track_stack
from sandbox import EL9_CONNECTION

from components.platforms.el9 import PIN_HOST_KEY as EL9_PIN_HOST_KEY

SEED = "libvirt:index/cloudInitDisk:CloudInitDisk"
# Where .ci/install-cloud-init-current puts the current track's cloud-init (and its launcher).
CURRENT_HOME = Path(
    os.environ.get("KUBEADM_LIBVIRT_CLOUD_INIT_CURRENT", "/opt/kubeadm-libvirt/cloud-init-current")
)
CURRENT_CLOUD_INIT = CURRENT_HOME / "cloud-init"


@dataclass(frozen=True)
class Lane:
    track: str
    executable: str | None
    missing: str  # why its tests skip (fail in CI) when the executable is not there
    distro: str  # net-convert -D: the image's distribution
    gateway: str  # the stack's gateway, the nodes' only nameserver too


LANES = {
    "tutorial": Lane(
        track="tutorial",
        executable=shutil.which("cloud-init"),
        missing="cloud-init is not installed (Debian/Ubuntu: apt-get install cloud-init)",
        distro="centos",
        gateway="192.168.50.1",
    ),
    "current": Lane(
        track="current",
        executable=str(CURRENT_CLOUD_INIT) if os.access(CURRENT_CLOUD_INIT, os.X_OK) else None,
        missing=f"{CURRENT_CLOUD_INIT} is missing (bash .ci/install-cloud-init-current)",
        distro="almalinux",
        gateway="192.168.60.1",
    ),
}
# What each image's cloud-init writes for a network-config, the renderer it picks first.
RENDERS = [("tutorial", "sysconfig"), ("current", "network-manager"), ("current", "sysconfig")]


@pytest.fixture(scope="module", params=sorted(LANES))
def lane(request) -> Lane:
    lane = LANES[request.param]
    require_tool(lane.executable, lane.missing)
    return lane


@pytest.fixture(scope="module")
def seeds(lane) -> dict[str, dict]:
    """The track's seeds by node name (the meta-data's local-hostname)."""
    stack = track_stack(lane.track)
    run = run_with_fake_home(stack_config(stack), stack=stack)
    found = {}
    for seed in run.of_type(SEED):
        inputs = seed.plain_inputs
        found[yaml.safe_load(inputs["metaData"])["local-hostname"]] = inputs
    assert found, f"the {stack} stack makes no seed"
    return found


def stack_nodes(lane: Lane) -> dict[str, ipaddress.IPv4Interface]:
    """Each node's address with the node network's prefix, as the stack file gives them."""
    config = stack_config(track_stack(lane.track))
    prefix = ipaddress.ip_network(config[f"{PROJECT}:nodeNetwork"]).prefixlen
    return {
        node["name"]: ipaddress.IPv4Interface(f"{node['address']}/{prefix}")
        for node in json.loads(config[f"{PROJECT}:nodes"])
    }


def cloud_init(lane: Lane, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [lane.executable, *argv], capture_output=True, text=True, timeout=120, check=False
    )


def schema(lane: Lane, document: Path) -> subprocess.CompletedProcess:
    return cloud_init(lane, "schema", "--config-file", str(document))


def render(lane: Lane, renderer: str, network_config: str, tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    source = tmp / "network-config"
    source.write_text(network_config)
    out = tmp / renderer
    result = cloud_init(
        lane, "devel", "net-convert", "-p", str(source), "-k", "yaml",
        "-O", renderer, "-D", lane.distro, "-d", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def ifcfg_problems(lane: Lane, out: Path, address, mac: str) -> list[str]:
    """What is wrong with the ifcfg-eth0 (and /etc/sysconfig/network) sysconfig wrote."""
    path = out / "etc/sysconfig/network-scripts/ifcfg-eth0"
    if not path.exists():
        return [f"no {path.relative_to(out)}"]
    ifcfg = dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    expected = {
        "BOOTPROTO": "none",
        "ONBOOT": "yes",
        "IPADDR": str(address.ip),
        "NETMASK": str(address.netmask),
        "GATEWAY": lane.gateway,
        "DNS1": lane.gateway,
        "HWADDR": mac,
    }
    problems = [
        f"{key}={ifcfg.get(key)}, not {value}"
        for key, value in expected.items()
        if ifcfg.get(key) != value
    ]
    if not (out / "etc/sysconfig/network").exists():
        problems.append("no etc/sysconfig/network")
    # EL9 has no network service: NetworkManager's ifcfg-rh plugin reads the file and would
    # leave eth0 alone (22.4 writes NM_CONTROLLED=no; 24.4 no longer does).
    if lane.track == "current" and ifcfg.get("NM_CONTROLLED") == "no":
        problems.append("NM_CONTROLLED=no: NetworkManager would not manage eth0")
    return problems


def keyfile_problems(lane: Lane, out: Path, address, mac: str) -> list[str]:
    """What is wrong with the NetworkManager keyfiles the network-manager renderer wrote."""
    connections = sorted((out / "etc/NetworkManager/system-connections").glob("*"))
    names = [path.name for path in connections]
    if names != ["cloud-init-eth0.nmconnection"]:
        return [f"connections {names}, not [cloud-init-eth0.nmconnection]"]
    keyfile = configparser.ConfigParser(interpolation=None)
    keyfile.read_string(connections[0].read_text())
    get = keyfile.get
    expected = {
        # the name tests/sandbox.py gives it, which the EL9 host-script tests rely on
        ("connection", "id"): EL9_CONNECTION,
        ("connection", "type"): "ethernet",
        # 24.4's keyfile outranks the image's own profiles; 22.4's lacks it
        ("connection", "autoconnect-priority"): "120",
        ("ethernet", "mac-address"): mac.upper(),
        ("ipv4", "method"): "manual",
        ("ipv4", "address1"): str(address),
        ("ipv4", "gateway"): lane.gateway,
        ("ipv4", "dns"): f"{lane.gateway};",
    }
    problems = [
        f"{section}.{option}={get(section, option, fallback=None)}, not {value}"
        for (section, option), value in expected.items()
        if get(section, option, fallback=None) != value
    ]
    ipv4 = keyfile["ipv4"] if keyfile.has_section("ipv4") else {}
    problems += [
        f"ipv4.{option}: an address beside the node's"
        for option in ipv4
        if option.startswith("address") and option != "address1"
    ]
    problems += [
        f"{section}.method={get(section, 'method')}: DHCP"
        for section in keyfile.sections()
        if get(section, "method", fallback=None) in {"auto", "dhcp"}
    ]
    return problems


PROBLEMS = {"sysconfig": ifcfg_problems, "network-manager": keyfile_problems}


# --- the lanes ----------------------------------------------------------------------------------


def test_the_current_lane_runs_a_cloud_init_that_renders_as_24_4_does():
    """The lane's claims hold for the cloud-init they were checked with: another Debian 13
    update is welcome within 25.1, anything else must be compared with 24.4 again."""
    lane = LANES["current"]
    require_tool(lane.executable, lane.missing)
    result = cloud_init(lane, "--version")
    assert result.returncode == 0, result.stderr
    version = (result.stdout + result.stderr).split()[-1]
    assert version.startswith("25.1."), version


# --- user-data ----------------------------------------------------------------------------------


def test_every_user_data_passes_cloud_inits_own_schema(lane, seeds, tmp_path):
    for node, seed in seeds.items():
        document = tmp_path / f"{node}-user-data"
        document.write_text(seed["userData"])
        result = schema(lane, document)
        output = (result.stdout + result.stderr).lower()
        assert result.returncode == 0, f"{node}: {result.stdout}{result.stderr}"
        assert "errors" not in output, node
        assert "deprecat" not in output, f"{node}: {result.stdout}{result.stderr}"


def test_an_empty_ssh_genkeytypes_is_what_the_schema_refuses(lane, tmp_path):
    """The schema lane sees what it is for: the value the seeds used to carry."""
    document = tmp_path / "user-data"
    document.write_text("#cloud-config\nssh_genkeytypes: []\n")
    result = schema(lane, document)
    assert result.returncode != 0
    assert "ssh_genkeytypes: [] is too short" in result.stdout + result.stderr


# A seed broken as a change could break it, what the lane's schema says, the lanes that say it.
BREAKAGES = {
    "no-bootcmd": ({"bootcmd": []}, "bootcmd: [] is too short", ("tutorial", "current")),
    "unknown-host-key": (
        {"ssh_keys": {"ed25519_secret": "x"}},
        "'ed25519_secret' does not match any of the regexes",
        ("tutorial", "current"),
    ),
    # 22.4 lets this through; 24.4 refuses it.
    "misspelt-key": ({"hostnam": "x"}, "Additional properties are not allowed", ("current",)),
}


@pytest.mark.parametrize(
    "lane, breakage",
    [(track, name) for name, (*_, tracks) in BREAKAGES.items() for track in tracks],
    indirect=["lane"],
)
def test_a_broken_seed_is_what_the_schema_refuses(lane, breakage, seeds, tmp_path):
    change, message, _ = BREAKAGES[breakage]
    seed = seeds[sorted(seeds)[0]]
    document = yaml.safe_load(seed["userData"]) | change
    broken = tmp_path / "user-data"
    broken.write_text("#cloud-config\n" + yaml.safe_dump(document, sort_keys=False))
    result = schema(lane, broken)
    assert result.returncode != 0, result.stdout
    assert message in result.stdout + result.stderr


def test_a_deprecated_key_is_what_the_lane_reports(lane, tmp_path):
    """The schema check reads the deprecations too: cloud-init exits 0 on them."""
    document = tmp_path / "user-data"
    document.write_text("#cloud-config\nusers: [{name: a, lock-passwd: true}]\n")
    result = schema(lane, document)
    assert "deprecat" in (result.stdout + result.stderr).lower()


def test_the_el9_host_key_bootcmd_fits_cloud_init_24_4(tmp_path):
    """cc_ssh (once per instance) deletes the image's host keys and writes only ssh_keys'
    ED25519 pair, generating none; bootcmd runs on every boot, ahead of cc_ssh in the same
    stage (canonical/cloud-init@24.4:config/cloud.cfg.tmpl cloud_init_modules), and before sshd
    (systemd/cloud-init-network.service.tmpl; cloud-init.service where the single-process
    change is reverted, as RHEL 9's 24.4 does: the same Before=sshd.service). So sshd loads the
    one key the drop-in names, and the sshd-keygen@ units of every other type cloud-init knows
    stay masked."""
    lane = LANES["current"]
    require_tool(lane.executable, lane.missing)
    # The modules' own facts, from the lane's cloud-init (25.1, as 24.4: cc_ssh.py, cc_bootcmd.py).
    probe = subprocess.run(
        [
            "/usr/bin/python3", "-c",
            "import json\nfrom cloudinit.config import cc_bootcmd, cc_ssh\n"
            "print(json.dumps({'bootcmd': cc_bootcmd.meta['frequency'],"
            " 'ssh': cc_ssh.meta['frequency'], 'types': cc_ssh.GENERATE_KEY_NAMES,"
            " 'key_file': cc_ssh.KEY_FILE_TPL}))",
        ],
        env={**os.environ, "PYTHONPATH": str(CURRENT_HOME / "usr/lib/python3/dist-packages")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    facts = json.loads(probe.stdout)
    assert (facts["bootcmd"], facts["ssh"]) == ("always", "once-per-instance")

    stack = track_stack("current")
    run = run_with_fake_home(stack_config(stack), stack=stack)
    for seed in run.of_type(SEED):
        document = yaml.safe_load(seed.plain_inputs["userData"])
        node = seed.plain_inputs["name"]
        assert document["ssh_deletekeys"] is True, node
        assert set(document["ssh_keys"]) == {"ed25519_private", "ed25519_public"}, node
        assert "ssh_genkeytypes" not in document and "runcmd" not in document, node
        assert document["bootcmd"] == list(EL9_PIN_HOST_KEY), node

        write, mask = (shlex.split(command) for command in document["bootcmd"])
        assert write[0] == "printf" and write[2] == ">", write
        # EL9's sshd_config: Include /etc/ssh/sshd_config.d/*.conf; HostKey lines add up.
        assert write[3].startswith("/etc/ssh/sshd_config.d/") and write[3].endswith(".conf")
        host_key = facts["key_file"] % "ed25519"
        assert write[1].replace("\\n", "\n") == f"HostKey {host_key}\n", write
        assert mask[:2] == ["systemctl", "mask"], mask
        others = set(facts["types"]) - {"ed25519"}
        assert set(mask[2:]) == {f"sshd-keygen@{kind}.service" for kind in others}, mask


# --- network-config -----------------------------------------------------------------------------


@pytest.mark.parametrize("lane, renderer", RENDERS, indirect=["lane"])
def test_every_network_config_renders_the_static_files_the_image_reads(
    lane, renderer, seeds, tmp_path
):
    nodes = stack_nodes(lane)
    assert set(seeds) == set(nodes)
    for node, seed in seeds.items():
        out = render(lane, renderer, seed["networkConfig"], tmp_path / node)
        mac = yaml.safe_load(seed["networkConfig"])["config"][0]["mac_address"]
        assert PROBLEMS[renderer](lane, out, nodes[node], mac) == [], node


@pytest.mark.parametrize("lane, renderer", RENDERS, indirect=["lane"])
def test_a_dhcp_network_config_is_what_the_render_checks_refuse(lane, renderer, seeds, tmp_path):
    """The render checks see what they are for: the image's DHCP default."""
    node, seed = sorted(seeds.items())[0]
    document = yaml.safe_load(seed["networkConfig"])
    document["config"][0]["subnets"] = [{"type": "dhcp"}]
    out = render(lane, renderer, yaml.safe_dump(document), tmp_path)
    mac = document["config"][0]["mac_address"]
    problems = PROBLEMS[renderer](lane, out, stack_nodes(lane)[node], mac)
    assert problems
    assert any("DHCP" in problem or "BOOTPROTO" in problem for problem in problems), problems
