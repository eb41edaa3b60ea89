"""Contracts with the outside systems, encoded as those systems implement them upstream (each
rule cites the file it was read in). These are the rules the mocks cannot show: a `pulumi up`
that the CLI refuses, a provider that hangs on a 1.13 API server, a domain QEMU refuses, a
Python the code cannot run on.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi_kubernetes
import pytest
import yaml
from conftest import PROJECT, PROJECT_FILE, ROOT, stack_config

# --- Pulumi CLI: project and stack config validation ------------------------------------------
# A model of pulumi/pulumi@v3.259.0, the same at master 1b5949891b (2026-08-21, the newest source
# read; the behaviour came with v3.202.0, #20674):
#   sdk/go/common/workspace/project.go  Project.Validate, ValidateConfigValue
#   pkg/workspace/config.go              mergeConfig, validateStackConfigValues,
#                                        validateStackConfigValue
CLI_TYPES = {"string", "integer", "boolean", "array", "object"}  # project.json (object: 3.187+)


class Secure(str):
    """A `secure:` stack value: encrypted in the file; its decrypted text is a string."""


def cli_value_matches(type_: str, items: dict | None, value: Any) -> bool:
    """ValidateConfigValue (project.go L771-L831)."""
    if type_ == "string":
        return not isinstance(value, (list, dict))
    if type_ == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) is not None
    if type_ == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_ == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(cli_value_matches(items["type"], items.get("items"), item) for item in value)


def cli_project_errors(project: dict) -> list[str]:
    """Project.Validate (project.go L837-L889) for keys of the project's own namespace."""
    errors = []
    for key, declaration in project.get("config", {}).items():
        type_ = declaration.get("type")
        if type_ is None:
            continue
        if type_ not in CLI_TYPES:
            errors.append(f"{key}: unknown type {type_!r}")
        elif type_ == "array" and "items" not in declaration:
            errors.append(f"{key}: declares an array but does not specify the underlying type")
        elif "default" in declaration and not cli_value_matches(
            type_, declaration.get("items"), declaration["default"]
        ):
            errors.append(
                f"The default value specified for configuration key '{key}' is not of the "
                f"expected type '{type_}'"
            )
    return errors


def cli_stack_scalar(value: Any) -> Any:
    """How a stack file value reaches validation: YAML scalars become Go strings (fmt %v),
    lists and maps are object values, JSON-decoded (config.go L137-L143, L179-L193)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def cli_stack_errors(project: dict, stack: dict, stack_name: str = "dev") -> list[str]:
    """mergeConfig then validateStackConfigValues, as `pulumi up` runs them."""
    name = project["name"]
    values = {}
    for full_key, value in (stack.get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = Secure(value["secure"])
        values[(namespace, key)] = value
    errors = []
    for key, declaration in project.get("config", {}).items():
        if (name, key) not in values:
            if "default" not in declaration and "value" not in declaration:
                errors.append(f"Stack '{stack_name}' is missing configuration value '{key}'")
                continue
            # L327-L347: the default is merged as a plaintext value (config.NewValue).
            values[(name, key)] = declaration.get("default", declaration.get("value"))
        if declaration.get("type") is None:
            continue  # only explicitly typed keys are validated (L101)
        value = values[(name, key)]
        if declaration.get("secret") and not isinstance(value, Secure):
            errors.append(
                f"Stack '{stack_name}' with configuration key '{key}' must be encrypted as "
                "it's secret"
            )
        elif not cli_value_matches(
            declaration["type"], declaration.get("items"), cli_stack_scalar(value)
        ):
            errors.append(
                f"Stack '{stack_name}' with configuration key '{key}' must be of type "
                f"'{declaration['type']}'"
            )
    return errors


def stack_files() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(ROOT.glob("Pulumi.*.yaml"))}


def test_the_cli_model_refuses_a_secret_key_with_a_default():
    """Breaker #1: CLI 3.202+ merges the default as plaintext, then refuses it."""
    project = {
        "name": "p",
        "config": {"key": {"type": "string", "secret": True, "default": ""}},
    }
    assert cli_stack_errors(project, {"config": {}}) == [
        "Stack 'dev' with configuration key 'key' must be encrypted as it's secret"
    ]
    assert cli_stack_errors(project, {"config": {"p:key": {"secure": "v1:abc"}}}) == []


