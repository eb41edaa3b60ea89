"""Every validation principle, applied to every key of its kind, on plain dicts (no Pulumi
engine: `make doctor` validates the same way). A hostile value must stop with one
`config <key>=<value>: <problem>` naming the exact key, never pass, never crash."""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

import pytest
from conftest import PROJECT, PROJECT_FILE, key_pair, stack_config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.fields import MAX_URL_LENGTH
from components.platforms import platform
from components.settings import EncryptedValue, SettingsError, check, validate

CURRENT_ONLY = platform("current").own_keys


def raw(**overrides: Any) -> dict[str, Any]:
    """The dev stack (or, for a key of the current track only, the current stack) as the CLI
    hands it to the program: scalars as text, lists as JSON."""
    prefix = f"{PROJECT}:"
    stack = "current" if CURRENT_ONLY & set(overrides) else "dev"
    return {k.removeprefix(prefix): v for k, v in stack_config(stack, **overrides).items()}


def accepted(home, **overrides):
    return validate(raw(**overrides), home=home)


def rejected(home, key_path: str | None = None, secret_keys=(), **overrides) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        validate(raw(**overrides), secret_keys=set(secret_keys), home=home)
        pytest.fail(f"accepted {overrides}")
    error = info.value
    assert str(error).startswith(f"config {error.key}="), str(error)
    if key_path is not None:
        assert error.key == key_path, str(error)
    return error


@pytest.fixture
def home(ssh_home):
    return ssh_home


DEV_NODES = json.loads(raw()["nodes"])

# Every string-valued key with a valid value, by where it lives. List keys name their items.
SCALAR_STRINGS = {
    key: value
    for key, value in raw().items()
    if PROJECT_FILE["config"][key]["type"] == "string" and value
}
SCALAR_STRINGS.update(
    track="tutorial",
    nodeGateway="192.168.50.1",
    libvirtBridge="br0",
    sshPublicKey=key_pair("the test user")[1],
    sshUser="centos",
    baseImage="https://cloud.centos.org/centos/7/images/CentOS-7-x86_64-GenericCloud-2009.qcow2",
    flannelImage="quay.io/coreos/flannel:v0.11.0-amd64",
    containerdVersion="2.3.4",
    kubernetesCniVersion="0.6.0",
    flannelCniPluginImage="ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3",
    controlPlaneEndpoint="192.168.60.20",
    kubeVipImage="ghcr.io/kube-vip/kube-vip:v1.2.3",
)
LIST_STRINGS = {
    "centosVaultBaseUrls": "https://vault.centos.org/7.9.2009",
    "kubernetesRepoUrls": "https://mirror.example/kubernetes/",
    "registryMirrors": "https://mirror.example",
    "nodeNameservers": "192.168.50.1",
}
NODE_STRINGS = {"name": "k8s-node01", "address": "192.168.50.22", "role": "worker"}
INTEGER_KEYS = [key for key, d in PROJECT_FILE["config"].items() if d["type"] == "integer"]
NODE_INTEGERS = ["vcpus", "memoryMiB", "diskGiB"]


def with_node_field(field: str, value: Any) -> list[dict]:
    nodes = copy.deepcopy(DEV_NODES)
    nodes[1][field] = value
    return nodes


def string_cases() -> list[tuple[str, str, Any]]:
    """(key path, override key, function of the valid value -> override value)."""
    cases = []
    for key in sorted(SCALAR_STRINGS):
        if key == "sshPrivateKey":
            continue
        cases.append((key, key, lambda bad: bad))
    for key in sorted(LIST_STRINGS):
        cases.append((f"{key}[0]", key, lambda bad: [bad]))
    for field in sorted(NODE_STRINGS):
        cases.append((f"nodes[1].{field}", "nodes", lambda bad, f=field: with_node_field(f, bad)))
    return cases


