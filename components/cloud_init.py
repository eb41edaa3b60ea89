"""cloud-init NoCloud documents for a node VM, built from data and serialised as YAML."""

from __future__ import annotations

import yaml

from components.settings import NetworkSettings, NodeSpec


def _dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def meta_data(node: NodeSpec) -> str:
    # A stable instance-id: cloud-init's per-instance modules run once per VM, not per boot.
    return _dump({"instance-id": node.name, "local-hostname": node.name})


def user_data(node: NodeSpec, ssh_user: str, public_key: str) -> str:
    document = {
        "hostname": node.name,
        "preserve_hostname": False,
        # /etc/hosts is written by node preparation; cloud-init must not rewrite it on boot.
        "manage_etc_hosts": False,
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
    """Static address on the first NIC (network-config v1, rendered to ifcfg-eth0 on CentOS 7)."""
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