def test_the_cli_model_types_scalars_as_the_cli_does():
    project = {
        "name": "p",
        "config": {
            "n": {"type": "integer", "default": 1},
            "b": {"type": "boolean", "default": False},
            "a": {"type": "array", "items": {"type": "object"}, "default": []},
        },
    }
    assert cli_stack_errors(project, {"config": {"p:n": 2, "p:b": True, "p:a": [{"x": 1}]}}) == []
    assert cli_stack_errors(project, {"config": {"p:n": "2"}}) == []
    assert len(cli_stack_errors(project, {"config": {"p:n": 2.5, "p:b": "yes", "p:a": ["s"]}})) == 3
    assert cli_project_errors({"name": "p", "config": {"a": {"type": "array", "default": []}}})


def test_project_file_passes_the_cli_project_validation():
    assert cli_project_errors(PROJECT_FILE) == []
    assert {d.get("type") for d in PROJECT_FILE["config"].values()} <= CLI_TYPES


def test_every_key_is_typed_and_no_key_is_a_secret_with_a_default():
    for key, declaration in PROJECT_FILE["config"].items():
        assert declaration.get("type") in CLI_TYPES, f"{key}: untyped keys are not validated"
        assert "default" in declaration, f"{key}: without a default the CLI demands a value"
        assert not declaration.get("secret"), (
            f"{key}: a secret key with a default is refused by CLI 3.202+, one without a "
            "default is required; keep it a plain key that the program treats as secret"
        )


@pytest.mark.parametrize("name", sorted(stack_files()))
def test_every_stack_file_passes_the_cli_stack_validation(name):
    assert cli_stack_errors(PROJECT_FILE, stack_files()[name]) == []


def test_a_stack_that_sets_the_ssh_key_with_secret_passes_too():
    """`pulumi config set --secret sshPrivateKey < key` writes a secure value."""
    stack = {"config": {f"{PROJECT}:sshPrivateKey": {"secure": "v1:ciphertext"}}}
    assert cli_stack_errors(PROJECT_FILE, stack) == []


@pytest.mark.parametrize("name", sorted(stack_files()))
def test_stack_files_set_only_declared_keys_of_this_project(name):
    """The CLI lets an undeclared key through (validation loops over declared keys only);
    the program would refuse it, so the stack files must not have one."""
    for full_key in stack_files()[name].get("config") or {}:
        namespace, _, key = full_key.partition(":")
        assert namespace == PROJECT and key in PROJECT_FILE["config"], f"{name}: {full_key}"


def test_tests_pass_config_as_the_cli_does():
    """conftest.stack_config must hand the program what mergeConfig builds: scalars as text,
    lists and objects as JSON."""
    config = stack_config("dev")
    assert config[f"{PROJECT}:nodeVcpus"] == "2"
    assert config[f"{PROJECT}:keepSwap"] == "false"
    assert json.loads(config[f"{PROJECT}:nodes"])[0]["name"] == "k8s-master"


# --- pulumi-kubernetes and client-go's WatchListClient -------------------------------------------
# pulumi/pulumi-kubernetes provider/go.mod, k8s.io/client-go per release tag (read at each tag).
CLIENT_GO_OF_PULUMI_KUBERNETES = {
    "4.22.2": "0.32.0",
    "4.23.0": "0.33.0",
    "4.24.0": "0.33.3",
    "4.25.0": "0.33.3",
    "4.26.0": "0.35.1",
    "4.27.0": "0.35.1",
    "4.28.0": "0.35.2",
    "4.29.0": "0.35.2",
    "4.30.0": "0.36.0",
    "4.31.0": "0.36.1",
    "4.32.0": "0.36.1",
}
# kubernetes/client-go@v0.35.1:features/known_features.go: WatchListClient {Version: "1.35",
# Default: true}. tools/cache/reflector.go then waits for the k8s.io/initial-events-end bookmark,
# which a pre-1.27 API server never sends; features/envvar.go reads KUBE_FEATURE_<gate>.
FIRST_WATCHLIST_CLIENT_GO = (0, 35)