def valid_value(key_path: str) -> str:
    if key_path.startswith("nodes[1]."):
        return NODE_STRINGS[key_path.split(".")[1]]
    if key_path.endswith("[0]"):
        return LIST_STRINGS[key_path[:-3]]
    return SCALAR_STRINGS[key_path]


STRING_CASES = string_cases()
IDS = [case[0] for case in STRING_CASES]


def test_the_tables_cover_every_string_key():
    declared = {key for key, d in PROJECT_FILE["config"].items() if d["type"] == "string"} - {
        "sshPrivateKey"
    }
    arrays = {
        key
        for key, d in PROJECT_FILE["config"].items()
        if d["type"] == "array" and d["items"]["type"] == "string"
    }
    assert declared <= set(SCALAR_STRINGS)
    assert arrays == set(LIST_STRINGS)


def test_the_dev_stack_and_every_table_value_are_valid(home):
    for key_path, key, make in STRING_CASES:
        accepted(home, **{key: make(valid_value(key_path))})


@pytest.mark.parametrize(("key_path", "key", "make"), STRING_CASES, ids=IDS)
@pytest.mark.parametrize("edit", ["{}\n", "{}\r\n", " {}", "{} ", "\t{}", "{}\x00", "{}\u200b"])
def test_strings_match_whole_without_stray_blanks_or_control_characters(
    home, key_path, key, make, edit
):
    rejected(home, key_path, **{key: make(edit.format(valid_value(key_path)))})


@pytest.mark.parametrize(("key_path", "key", "make"), STRING_CASES, ids=IDS)
def test_every_string_has_a_length_cap(home, key_path, key, make):
    value = valid_value(key_path)
    long = value + "a" * 70000 if not value[-1].isdigit() else value + "1" * 70000
    error = rejected(home, key_path, **{key: make(long)})
    assert len(str(error)) < 1000, "the message must not carry the whole value"


@pytest.mark.parametrize(("key_path", "key", "make"), STRING_CASES, ids=IDS)
@pytest.mark.parametrize("wrong", [None, 5, True, ["x"], {"x": 1}])
def test_a_string_key_given_another_type_is_refused_by_name(home, key_path, key, make, wrong):
    """As a stack file read with YAML holds it (make doctor): null, a number, a list..."""
    values = raw()
    values[key] = make(wrong)
    with pytest.raises(SettingsError) as info:
        validate(values, home=home)
    assert info.value.key == key_path, str(info.value)


@pytest.mark.parametrize("key", INTEGER_KEYS)
@pytest.mark.parametrize(
    "bad",
    ["1e999", "2.0", "2.5", "true", "-1", " 2", "2 ", "2\n", "NaN", "inf", "０", "٢", "", "0x10"],
)
def test_integer_keys_take_only_ascii_whole_numbers(home, key, bad):
    rejected(home, key, **{key: bad})


@pytest.mark.parametrize("field", NODE_INTEGERS)
@pytest.mark.parametrize(
    "bad", [2.0, 2.5, True, False, float("inf"), float("nan"), "2.0", "two", "٢", -4, 10**30, None]
)
def test_node_integers_take_only_whole_numbers(home, field, bad):
    nodes = with_node_field(field, bad)
    rejected(home, f"nodes[1].{field}", nodes=json.dumps(nodes))


@pytest.mark.parametrize("field", NODE_INTEGERS)
def test_node_integers_may_be_numbers_or_digit_strings(home, field):
    value = {"vcpus": 3, "memoryMiB": 3072, "diskGiB": 30}[field]
    for given in (value, str(value)):
        accepted(home, nodes=with_node_field(field, given))


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_integer_keys_take_a_leading_plus_as_the_cli_does(home, key):
    """`pulumi config set registryPort +5000` passes the CLI's integer check ([+-]?[0-9]+)."""
    plain = accepted(home)
    signed = accepted(home, **{key: "+" + raw()[key]})
    assert signed == plain


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_the_top_and_bottom_of_each_integer_range_are_accepted(home, key):
    problem = rejected(home, key, **{key: "0"}).problem
    low, high = (int(n) for n in re.search(r"between (\d+) and (\d+)", problem).groups())
    accepted(home, **{key: str(low)})
    accepted(home, **{key: str(high)})
    rejected(home, key, **{key: str(high + 1)})


