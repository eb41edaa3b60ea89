"""Three masters behind a virtual API address (Pulumi.ha.yaml) under Pulumi mocks: the settings
that make one, the graph (who joins after whom, what waits for what), the secrets, the addresses
the API is reached at, and the critical path."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import (
    FAKE_PRIVATE_KEY,
    MOCK_CERTIFICATE_KEY,
    is_secret_input,
    run_program,
    run_with_fake_home,
    script_of,
    script_values,
    stack_config,
)

from components.settings import SettingsError, validate

COMMAND = "command:remote:Command"
VIP = "192.168.70.20"
MASTERS = ["k8s-master", "k8s-master2", "k8s-master3"]
HA_NODES = json.loads(stack_config("ha")["kubeadm-libvirt:nodes"])


@pytest.fixture(scope="module")
def ha_run():
    return run_with_fake_home(stack_config("ha"), stack="ha")


def commands(run) -> dict:
    return {r.name: r for r in run.of_type(COMMAND)}


def rejected(stack: str, **overrides) -> SettingsError:
    config = stack_config(stack, sshPrivateKey=FAKE_PRIVATE_KEY, **overrides)
    raw = {key.split(":", 1)[1]: value for key, value in config.items()}
    with pytest.raises(SettingsError) as error:
        validate(raw, stack=stack)
    return error.value


# --- settings ------------------------------------------------------------------------------------


def test_more_than_one_master_needs_the_virtual_address_and_names_a_free_one():
    error = rejected("ha", controlPlaneEndpoint="")
    assert error.key == "controlPlaneEndpoint"
    assert "is needed with 3 masters" in str(error) and "192.168.70.20" in str(error)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("192.168.70.21", "is the address of node k8s-master"),
        ("192.168.70.24", "is registryAddress"),
        ("192.168.70.1", "is the nodes' gateway address"),
        ("192.168.71.20", "is outside nodeNetwork 192.168.70.0/24"),
        ("192.168.70.255", "is the network or broadcast address"),
    ],
)
def test_the_virtual_address_is_a_free_host_address_of_the_node_network(address, problem):
    error = rejected("ha", controlPlaneEndpoint=address)
    assert error.key == "controlPlaneEndpoint" and problem in str(error), str(error)


def test_the_tutorial_track_builds_one_master_and_says_why():
    nodes = json.loads(stack_config("dev")["kubeadm-libvirt:nodes"])
    nodes[1]["role"] = "master"
    error = rejected("dev", nodes=nodes)
    assert error.key == "nodes[*].role"
    assert "kubeadm 1.13's control-plane join is experimental" in str(error)


def test_the_tutorial_track_refuses_a_virtual_address():
    error = rejected("dev", controlPlaneEndpoint="192.168.50.20")
    assert error.key == "controlPlaneEndpoint" and "belongs to the current track" in str(error)


def test_more_than_seven_masters_are_refused():
    nodes = [
        {"name": f"m{i}", "address": f"192.168.70.{40 + i}", "role": "master"} for i in range(8)
    ] + [HA_NODES[-1]]
    error = rejected("ha", nodes=nodes)
    assert error.key == "nodes[*].role" and "more than 7 masters" in str(error)


def test_every_master_gets_the_control_planes_minimum_size():
    nodes = json.loads(json.dumps(HA_NODES))
    nodes[2]["memoryMiB"] = 1024
    error = rejected("ha", nodes=nodes)
    assert error.key == "nodes[2].memoryMiB" and "a master needs at least 1700 MiB" in str(error)


# --- the graph ---------------------------------------------------------------------------------


def test_the_api_is_reached_at_the_virtual_address_everywhere(ha_run):
    assert ha_run.outputs["apiServer"] == f"https://{VIP}:6443"
    kubeconfig = yaml.safe_load(ha_run.outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{VIP}:6443"
    assert ha_run.outputs["masters"] == MASTERS
    init = commands(ha_run)["control-plane-init"]
    documents = list(
        yaml.safe_load_all(script_values(script_of(init.plain_inputs["create"]))["INIT_CONFIG"])
    )
    cluster = next(d for d in documents if d["kind"] == "ClusterConfiguration")
    assert cluster["controlPlaneEndpoint"] == f"{VIP}:6443"
    for name in ("worker-k8s-node01-join", "control-plane-k8s-master2-join"):
        join = yaml.safe_load(commands(ha_run)[name].plain_inputs["stdin"])
        assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == f"{VIP}:6443", name


def test_masters_join_one_at_a_time_and_workers_do_not_wait_for_them(ha_run):
    cmds = commands(ha_run)
    second = cmds["control-plane-k8s-master2-registered"]
    third_token = cmds["control-plane-k8s-master3-join-command"]
    assert ha_run.depends_on(third_token, second)
    for worker in ("k8s-node01", "k8s-node02"):
        join = cmds[f"worker-{worker}-join"]
        assert not ha_run.depends_on(join, cmds["control-plane-k8s-master2-join"]), worker


def test_a_masters_join_carries_the_certificate_key_only_as_a_secret(ha_run):
    cmds = commands(ha_run)
    for name in MASTERS[1:]:
        token = cmds[f"control-plane-{name}-join-command"]
        assert script_values(script_of(token.plain_inputs["create"]))["CONTROL_PLANE"] == "true"
        assert (
            "stdout" in token.additional_secret_outputs and token.plain_inputs["logging"] == "none"
        )
        join = cmds[f"control-plane-{name}-join"]
        assert is_secret_input(join.inputs["stdin"])
        config = yaml.safe_load(join.plain_inputs["stdin"])
        assert config["controlPlane"] == {
            "localAPIEndpoint": {
                "advertiseAddress": next(n["address"] for n in HA_NODES if n["name"] == name),
                "bindPort": 6443,
            },
            "certificateKey": MOCK_CERTIFICATE_KEY,
        }
    for command in cmds.values():
        for key, value in command.inputs.items():
            if not is_secret_input(value):
                assert MOCK_CERTIFICATE_KEY not in json.dumps(value, default=str), (
                    command.name,
                    key,
                )


def test_workers_join_without_certificates(ha_run):
    cmds = commands(ha_run)
    token = cmds["worker-k8s-node01-join-command"]
    assert script_values(script_of(token.plain_inputs["create"]))["CONTROL_PLANE"] == "false"
    assert "controlPlane" not in yaml.safe_load(
        cmds["worker-k8s-node01-join"].plain_inputs["stdin"]
    )


def test_a_leaving_master_loses_its_etcd_member_from_the_first_master(ha_run):
    registered = commands(ha_run)["control-plane-k8s-master3-registered"]
    values = script_values(script_of(registered.plain_inputs["delete"]))
    assert values["ETCD_MEMBER"] == "k8s-master3" and values["NODE_NAME"] == "k8s-master"
    worker = commands(ha_run)["worker-k8s-node01-registered"]
    assert script_values(script_of(worker.plain_inputs["delete"]))["ETCD_MEMBER"] == ""


def test_the_registry_stays_on_the_first_master(ha_run):
    address = commands(ha_run)["registry-address"]
    assert address.plain_inputs["connection"]["host"] == "192.168.70.21"


def test_the_smoke_check_asks_for_the_api_at_the_address_and_a_voter_per_master(ha_run):
    smoke = script_values(script_of(commands(ha_run)["smoke-cluster"].plain_inputs["create"]))
    assert smoke["API_URL"] == f"https://{VIP}:6443/livez"
    assert smoke["ETCD_MEMBERS"] == "3"


def test_one_master_without_a_virtual_address_checks_neither():
    run = run_program(stack_config("current"), stack="current")
    smoke = script_values(script_of(commands(run)["smoke-cluster"].plain_inputs["create"]))
    assert smoke["API_URL"] == smoke["ETCD_MEMBERS"] == ""
    init = script_values(script_of(commands(run)["control-plane-init"].plain_inputs["create"]))
    assert init["VIRTUAL_ADDRESS_MANIFEST_INIT"] == init["VIRTUAL_ADDRESS_MANIFEST"] == ""


def test_the_provider_waits_for_every_master(ha_run):
    provider = ha_run.named("kubernetes")
    cmds = commands(ha_run)
    for name in MASTERS[1:]:
        assert ha_run.depends_on(provider, cmds[f"control-plane-{name}-registered"]), name


def test_the_critical_path_grows_by_three_steps_per_extra_master(ha_run):
    """prepare -> init -> (token -> join -> registered) per master after the first: 2 + 3 * 2.
    A worker still joins after five steps."""
    from benchmark import remote_chain

    length, path = remote_chain(ha_run)
    assert length == 2 + 3 * (len(MASTERS) - 1), path
    assert path[-1] == "control-plane-k8s-master3-registered"


def test_a_second_evaluation_of_the_ha_stack_is_identical():
    def snapshot():
        run = run_program(stack_config("ha"), stack="ha")
        return {
            r.urn: json.dumps(r.plain_inputs, sort_keys=True, default=str) for r in run.resources
        }

    assert snapshot() == snapshot()