def pinned(package: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and name.strip().lower() == package:
            return version.strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_pulumi_kubernetes_pin_builds_with_a_client_go_that_lists_on_a_1_13_api_server():
    version = pinned("pulumi-kubernetes")
    newest_known = max(CLIENT_GO_OF_PULUMI_KUBERNETES, key=as_tuple)
    assert as_tuple(version) <= as_tuple(newest_known), (
        f"pulumi-kubernetes {version} is newer than every release whose go.mod was read; read "
        "its provider/go.mod: from client-go v0.35 the provider hangs on a 1.13 API server"
    )
    client_go = CLIENT_GO_OF_PULUMI_KUBERNETES.get(version)
    assert client_go, f"pulumi-kubernetes {version}: its client-go version was not read"
    assert as_tuple(client_go)[:2] < FIRST_WATCHLIST_CLIENT_GO, (
        f"pulumi-kubernetes {version} builds with client-go v{client_go}: WatchListClient is on "
        "and every await waits forever for a bookmark Kubernetes 1.13 never sends"
    )


def test_the_installed_sdks_are_the_pinned_ones():
    """The mocks run the installed SDK: every argument the program passes exists in it."""
    for package in (
        "pulumi",
        "pulumi-kubernetes",
        "pulumi-libvirt",
        "pulumi-command",
        "pulumi-tls",
    ):
        assert importlib.metadata.version(package) == pinned(package), package


def test_the_kubernetes_provider_arguments_exist_in_the_pinned_sdk():
    parameters = inspect.signature(pulumi_kubernetes.Provider._internal_init).parameters
    for argument in (
        "kubeconfig",
        "enable_server_side_apply",
        "delete_unreachable",
        "cluster_identifier",
    ):
        assert argument in parameters, argument


def test_make_turns_the_watch_list_client_off_for_every_pulumi_command():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^export KUBE_FEATURE_WatchListClient := false$", makefile, re.M)


# --- terraform-provider-libvirt v0.8.1 (pulumi-libvirt 0.5.4) -------------------------------------

DOMAIN = "libvirt:index/domain:Domain"


def test_every_domain_has_vnc_on_the_hypervisors_loopback_and_no_spice(dev_run):
    """libvirt/domain_def.go newDomainDef adds SPICE unless a graphics block is given; inside the
    block type defaults to spice and listen_type to none (libvirt/resource_libvirt_domain.go).
    QEMU on RHEL 9 and its rebuilds has no SPICE and no QXL."""
    for domain in dev_run.of_type(DOMAIN):
        inputs = domain.plain_inputs
        assert inputs["graphics"] == {
            "type": "vnc",
            "listenType": "address",
            "listenAddress": "127.0.0.1",
            "autoport": True,
        }, domain.name
        # A video block's type defaults to cirrus (gone from RHEL 9, like qxl).
        assert inputs["video"]["type"] not in ("cirrus", "qxl"), domain.name
        assert {"type": "pty", "targetPort": "0", "targetType": "serial"} in inputs["consoles"]


def test_no_domain_waits_for_a_dhcp_lease(dev_run):
    """wait_for_lease waits for a lease a DHCP-less network never hands out (libvirt/domain.go)."""
    for domain in dev_run.of_type(DOMAIN):
        for nic in domain.plain_inputs["networkInterfaces"]:
            assert not nic.get("waitForLease"), domain.name


def test_seed_documents_are_the_three_files_the_provider_writes(dev_run):
    """libvirt/cloudinit_def.go: mkisofs -volid cidata -joliet -rock user-data meta-data
    network-config, from user_data, meta_data and network_config; NoCloud reads those names."""
    for seed in dev_run.of_type("libvirt:index/cloudInitDisk:CloudInitDisk"):
        inputs = seed.plain_inputs
        assert set(inputs) >= {"userData", "metaData", "networkConfig"}, seed.name
        assert inputs["userData"].startswith("#cloud-config\n"), seed.name
        assert yaml.safe_load(inputs["networkConfig"])["version"] == 1, seed.name


# --- Python ---------------------------------------------------------------------------------------


def readme_python_floor() -> tuple[int, int]:
    found = re.search(r"Python (\d+)\.(\d+)\+", (ROOT / "README.md").read_text())
    assert found, "the README states no Python version"
    return int(found[1]), int(found[2])


def test_the_code_needs_exactly_the_python_the_readme_states():
    """vermin measures the oldest Python the code runs on (annotations evaluated: pydantic does)."""
    sources = [str(ROOT / "__main__.py"), str(ROOT / "components"), str(ROOT / "tools")]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "vermin"),
            "--no-tips",
            "--eval-annotations",
            "--feature",
            "union-types",
            *[s for s in sources if Path(s).exists()],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Minimum required versions: (\d+)\.(\d+)", result.stdout)
    assert found, result.stdout
    assert (int(found[1]), int(found[2])) == readme_python_floor(), result.stdout


def test_make_stops_on_a_python_older_than_the_readme_states(tmp_path):
    old = tmp_path / "python-too-old"
    old.write_text("#!/bin/sh\necho 'Python 3.9.18'; exit 1\n")
    old.chmod(0o755)
    fake_venv = tmp_path / "venv"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "python-check",
            f"PYTHON={old}",
            f"VENV={fake_venv}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    major, minor = readme_python_floor()
    assert f"Python {major}.{minor} or newer" in result.stdout + result.stderr