def test_a_request_equal_to_its_limit_is_accepted(home):
    accepted(home, appCpuRequest="500m", appCpuLimit="500m")
    accepted(home, appMemoryRequest="1Gi", appMemoryLimit="1024Mi")
    rejected(home, "appCpuRequest", appCpuRequest="501m", appCpuLimit="500m")


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_integer_keys_have_ranges(home, key):
    rejected(home, key, **{key: "0"})
    rejected(home, key, **{key: "99999999"})


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ttl",
    ["0", "0s", "0h0m", "00h", "0m0s", "59s", "24h0m1s", "25h", "-1h", "1H", "1 h", "1", "1d"],
)
def test_token_ttl_is_a_duration_between_a_minute_and_a_day(home, ttl):
    error = rejected(home, "joinTokenTtl", joinTokenTtl=ttl)
    assert repr(ttl) in str(error)


@pytest.mark.parametrize(("ttl", "kubeadm"), [("1m", "60s"), ("1h30m", "5400s"), ("24h", "86400s")])
def test_token_ttl_reaches_kubeadm_as_whole_seconds(home, ttl, kubeadm):
    assert accepted(home, joinTokenTtl=ttl).kubernetes.token_ttl == kubeadm


# --- URLs -------------------------------------------------------------------------------------

URL_KEYS = [
    ("dockerCeRepoUrl", "dockerCeRepoUrl", lambda u: u),
    ("dockerCeGpgKey", "dockerCeGpgKey", lambda u: u),
    ("centosVaultBaseUrls[0]", "centosVaultBaseUrls", lambda u: [u]),
    ("kubernetesRepoUrls[0]", "kubernetesRepoUrls", lambda u: [u]),
    ("registryMirrors[0]", "registryMirrors", lambda u: [u]),
    ("baseImage", "baseImage", lambda u: u),
]


@pytest.mark.parametrize(("key_path", "key", "make"), URL_KEYS, ids=[k[0] for k in URL_KEYS])
@pytest.mark.parametrize(
    "bad",
    [
        "ftp://mirror.example/x",
        "file:///etc/passwd",
        "http://user:secret@mirror.example/x",
        "https://user@mirror.example/x",
        "http:///no-host",
        "https://mirror.example:99999/x",
        "https://mirror.example/a b",
        "https://mirror.example/a,b",
        "https://mirror.example/'x",
        "mirror.example/x",
        "https://mirror.example/\x7f",
    ],
)
def test_urls_are_http_with_a_host_and_no_credentials(home, key_path, key, make, bad):
    error = rejected(home, key_path, **{key: make(bad)})
    if "secret@" in bad:
        assert "user:password" in str(error)


# --- public keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "{k}\n{k}",
        "{k}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== second",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP== old",
        "ssh-ed25519 AAAAnotbase64!",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==",
        'command="sh" {k}',
        "{k} comment\twith tab",
    ],
)
def test_the_public_key_is_exactly_one_parsed_key(home, bad):
    public = key_pair("the test user")[1]
    rejected(home, "sshPublicKey", sshPublicKey=bad.format(k=public))


def test_a_weak_rsa_key_is_refused(home):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    error = rejected(home, "sshPublicKey", sshPublicKey=public.decode())
    assert "1024" in str(error)


@pytest.mark.parametrize("field_value", ["ssh-ed25519 AAAA bad", "{k}\n{k}"])
def test_a_node_host_key_is_one_parsed_key_too(home, field_value):
    public = key_pair("a host")[1]
    nodes = with_node_field("hostKey", field_value.format(k=public))
    rejected(home, "nodes[1].hostKey", hostSource="existing", nodes=nodes)


