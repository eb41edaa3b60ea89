"""cloud-init NoCloud documents for a node VM, built from data and serialised as YAML."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from components.settings import NetworkSettings, NodeSpec


def _dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def meta_data(node: NodeSpec) -> str:
    # A stable instance-id: cloud-init's per-instance modules run once per VM, not per boot.
    return _dump({"instance-id": node.name, "local-hostname": node.name})


def user_data(
    node: NodeSpec,
    ssh_user: str,
    public_key: str,
    host_private_key: str,
    host_public_key: str,
    pin_host_key: Sequence[str],
) -> str:
    """The cloud-config: hostname, the SSH user with its key, and the one ED25519 host key
    (cloud-init 19.4 cc_ssh writes ssh_keys' ed25519_private/_public after deleting the image's
    keys, and generates none itself when ssh_keys is given, so no ssh_genkeytypes is needed;
    an empty one is refused by cloud-init's own schema: canonical/cloud-init@19.4:
    cloudinit/config/cc_ssh.py handle; the same at 24.4). pin_host_key is the track's bootcmd
    that keeps sshd to that key."""
    document = {
        "hostname": node.name,
        "preserve_hostname": False,
        # /etc/hosts is written by node preparation; cloud-init must not rewrite it on boot
        # (false is cloud-init's default too: cloudinit/config/cc_update_etc_hosts.py).
        "manage_etc_hosts": False,
        "ssh_deletekeys": True,
        "ssh_keys": {"ed25519_private": host_private_key, "ed25519_public": host_public_key},
        "bootcmd": list(pin_host_key),
        "users": [
            {
                "name": ssh_user,
                "groups": ["wheel"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": [public_key],
            }
        ],
        "ssh_pwauth": False,
        "disable_root": True,
        "growpart": {"mode": "auto", "devices": ["/"], "ignore_growroot_disabled": False},
        "resize_rootfs": True,
    }
    return "#cloud-config\n" + _dump(document)


def network_config(node: NodeSpec, network: NetworkSettings) -> str:
    """Static address on the first NIC (network-config v1): cloud-init renders it to ifcfg-eth0
    on CentOS 7 and to NetworkManager's cloud-init-eth0.nmconnection on EL9 (tests/
    test_cloud_init.py renders both)."""
    document = {
        "version": 1,
        "config": [
            {
                "type": "physical",
                "name": network.interface,
                "mac_address": node.mac,
                "subnets": [
                    {
                        "type": "static",
                        "address": f"{node.address}/{network.node_network.prefixlen}",
                        "gateway": str(network.gateway),
                        "dns_nameservers": [str(s) for s in network.nameservers],
                    }
                ],
            }
        ],
    }
    return _dump(document)
