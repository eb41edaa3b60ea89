"""The cloud-init seeds under the real cloud-init, where it is installed (CI installs Debian's
package): every user-data passes `cloud-init schema`, and every network-config renders to the
ifcfg file CentOS 7 reads. Debian 12's cloud-init is 22.4, newer than the image's 19.4: a seed
that passes both this schema and the 19.4 behaviour tests (test_libvirt_hosts.py) is what the
README promises."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import require_tool, run_with_fake_home, stack_config

SEED = "libvirt:index/cloudInitDisk:CloudInitDisk"
CLOUD_INIT = shutil.which("cloud-init")


@pytest.fixture(scope="module")
def seeds():
    require_tool(
        CLOUD_INIT, "cloud-init is not installed (Debian/Ubuntu: apt-get install cloud-init)"
    )
    run = run_with_fake_home(stack_config("dev"))
    return {
        seed.plain_inputs["name"].removesuffix("-seed.iso"): seed.plain_inputs
        for seed in run.of_type(SEED)
    }


def cloud_init(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLOUD_INIT, *argv], capture_output=True, text=True, timeout=120, check=False
    )


def test_every_user_data_passes_cloud_inits_own_schema(seeds, tmp_path):
    for node, seed in seeds.items():
        document = tmp_path / f"{node}-user-data"
        document.write_text(seed["userData"])
        result = cloud_init("schema", "--config-file", str(document))
        assert result.returncode == 0, f"{node}: {result.stdout}{result.stderr}"
        assert "errors" not in (result.stdout + result.stderr).lower(), node


def test_an_empty_ssh_genkeytypes_is_what_the_schema_refuses(tmp_path):
    """The schema lane sees what it is for: the value the seeds used to carry."""
    require_tool(CLOUD_INIT, "cloud-init is not installed")
    document = tmp_path / "user-data"
    document.write_text("#cloud-config\nssh_genkeytypes: []\n")
    result = cloud_init("schema", "--config-file", str(document))
    assert result.returncode != 0
    assert "ssh_genkeytypes: [] is too short" in result.stdout + result.stderr


def test_every_network_config_renders_the_static_ifcfg_centos_reads(seeds, tmp_path):
    for node, seed in seeds.items():
        source = tmp_path / f"{node}-network-config"
        source.write_text(seed["networkConfig"])
        out = tmp_path / node
        result = cloud_init(
            "devel", "net-convert", "-p", str(source), "-k", "yaml",
            "-O", "sysconfig", "-D", "centos", "-d", str(out),
        )  # fmt: skip
        assert result.returncode == 0, f"{node}: {result.stderr}"
        ifcfg = dict(
            line.split("=", 1)
            for line in (out / "etc/sysconfig/network-scripts/ifcfg-eth0").read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        nic = yaml.safe_load(seed["networkConfig"])["config"][0]
        address = ipaddress.IPv4Interface(nic["subnets"][0]["address"])
        assert ifcfg["BOOTPROTO"] == "none" and ifcfg["ONBOOT"] == "yes", node
        assert ifcfg["IPADDR"] == str(address.ip), node
        assert ifcfg["NETMASK"] == str(address.netmask), node
        assert ifcfg["GATEWAY"] == "192.168.50.1" and ifcfg["DNS1"] == "192.168.50.1", node
        assert ifcfg["HWADDR"] == nic["mac_address"], node
        assert Path(out / "etc/sysconfig/network").exists(), node