def test_a_host_key_is_only_for_existing_machines(home):
    nodes = with_node_field("hostKey", key_pair("a host")[1])
    assert accepted(home, hostSource="existing", nodes=nodes).nodes[1].host_key
    rejected(home, "nodes[1].hostKey", nodes=nodes)


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["registryStoragePath", "storagePoolPath"])
@pytest.mark.parametrize(
    "bad",
    [
        "relative/dir",
        "/",
        "/etc",
        "/etc/kubernetes",
        "/etc/kubernetes/pki",
        "/var/lib/etcd",
        "/var/lib/etcd/member",
        "/var/lib/kubelet",
        "/var",
        "/var/lib",
        "/proc/1",
        "/sys/x",
        "/dev/shm",
        "/boot/x",
        "/usr/local/registry",
        "/srv/../etc",
        "/srv//registry",
        "/srv/./registry",
        "/srv/registry/",
        "/srv/reg istry",
        "/srv/registry;rm",
    ],
)
def test_host_paths_are_absolute_normalised_and_outside_system_trees(home, key, bad):
    rejected(home, key, **{key: bad})


@pytest.mark.parametrize("key", ["registryStoragePath", "storagePoolPath"])
def test_a_directory_of_its_own_is_fine(home, key):
    accepted(home, **{key: "/srv/kubeadm-libvirt/data"})


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["nodeGateway", "registryAddress"])
@pytest.mark.parametrize(
    "bad",
    [
        "192.168.50.0",
        "192.168.50.255",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "127.0.0.1",
        "192.168.050.1",
        "192.168.50.１",
        "10.0.0.1",
    ],
)
def test_gateway_and_registry_are_usable_host_addresses_of_the_node_network(home, key, bad):
    rejected(home, key, **{key: bad})


@pytest.mark.parametrize(
    "bad",
    [
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.251",
        "127.0.0.53",
        "169.254.169.254",
        "240.0.0.1",
        "192.168.50.0",
        "192.168.50.255",
    ],
)
def test_nameservers_are_usable_host_addresses(home, bad):
    rejected(home, "nodeNameservers[0]", nodeNameservers=[bad])


def test_at_most_three_nameservers(home):
    rejected(home, "nodeNameservers", nodeNameservers=["8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9"])


@pytest.mark.parametrize(
    ("key", "value"),
    [("registryAddress", "192.168.50.1"), ("nodeGateway", "192.168.50.24")],
)
def test_registry_and_gateway_do_not_collide(home, key, value):
    rejected(home, "registryAddress", **{key: value})


def test_a_node_on_the_gateway_is_refused(home):
    error = rejected(home, "nodes[1].address", nodes=with_node_field("address", "192.168.50.1"))
    assert "gateway" in str(error)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("nodeNetwork", "172.17.0.0/24"),
        ("podNetworkCidr", "172.16.0.0/12"),
        ("serviceCidr", "172.17.0.0/16"),
        ("nodeNetwork", "127.0.0.0/24"),
        ("nodeNetwork", "192.168.50.0/30"),
        ("podNetworkCidr", "10.244.0.0/23"),
        ("serviceCidr", "10.96.0.0/8"),
        ("serviceCidr", "10.96.0.0/30"),
        ("podNetworkCidr", "224.0.0.0/8"),
    ],
)
def test_networks_are_usable_and_apart_from_dockers_bridge(home, key, value):
    rejected(home, key, **{key: value})


