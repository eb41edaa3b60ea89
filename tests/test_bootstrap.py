"""The Kubernetes bootstrap over SSH, read from the resource graph under mocks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from conftest import (
    FAKE_PRIVATE_KEY,
    MOCK_JOIN_COMMAND,
    ROOT,
    encoded_files,
    init_flags,
    is_secret_input,
    key_pair,
    run_program,
    script_of,
    script_values,
    stack_config,
    track_stack,
)

from components import hosts

COMMAND = "command:remote:Command"
WORKERS = ("k8s-node01", "k8s-node02")
SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def commands(run):
    return {c.name: c for c in run.of_type(COMMAND)}


def host_of(command) -> str:
    return command.plain_inputs["connection"]["host"]


# --- preparation ----------------------------------------------------------------------------


def test_every_host_is_prepared(dev_run):
    prepared = {host_of(c) for name, c in commands(dev_run).items() if name.endswith("-prepare")}
    assert prepared == {"192.168.50.21", "192.168.50.22", "192.168.50.23"}


def test_no_preparation_waits_for_the_master_or_another_host(dev_run):
    cmds = commands(dev_run)
    init = cmds["control-plane-init"]
    for name in ("node-k8s-master-prepare", "node-k8s-node01-prepare", "node-k8s-node02-prepare"):
        prep = cmds[name]
        assert not dev_run.depends_on(prep, init), name
        for other in cmds.values():
            if other.name.endswith("-prepare") and other is not prep:
                assert not dev_run.depends_on(prep, other), f"{name} waits for {other.name}"


def test_preparation_waits_for_its_own_vm_and_goes_with_its_disk(dev_run):
    prep = commands(dev_run)["node-k8s-node01-prepare"]
    domain = dev_run.named("cluster-k8s-node01-domain")
    disk = dev_run.named("cluster-k8s-node01-disk")
    assert dev_run.depends_on(prep, domain)
    # The disk holds what the step did; a domain redefined on it keeps the step (CLI >= 3.260
    # replaces whatever is deleted with a replaced resource: pulumi/pulumi#23818).
    assert prep.deleted_with == disk.urn, "a VM whose disk goes away needs no clean-up"


def test_every_step_on_a_vm_goes_with_that_vms_disk_never_its_domain(dev_run):
    disks = {d.plain_inputs["connection"]["host"]: d.deleted_with for d in dev_run.of_type(COMMAND)}
    by_address = {
        "192.168.50.21": dev_run.named("cluster-k8s-master-disk").urn,
        "192.168.50.22": dev_run.named("cluster-k8s-node01-disk").urn,
        "192.168.50.23": dev_run.named("cluster-k8s-node02-disk").urn,
    }
    for command in dev_run.of_type(COMMAND):
        host = host_of(command)
        assert command.deleted_with == by_address[host], command.name
    assert set(disks) == set(by_address)


def test_preparation_values_come_from_settings(dev_run):
    values = script_values(
        script_of(commands(dev_run)["node-k8s-node01-prepare"].plain_inputs["create"])
    )
    assert values["NODE_NAME"] == "k8s-node01"
    assert values["HOSTS_ENTRIES"].splitlines() == [
        "192.168.50.21 k8s-master",
        "192.168.50.22 k8s-node01",
        "192.168.50.23 k8s-node02",
    ]
    assert values["DOCKER_PACKAGE"] == "docker-ce-18.06.3.ce-3.el7"
    assert values["KUBERNETES_PACKAGES"].split() == [
        "kubelet-1.13.1-0",
        "kubeadm-1.13.1-0",
        "kubectl-1.13.1-0",
        "kubernetes-cni-0.6.0-0",
    ]
    assert values["KEEP_SWAP"] == "false"
    assert values["KUBELET_SYSCONFIG"] == "KUBELET_EXTRA_ARGS="


def test_daemon_json_uses_the_plural_keys_dockerd_reads():
    run = run_program(stack_config("dev", registryMirrors=["https://mirror.example/"]))
    values = script_values(
        script_of(commands(run)["node-k8s-master-prepare"].plain_inputs["create"])
    )
    daemon = json.loads(values["DAEMON_JSON"])
    assert daemon["insecure-registries"] == ["192.168.50.24:5000"]
    assert daemon["registry-mirrors"] == ["https://mirror.example/"]
    assert "registry-mirror" not in daemon and "insecure-registry" not in daemon
    assert values["INSECURE_REGISTRY"] == "192.168.50.24:5000"


def test_centos_repo_points_at_the_vault_mirror_then_vault_centos_org(dev_run):
    values = script_values(
        script_of(commands(dev_run)["node-k8s-master-prepare"].plain_inputs["create"])
    )
    repo = ConfigParser(interpolation=None)
    repo.read_string(encoded_files(values["REPO_FILES"])["CentOS-Base.repo"])
    assert repo.sections() == ["base", "updates", "extras"]
    assert repo["extras"]["baseurl"].split() == [
        "https://mirrors.aliyun.com/centos-vault/7.9.2009/extras/$basearch/",
        "https://vault.centos.org/7.9.2009/extras/$basearch/",
    ]
    assert "mirrorlist" not in encoded_files(values["REPO_FILES"])["CentOS-Base.repo"]


def test_kubernetes_repo_has_gpgcheck_off_and_excludes_the_pinned_packages(dev_run):
    values = script_values(
        script_of(commands(dev_run)["node-k8s-master-prepare"].plain_inputs["create"])
    )
    repo = ConfigParser(interpolation=None)
    repo.read_string(encoded_files(values["REPO_FILES"])["kubernetes.repo"])
    section = repo["kubernetes"]
    assert (
        section["baseurl"]
        == "https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-x86_64/"
    )
    assert (section["gpgcheck"], section["repo_gpgcheck"]) == ("0", "0")
    assert set(section["exclude"].split()) >= {"kubelet", "kubeadm", "kubectl", "kubernetes-cni"}
    docker = ConfigParser(interpolation=None)
    docker.read_string(encoded_files(values["REPO_FILES"])["docker-ce.repo"])
    assert "mirrors.aliyun.com/docker-ce" in docker["docker-ce-stable"]["baseurl"]


def test_keeping_swap_sets_kubelet_extra_args_and_ignores_the_swap_check():
    run = run_program(stack_config("dev", keepSwap=True))
    cmds = commands(run)
    prep = script_values(script_of(cmds["node-k8s-master-prepare"].plain_inputs["create"]))
    assert prep["KUBELET_SYSCONFIG"] == "KUBELET_EXTRA_ARGS=--fail-swap-on=false"
    assert prep["KEEP_SWAP"] == "true"
    init = script_values(script_of(cmds["control-plane-init"].plain_inputs["create"]))
    assert "--ignore-preflight-errors=Swap" in init_flags(init)
    join = script_values(script_of(cmds["worker-k8s-node01-join"].plain_inputs["create"]))
    assert join["JOIN_FLAGS"].splitlines() == ["--ignore-preflight-errors=Swap"]


# --- control plane --------------------------------------------------------------------------


def test_kubeadm_init_runs_on_the_master_with_the_tutorials_four_flags(dev_run):
    init = commands(dev_run)["control-plane-init"]
    assert host_of(init) == "192.168.50.21"
    values = script_values(script_of(init.plain_inputs["create"]))
    assert init_flags(values) == [
        "--apiserver-advertise-address=192.168.50.21",
        "--image-repository",
        "registry.aliyuncs.com/google_containers",
        "--kubernetes-version",
        "v1.13.1",
        "--pod-network-cidr=10.244.0.0/16",
        "--service-cidr=10.96.0.0/12",
        "--node-name",
        "k8s-master",
    ]
    assert values["INIT_CONFIG"] == "", "the tutorial's init takes flags, not a file"


def test_init_is_guarded_by_admin_conf(dev_run):
    body = script_of(commands(dev_run)["control-plane-init"].plain_inputs["create"])
    guard = body.index("if [[ -f /etc/kubernetes/admin.conf ]]")
    assert guard < body.index('kubeadm init "${init_flags[@]}"')


def test_init_waits_for_the_masters_preparation(dev_run):
    cmds = commands(dev_run)
    assert dev_run.depends_on(cmds["control-plane-init"], cmds["node-k8s-master-prepare"])


def test_changing_cluster_identity_replaces_the_init_reset_first():
    base = commands(run_program(stack_config("dev")))["control-plane-init"]
    for change in ({"podNetworkCidr": "10.200.0.0/16"}, {"kubernetesVersion": "v1.13.2"}):
        changed = commands(run_program(stack_config("dev", **change)))["control-plane-init"]
        assert changed.plain_inputs["triggers"] != base.plain_inputs["triggers"], change
    assert base.delete_before_replace
    assert "kubeadm reset -f" in script_of(base.plain_inputs["delete"])


def test_kubeconfig_output_is_secret_and_points_at_the_master(track_run):
    assert "kubeconfig" in track_run.secret_outputs
    config = yaml.safe_load(track_run.outputs["kubeconfig"])
    master = track_run.outputs["masterAddress"]
    assert master in {"192.168.50.21", "192.168.60.21"}  # dev's, current's
    assert config["clusters"][0]["cluster"]["server"] == f"https://{master}:6443"


def test_kubeconfig_is_read_with_logging_off_and_stdout_secret(track_run):
    read = commands(track_run)["control-plane-kubeconfig"]
    assert read.plain_inputs["logging"] == "none"
    assert "stdout" in read.additional_secret_outputs
    assert "cat /etc/kubernetes/admin.conf" in script_of(read.plain_inputs["create"])


def test_outputs_carry_the_master_address_and_node_map(dev_run):
    assert dev_run.outputs["masterAddress"] == "192.168.50.21"
    assert dev_run.outputs["apiServer"] == "https://192.168.50.21:6443"
    assert set(dev_run.outputs["nodes"]) == {"k8s-master", *WORKERS}


# --- workers --------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", WORKERS)
def test_each_worker_gets_its_own_token_made_on_the_master(dev_run, worker):
    token = commands(dev_run)[f"worker-{worker}-join-command"]
    assert host_of(token) == "192.168.50.21"
    values = script_values(script_of(token.plain_inputs["create"]))
    assert values["WORKER_NAME"] == worker
    assert values["TOKEN_TTL"] == "3600s"  # joinTokenTtl 1h, as a Go duration kubeadm parses
    assert token.plain_inputs["logging"] == "none"
    assert "stdout" in token.additional_secret_outputs


@pytest.mark.parametrize("worker", WORKERS)
def test_join_runs_on_the_worker_with_the_token_as_secret_stdin(dev_run, worker):
    join = commands(dev_run)[f"worker-{worker}-join"]
    assert host_of(join) == {"k8s-node01": "192.168.50.22", "k8s-node02": "192.168.50.23"}[worker]
    assert is_secret_input(join.inputs["stdin"])
    config = yaml.safe_load(join.plain_inputs["stdin"])
    assert (config["apiVersion"], config["kind"]) == ("kubeadm.k8s.io/v1beta1", "JoinConfiguration")
    discovery = config["discovery"]["bootstrapToken"]
    assert discovery == {
        "apiServerEndpoint": "192.168.50.21:6443",
        "token": "abcdef.0123456789abcdef",
        "caCertHashes": ["sha256:" + "0" * 64],
    }
    assert config["nodeRegistration"] == {"name": worker}
    for step in ("create", "update", "delete"):
        assert "abcdef.0123456789abcdef" not in join.plain_inputs[step], step


@pytest.mark.parametrize("worker", WORKERS)
def test_join_depends_on_init_through_data(track_run, worker):
    cmds = commands(track_run)
    join, init = cmds[f"worker-{worker}-join"], cmds["control-plane-init"]
    token = cmds[f"worker-{worker}-join-command"]
    assert init.urn in join.property_dependencies["triggers"]
    assert token.urn in join.property_dependencies["stdin"]
    assert init.urn in token.property_dependencies["triggers"]


def test_workers_join_in_parallel(track_run):
    cmds = commands(track_run)
    first, second = cmds["worker-k8s-node01-join"], cmds["worker-k8s-node02-join"]
    assert not track_run.depends_on(first, second) and not track_run.depends_on(second, first)


def test_join_is_guarded_by_kubelet_conf(track_run):
    body = script_of(commands(track_run)["worker-k8s-node01-join"].plain_inputs["create"])
    assert body.index("if [[ -f /etc/kubernetes/kubelet.conf ]]") < body.index(
        'kubeadm join "${join_flags[@]}"'
    )


def test_removing_a_worker_drains_it_on_the_master_before_resetting_it(track_run):
    cmds = commands(track_run)
    registered, join = cmds["worker-k8s-node01-registered"], cmds["worker-k8s-node01-join"]
    assert host_of(registered) == track_run.outputs["masterAddress"]
    assert track_run.depends_on(registered, join), "deleted before the join, so drain comes first"
    assert "kubectl drain" in script_of(registered.plain_inputs["delete"])
    assert "kubeadm reset -f" in script_of(join.plain_inputs["delete"])


def test_master_side_cleanup_is_skipped_only_when_the_master_vm_goes_too(track_run):
    registered = commands(track_run)["worker-k8s-node01-registered"]
    assert registered.deleted_with == track_run.named("cluster-k8s-master-disk").urn


def test_existing_machines_keep_every_delete_step():
    run = run_program(stack_config("dev", hostSource="existing"))
    cmds = commands(run)
    for name in ("control-plane-init", "worker-k8s-node01-join", "worker-k8s-node01-registered"):
        assert cmds[name].deleted_with == "", name
        assert cmds[name].plain_inputs["delete"], name
    reset = script_of(cmds["worker-k8s-node01-join"].plain_inputs["delete"])
    for cleanup in ("kubeadm reset -f", "cni0 flannel.1", "/var/lib/cni", "iptables-restore"):
        assert cleanup in reset, cleanup


# --- secrets and scripts --------------------------------------------------------------------


def test_every_connection_carries_the_private_key_as_a_secret(track_run):
    for command in track_run.of_type(COMMAND):
        assert is_secret_input(command.inputs["connection"]), command.name
        assert command.plain_inputs["connection"]["privateKey"] == FAKE_PRIVATE_KEY, command.name


def test_no_secret_appears_in_plain_command_inputs(track_run):
    token = MOCK_JOIN_COMMAND.split("--token ")[1].split()[0]
    for command in track_run.of_type(COMMAND):
        for key, value in command.inputs.items():
            if is_secret_input(value):
                continue
            text = json.dumps(value, default=str)
            assert token not in text, f"{command.name}.{key} carries the join token"
            assert "client-key-data" not in text, f"{command.name}.{key} carries the kubeconfig"
            assert "PRIVATE KEY" not in text, f"{command.name}.{key} carries the SSH key"


def test_no_command_uses_environment_or_previous_output(track_run):
    for command in track_run.of_type(COMMAND):
        assert "environment" not in command.plain_inputs, command.name
        assert command.plain_inputs.get("addPreviousOutputInEnv") is False, command.name


def rendered_scripts(run) -> dict[str, str]:
    scripts = {}
    for command in run.of_type(COMMAND):
        for step in ("create", "update", "delete"):
            if command.plain_inputs.get(step):
                scripts[f"{command.name}.{step}"] = script_of(command.plain_inputs[step])
    return scripts


def test_every_script_file_is_used_by_some_command():
    used = set()
    for track in ("tutorial", "current"):
        run = run_program(stack_config(track_stack(track), hostSource="existing"))
        for script in rendered_scripts(run).values():
            used |= set(re.findall(r"^# (?:kubeadm-libvirt|with) (\S+\.sh)$", script, re.M))
    files = {p.name for p in (ROOT / "components/scripts").glob("*.sh")} - {"lib.sh"}
    assert files - used == set(), "scripts nobody runs"


def test_every_rendered_script_passes_shellcheck_with_warnings_as_failures():
    runs = [
        run_program(stack_config(stack, **overrides), stack=stack)
        for stack in ("dev", "current")
        for overrides in ({}, {"keepSwap": True}, {"hostSource": "existing"})
    ]
    failures = []
    for run in runs:
        for name, script in rendered_scripts(run).items():
            result = subprocess.run(
                [str(SHELLCHECK), "--severity=style", "--shell=bash", "-"],
                input=script,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                failures.append(f"{name}:\n{result.stdout}")
    assert not failures, "\n".join(failures)


def test_every_script_is_strict_bash(dev_run):
    for name, script in rendered_scripts(dev_run).items():
        assert script.startswith("#!/usr/bin/env bash\n"), name
        assert "\nset -euo pipefail\n" in script, name


# --- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "current"])
def test_a_second_evaluation_gives_identical_inputs_for_every_resource(stack):
    """Any difference would make every `pulumi up` re-run remote commands."""

    def snapshot(run):
        return {
            r.urn: json.dumps(r.plain_inputs, sort_keys=True, default=str) for r in run.resources
        }

    first, second = (
        snapshot(run_program(stack_config(stack), stack=stack)),
        snapshot(run_program(stack_config(stack), stack=stack)),
    )
    assert first.keys() == second.keys()
    changed = [urn for urn in first if first[urn] != second[urn]]
    assert changed == []


# --- SSH host keys of existing machines ------------------------------------------------------


def test_an_existing_machines_host_key_is_pinned_in_every_connection_to_it():
    nodes = json.loads(stack_config("dev")["kubeadm-libvirt:nodes"])
    host_key = key_pair("k8s-node01 host key")[1]
    nodes[1]["hostKey"] = host_key
    run = run_program(stack_config("dev", hostSource="existing", nodes=nodes))
    for command in run.of_type(COMMAND):
        connection = command.plain_inputs["connection"]
        expected = host_key if connection["host"] == "192.168.50.22" else None
        assert connection.get("hostKey") == expected, command.name
    assert run.outputs["hostKeys"] == {"k8s-node01": host_key}


def test_existing_machines_without_host_keys_get_one_warning(caplog):
    with caplog.at_level("WARNING"):
        run_program(stack_config("dev", hostSource="existing"))
    warnings = [
        r.getMessage() for r in caplog.records if "host keys are not verified" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "k8s-master, k8s-node01, k8s-node02" in warnings[0] and "hostKey" in warnings[0]


def test_kubernetes_repositories_are_tried_in_the_order_given():
    urls = [
        "https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-x86_64/",
        "https://cache.example/k8s/",
    ]
    run = run_program(stack_config("dev", kubernetesRepoUrls=urls))
    values = script_values(
        script_of(commands(run)["node-k8s-node01-prepare"].plain_inputs["create"])
    )
    repo = ConfigParser(interpolation=None)
    repo.read_string(encoded_files(values["REPO_FILES"])["kubernetes.repo"])
    assert repo["kubernetes"]["baseurl"].split() == urls


# --- how long a remote step waits for SSH -------------------------------------------------------


def test_the_dial_waits_follow_pulumi_commands_backoff():
    """retry.Until: 100 ms, then 1.5 times longer, at most 5 s (pulumi/pulumi sdk until.go)."""
    assert [round(hosts.dial_wait_seconds(n), 4) for n in range(1, 5)] == [
        0.1,
        0.25,
        0.475,
        0.8125,
    ]
    capped = hosts.dial_wait_seconds(30) - hosts.dial_wait_seconds(29)
    assert capped == 5.0
    assert round(hosts.dial_wait_seconds(40)) == 161, "the old 40 tries: under 3 minutes"


def test_every_connection_retries_ssh_for_about_ten_minutes(dev_run):
    attempts = hosts.SSH_DIAL_ATTEMPTS
    assert 600 <= hosts.dial_wait_seconds(attempts) < 605
    assert hosts.dial_wait_seconds(attempts - 1) < 600
    for command in dev_run.of_type(COMMAND):
        connection = command.plain_inputs["connection"]
        assert connection["dialErrorLimit"] == attempts, command.name
        assert connection["perDialTimeout"] == hosts.SSH_DIAL_TIMEOUT_SECONDS, command.name


def test_the_readme_states_the_real_ssh_budget_and_error_texts():
    readme = (ROOT / "README.md").read_text()
    attempts = hosts.SSH_DIAL_ATTEMPTS
    assert f"SSH: {attempts} tries over about 10 minutes" in readme
    assert f"after {attempts} failed attempts: dial tcp" in readme
    assert (
        f"after {attempts} failed attempts: ssh: handshake failed: ssh: host key mismatch" in readme
    )


# --- the critical path ----------------------------------------------------------------------


def test_a_worker_is_joined_after_at_most_five_remote_steps_in_a_row(track_run):
    """prepare → init → token → join → registered: nothing else sits between a VM and a joined
    worker, on either track (what makes a first `make up` as short as it can be)."""
    from benchmark import remote_chain

    length, path = remote_chain(track_run)
    assert length <= 5, path
