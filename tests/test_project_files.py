"""Pulumi.yaml and Pulumi.dev.yaml are what the CLI accepts and what the README promises."""

from __future__ import annotations

import yaml
from conftest import PROJECT, PROJECT_FILE, ROOT, stack_config

SIMPLE_TYPES = {"string", "integer", "boolean", "array"}


def test_project_is_python_with_a_virtualenv():
    assert PROJECT == "kubeadm-libvirt"
    runtime = PROJECT_FILE["runtime"]
    assert runtime["name"] == "python"
    assert runtime["options"]["virtualenv"] == ".venv"


def test_every_config_key_has_a_description_a_default_and_a_type_the_cli_knows():
    for key, decl in PROJECT_FILE["config"].items():
        assert decl.get("description"), key
        assert "default" in decl, f"{key}: without a default the CLI demands a value"
        if key == "nodes":
            # a list of objects: the project-file schema has no object type
            assert "type" not in decl
            continue
        assert decl.get("type") in SIMPLE_TYPES, key
        if decl["type"] == "array":
            assert decl["items"]["type"] in SIMPLE_TYPES - {"array"}, key
        elif decl["type"] == "integer":
            assert isinstance(decl["default"], int), key
        elif decl["type"] == "boolean":
            assert isinstance(decl["default"], bool), key
        else:
            assert isinstance(decl["default"], str), key


def test_stack_file_sets_only_declared_keys_of_the_declared_type():
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    declared = PROJECT_FILE["config"]
    python_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    for full_key, value in stack.items():
        namespace, _, key = full_key.partition(":")
        assert namespace == PROJECT, full_key
        assert key in declared, f"{full_key} is not declared in Pulumi.yaml"
        if "type" in declared[key]:
            assert isinstance(value, python_types[declared[key]["type"]]), full_key


def test_dev_stack_carries_the_tutorials_values():
    config = stack_config("dev")
    assert config[f"{PROJECT}:kubernetesVersion"] == "v1.13.1"
    assert config[f"{PROJECT}:imageRepository"] == "registry.aliyuncs.com/google_containers"
    assert config[f"{PROJECT}:podNetworkCidr"] == "10.244.0.0/16"
    assert config[f"{PROJECT}:registryAddress"] == "192.168.50.24"
    assert "mirrors.aliyun.com/centos-vault" in config[f"{PROJECT}:centosVaultBaseUrls"]
    assert "mirrors.aliyun.com/docker-ce" in config[f"{PROJECT}:dockerCeRepoUrl"]
    assert "kubernetes-el7-x86_64" in config[f"{PROJECT}:kubernetesRepoUrl"]