# --- libvirt URI --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "qemu+tcp://hv.example/system",
        "qemu+libssh2://hv.example/system",
        "qemu+ext:///system?command=/bin/sh",
        "lxc:///system",
        "xen:///system",
        "qemu+ssh://root@hv.example/system?command=/tmp/x",
        "qemu+ssh://root@hv.example/system?netcat=/tmp/nc",
        "qemu+ssh://root@hv.example/system?no_verify=0",
        "qemu+tls://hv.example/system?no_verify=1",
        "qemu+ssh://root@hv.example/system?known_hosts_verify=ignore",
        "qemu+ssh://root@hv.example/system?known_hosts=/tmp/kh",
        "qemu+ssh://root:secret@hv.example/system",
        "qemu+ssh:///system",
        "qemu://hv.example/system",
        "qemu:///system#x",
        "qemu:///embed",
        "qemu:///system?socket",
    ],
)
def test_libvirt_uri_only_takes_safe_qemu_transports_and_parameters(home, bad):
    rejected(home, "libvirtUri", libvirtUri=bad)


@pytest.mark.parametrize(
    "good",
    [
        "qemu:///system",
        "qemu:///session",
        "qemu+unix:///system?socket=/run/libvirt/libvirt-sock",
        "qemu+ssh://root@hv.example/system?keyfile=/home/me/.ssh/id_ed25519&knownhosts=/home/me/kh",
        "qemu+ssh://me@hv.example:2222/system?sshauth=privkey",
        "qemu+tls://hv.example/system?pkipath=/home/me/pki",
    ],
)
def test_libvirt_uri_accepts_the_usual_forms(home, good):
    accepted(home, libvirtUri=good)


# --- secrets, shapes, unknown keys ----------------------------------------------------------------


def test_a_bad_private_key_is_never_echoed(home):
    error = rejected(
        home, "sshPrivateKey", sshPrivateKey="-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2"
    )
    assert "hunter2" not in str(error) and "[secret]" in str(error)


def test_an_encrypted_private_key_is_refused_with_the_fix(home):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    error = rejected(home, "sshPrivateKey", sshPrivateKey=text)
    assert "passphrase" in str(error)
    # the fix is a key for the cluster, never stripping the passphrase off the user's own key
    assert "ssh-keygen -t ed25519 -N '' -f ~/.ssh/kubeadm-libvirt" in str(error)
    assert "ssh-keygen -p" not in str(error)


@pytest.mark.parametrize("key", ["nodeGateway", "registryImage", "nodeNameservers", "nodes"])
def test_a_value_set_as_a_secret_is_never_echoed(home, key):
    bad = {
        "nodeGateway": "10.9.9.9",
        "registryImage": "Bad Image",
        "nodeNameservers": ["x9"],
        "nodes": [{"name": "x9", "address": "10.9.9.9", "role": "boss"}],
    }[key]
    error = rejected(home, secret_keys={key}, **{key: bad})
    assert "[secret]" in str(error)
    assert "x9" not in str(error) and "9.9.9" not in str(error) and "Bad Image" not in str(error)


@pytest.mark.parametrize(
    "key",
    ["nodes", "nodeNameservers", "centosVaultBaseUrls", "kubernetesRepoUrls", "registryMirrors"],
)
@pytest.mark.parametrize("wrong", ["null", '"a string"', "{}", "5", "a string", "[1, 2"])
def test_a_wrong_shaped_list_gets_the_same_config_message(home, key, wrong):
    error = rejected(home, key, **{key: wrong})
    assert "must be a list" in str(error)


@pytest.mark.parametrize("wrong", [[], ["x"], [None], [[]], [{"name": "a"}]])
def test_a_wrong_shaped_node_list_names_the_node(home, wrong):
    error = rejected(home, **{"nodes": wrong})
    assert error.key.startswith("nodes"), str(error)


def test_an_unknown_key_is_refused(home):
    values = raw()
    values["kubernetesRepoUrl"] = "https://old.example/"
    with pytest.raises(SettingsError) as info:
        validate(values, home=home)
    assert info.value.key == "kubernetesRepoUrl"


def test_a_missing_key_is_named(home):
    values = raw()
    del values["appPort"]
    with pytest.raises(SettingsError) as info:
        validate(values, home=home)
    assert info.value.key == "appPort" and "is not set" in str(info.value)


