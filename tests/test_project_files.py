"""Pulumi.yaml and Pulumi.dev.yaml say what the README promises (the CLI's own rules for them
are in test_boundaries.py)."""

from __future__ import annotations

import json

from conftest import PROJECT, PROJECT_FILE, stack_config

from components.platforms import tracks


def test_project_is_python_with_a_virtualenv():
    assert PROJECT == "kubeadm-libvirt"
    runtime = PROJECT_FILE["runtime"]
    assert runtime["name"] == "python"
    assert runtime["options"]["virtualenv"] == ".venv"


def test_every_config_key_has_a_description():
    for key, declaration in PROJECT_FILE["config"].items():
        assert len(declaration.get("description", "")) > 20, key


def test_dev_stack_carries_the_tutorials_values():
    config = stack_config("dev")
    assert config[f"{PROJECT}:kubernetesVersion"] == "v1.13.1"
    assert config[f"{PROJECT}:imageRepository"] == "registry.aliyuncs.com/google_containers"
    assert config[f"{PROJECT}:podNetworkCidr"] == "10.244.0.0/16"
    assert config[f"{PROJECT}:registryAddress"] == "192.168.50.24"
    assert config[f"{PROJECT}:registryPort"] == "5000"
    assert "mirrors.aliyun.com/centos-vault" in config[f"{PROJECT}:centosVaultBaseUrls"]
    assert "mirrors.aliyun.com/docker-ce" in config[f"{PROJECT}:dockerCeRepoUrl"]
    assert json.loads(config[f"{PROJECT}:kubernetesRepoUrls"]) == [
        "https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-x86_64/"
    ]


def test_no_stack_or_default_uses_a_closed_docker_hub_mirror():
    """hub-mirror.c.163.com and most Chinese Docker Hub mirrors closed in 2024."""
    config = stack_config("dev")
    assert json.loads(config[f"{PROJECT}:registryMirrors"]) == []


def test_images_are_pinned_to_exact_versions():
    """registry:2 is a frozen floating tag since registry 3.0; every default image names a
    version (the seed image is the app's own published tag, chosen by the user)."""
    config = stack_config("dev")
    images = [config[f"{PROJECT}:{key}"] for key in ("registryImage", "appSeedToolImage")]
    for track in tracks():
        images += [v for k, v in track.defaults.items() if k.endswith("Image") and k != "baseImage"]
    for image in images:
        tag = image.rsplit(":", 1)[1]
        assert tag.count(".") >= 2, f"{image} is not an exact version"
