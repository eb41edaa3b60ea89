"""The whole program, evaluated with runpy as `pulumi up` would run it."""

from __future__ import annotations

from conftest import run_program, stack_config


def test_dev_stack_exports_the_three_node_addresses(dev_run):
    assert dev_run.outputs["nodes"] == {
        "k8s-master": "192.168.50.21",
        "k8s-node01": "192.168.50.22",
        "k8s-node02": "192.168.50.23",
    }


def test_existing_machines_create_no_libvirt_resource():
    run = run_program(stack_config("dev", hostSource="existing"))
    libvirt = [
        r.name
        for r in run.resources
        if r.type.startswith(("libvirt:", "pulumi:providers:libvirt", "kubeadm-libvirt:vm:"))
    ]
    assert libvirt == []
    assert run.outputs["nodes"]["k8s-master"] == "192.168.50.21"