def test_validate_needs_no_pulumi_engine_and_reads_plain_yaml_values(home):
    """What `make doctor` passes: values as the stack file holds them, the secret undecrypted."""
    values = {
        k: json.loads(v)
        if k
        in (
            "nodes",
            "nodeNameservers",
            "centosVaultBaseUrls",
            "kubernetesRepoUrls",
            "registryMirrors",
        )
        else v
        for k, v in raw().items()
    }
    values["sshPrivateKey"] = EncryptedValue()
    settings = validate(values, home=home)
    assert settings.ssh.private_key is None
    assert settings.master.name == "k8s-master"


def test_every_rendered_command_stays_far_below_linuxs_argument_limit(home):
    """MAX_ARG_STRLEN is 128 KiB for one argument (`sudo bash -c SCRIPT` is one): with every
    list at its longest and every string near its cap, the scripts still fit in half of it."""
    from conftest import run_program

    nodes = [
        {
            "name": f"n{i:02d}-" + "a" * 59,
            "address": f"10.1.{i // 200}.{i % 200 + 10}",
            "role": "master" if i == 0 else "worker",
            "vcpus": 2,
            "memoryMiB": 2048,
        }
        for i in range(64)
    ]
    long_url = "https://" + "m" * 60 + ".example/" + "p" * (MAX_URL_LENGTH - 80)
    config = stack_config(
        "dev",
        nodes=nodes,
        nodeNetwork="10.1.0.0/16",
        registryAddress="10.1.250.1",
        podNetworkCidr="10.200.0.0/14",
        centosVaultBaseUrls=[long_url + str(i) for i in range(4)],
        kubernetesRepoUrls=[long_url + str(i) for i in range(4)],
        registryMirrors=[
            f"https://{i}{'m' * 60}.{'h' * 60}.{'o' * 60}.example:5000" for i in range(4)
        ],
        dockerCeRepoUrl=long_url,
        dockerCeGpgKey=long_url,
    )
    run = run_program(config)
    longest = max(
        len(r.plain_inputs[step].encode())
        for r in run.of_type("command:remote:Command")
        for step in ("create", "update", "delete")
        if r.plain_inputs.get(step)
    )
    assert longest < 64 * 1024, longest


# --- every problem at once, typos, other namespaces ------------------------------------------


def test_every_problem_of_a_configuration_is_reported_at_once(home):
    settings, errors = check(
        raw(
            podNetworkCidr="10.244.0.0/33",
            appPort="eighty",
            registryAddress="192.168.50.21",
            nodeNameservers=["127.0.0.53"],
        ),
        home=home,
    )
    assert settings is None
    assert {e.key for e in errors} == {"podNetworkCidr", "appPort"}, errors
    # once every key is well-formed, every rule between keys is reported too
    settings, errors = check(
        raw(registryAddress="192.168.50.21", nodeNameservers=["127.0.0.53"], appCpuRequest="2"),
        home=home,
    )
    assert {e.key for e in errors} == {"registryAddress", "nodeNameservers[0]", "appCpuRequest"}


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("podNetworkCIDR", "podNetworkCidr"), ("podNetwrkCidr", "podNetworkCidr"),
     ("registryMirror", "registryMirrors"), ("nodeNetworks", "nodeNetwork")],
)  # fmt: skip
def test_a_typo_names_the_key_it_was_meant_to_be_and_how_to_remove_it(home, typo, meant):
    values = raw()
    values[typo] = "x"
    error = rejected_values(home, values)
    assert error.key == typo
    assert f"did you mean {meant}?" in str(error)
    assert f"pulumi config rm {typo}" in str(error)


def test_a_typo_in_a_node_names_the_field_it_was_meant_to_be(home):
    nodes = copy.deepcopy(DEV_NODES)
    nodes[1]["memoryMib"] = 4096
    error = rejected(home, "nodes[1].memoryMib", nodes=json.dumps(nodes))
    assert "did you mean memoryMiB?" in str(error)


def rejected_values(home, values, **kwargs) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        validate(values, home=home, **kwargs)
    return info.value


def test_a_key_under_another_namespace_is_refused_with_the_right_one(home):
    error = rejected_values(home, raw(), foreign_keys={"kubeadm:nodeNetwork"})
    assert error.key == "kubeadm:nodeNetwork"
    assert "did you mean kubeadm-libvirt:nodeNetwork?" in str(error)
    error = rejected_values(home, raw(), foreign_keys={"libvirt:uri"})
    assert "pulumi config rm libvirt:uri" in str(error)


def test_the_program_refuses_a_key_under_another_namespace_before_any_resource():
    from conftest import run_program

    config = stack_config("dev")
    config["kubeadm:nodeNetwork"] = "10.9.0.0/24"
    with pytest.raises(SettingsError) as info:
        run_program(config)
    assert info.value.key == "kubeadm:nodeNetwork"
    assert "10.9.0.0" not in str(info.value)


def test_the_engines_own_namespace_is_not_a_typo(home):
    from conftest import run_program

    config = stack_config("dev")
    config["pulumi:tags"] = '{"team": "lab"}'
    assert run_program(config).resources


# --- secrets ------------------------------------------------------------------------------------

SECRET_CANDIDATES = {
    "registryMirrors": ["https://mirror.example?token=s3cr3t-t0ken"],
    "kubernetesRepoUrls": ["https://repo.example/k8s/?token=s3cr3t-t0ken"],
    "dockerCeRepoUrl": "https://repo.example/docker?token=s3cr3t-t0ken",
    "centosVaultBaseUrls": ["https://user:s3cr3t-t0ken@vault.example/7.9.2009"],
    "nodeNetwork": "10.77.66.55/16",
    "sshUser": "root",
    "libvirtUri": "qemu+ssh://hv/system?s3cr3t-t0ken=1",
    "nodes": [
        {"name": "k8s-master", "address": "192.168.50.21", "role": "master"},
        {"name": "k8s-node01", "address": "10.77.66.55", "role": "worker"},
    ],
    "baseImage": "https://images.example/c7.qcow2?s3cr3t-t0ken",
    "appName": "s3cr3t-t0ken",
}


@pytest.mark.parametrize("key", sorted(SECRET_CANDIDATES))
def test_a_key_set_as_a_secret_is_refused_without_any_of_its_value(home, key):
    """Only sshPrivateKey can stay secret; every other value goes to files and command lines in
    plain text, so --secret on it is refused, and the message quotes nothing of it."""
    value = SECRET_CANDIDATES[key]
    error = rejected(home, key, secret_keys={key}, **{key: value})
    text = str(error)
    assert "only sshPrivateKey can stay one" in text and "[secret]" in text
    for fragment in ("s3cr3t", "t0ken", "77.66", "10.77", "root"):
        assert fragment not in text, (fragment, text)


def test_a_secret_key_that_is_also_malformed_shows_only_the_secret_refusal(home):
    _, errors = check(raw(nodeNetwork="10.77.66.55/16"), secret_keys={"nodeNetwork"}, home=home)
    assert [e.key for e in errors] == ["nodeNetwork"]
    assert "host bits" not in str(errors[0]) and "10.77" not in str(errors[0])


# --- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["10.0.0.0/8", "172.16.0.0/12", "0.0.0.0/0", "10.0.0.0/15"])
def test_a_node_network_wider_than_a_segment_is_refused_at_once(home, network):
    started = time.monotonic()
    error = rejected(home, "nodeNetwork", nodeNetwork=network)
    assert time.monotonic() - started < 10, "the check must not grow with the network"
    assert network in str(error)


def test_a_sixteen_bit_node_network_is_the_widest_accepted(home):
    nodes = copy.deepcopy(DEV_NODES)
    for i, node in enumerate(nodes):
        node["address"] = f"10.20.0.{21 + i}"
    accepted(home, nodeNetwork="10.20.0.0/16", nodes=nodes, registryAddress="10.20.0.24")


@pytest.mark.parametrize(
    "mirror",
    ["https://mirror.example/v2", "https://mirror.example/?a=b", "https://mirror.example#x",
     "https://mirror.example/docker/"],
)  # fmt: skip
def test_a_registry_mirror_dockerd_would_refuse_is_refused(home, mirror):
    """moby@v18.06.3-ce registry/config.go ValidateMirror: no path but /, no query, no fragment;
    dockerd would not start with it."""
    error = rejected(home, "registryMirrors[0]", registryMirrors=[mirror])
    assert "dockerd" in str(error) or "?query" in str(error) or "#fragment" in str(error)


@pytest.mark.parametrize(
    "mirror", ["https://mirror.example", "https://mirror.example/", "http://10.0.0.5:5000"]
)
def test_a_registry_mirror_dockerd_takes_is_accepted(home, mirror):
    accepted(home, registryMirrors=[mirror])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dockerCeRepoUrl", "https://download.docker.com/linux/centos/7/$basearch/stable?t=1"),
        ("dockerCeGpgKey", "https://download.docker.com/linux/centos/gpg?t=1"),
        ("kubernetesRepoUrls", ["https://mirror.example/k8s/?t=1"]),
        ("centosVaultBaseUrls", ["https://vault.example/7.9.2009#x"]),
        ("baseImage", "https://images.example/c7.qcow2#x"),
    ],
)
def test_urls_take_no_query_or_fragment_their_consumer_does_not_need(home, key, value):
    rejected(home, key=None, **{key: value})


def test_a_url_past_the_length_cap_is_refused_naming_the_key(home):
    base = "https://vault.example/"
    accepted(home, centosVaultBaseUrls=[base + "v" * (MAX_URL_LENGTH - len(base))])
    error = rejected(
        home,
        "centosVaultBaseUrls[0]",
        centosVaultBaseUrls=[base + "v" * (MAX_URL_LENGTH + 1 - len(base))],
    )
    assert f"longer than {MAX_URL_LENGTH} characters" in str(error)


def test_the_base_image_may_be_a_signed_download_url(home):
    accepted(home, baseImage="https://images.example/c7.qcow2?X-Signature=abc")


# --- accounts and roles ------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["root", "nobody", "daemon", "sshd", "bin", "polkitd"])
def test_a_system_account_is_refused_as_the_vms_user(home, user):
    error = rejected(home, "sshUser", sshUser=user)
    assert "system account" in str(error)


def test_existing_machines_may_log_in_as_root(home):
    accepted(home, hostSource="existing", sshUser="root")


def test_a_cluster_of_only_a_master_is_refused_with_the_reason(home):
    error = rejected(home, "nodes[*].role", nodes=[DEV_NODES[0]])
    assert "at least one worker" in str(error) and "NoSchedule" in str(error)


# --- stacks beside dev ---------------------------------------------------------------------------


def test_dev_keeps_the_tutorials_libvirt_names(home):
    libvirt = accepted(home).libvirt
    assert (libvirt.network_name, libvirt.pool_name, libvirt.pool_path) == (
        "k8s-net",
        "kubeadm-libvirt",
        "/var/lib/libvirt/kubeadm-libvirt",
    )
    assert libvirt.domain_name("k8s-master") == "k8s-master"


def test_another_stacks_libvirt_names_carry_the_stack(home):
    libvirt = validate(raw(), home=home, stack="lab2").libvirt
    assert (libvirt.network_name, libvirt.pool_name, libvirt.pool_path) == (
        "k8s-net-lab2",
        "kubeadm-libvirt-lab2",
        "/var/lib/libvirt/kubeadm-libvirt-lab2",
    )
    assert libvirt.domain_name("k8s-master") == "lab2-k8s-master"


def test_a_stack_name_that_makes_no_libvirt_name_is_refused(home):
    error = rejected_values(home, raw(), stack="x" * 60)
    assert "shorter stack name" in str(error)
