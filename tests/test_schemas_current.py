"""The current track's objects and kubeadm files against the schemas of the Kubernetes it pins.

Kubernetes objects: kubernetes-validate 1.37.0 (schemas of 1.25 to 1.37) cannot share the test
virtualenv with 1.18.0, so `make test` installs it into <venv>/schemas-current
(requirements-schemas-current.txt) and tests/validate_schemas.py runs there, in the virtualenv's
Python with -S: only the standard library and that directory on the path.

kubeadm files: kubeadm init and join only warn about a field they do not know, and drop it;
tests/kubeadm_v1beta4.py holds the field trees of every document the program sends, read at the
upstream sources it names.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import (
    ROOT,
    require_tool,
    run_with_fake_home,
    script_of,
    script_values,
    stack_config,
)
from kubeadm_v1beta4 import (
    ANY,
    ANY_KEY,
    BOOL,
    DOCUMENTS,
    DURATION,
    INT,
    KUBEADM_V1BETA4,
    KUBELET_V1BETA1,
    NUMBER,
    STRING,
    TIME,
)

STACK = "current"
PINS = ROOT / "requirements-schemas-current.txt"
# `make test` installs the lane into the virtualenv that runs the tests (VENV in the Makefile).
SCHEMAS = Path(sys.prefix) / "schemas-current"
VALIDATOR = Path(__file__).with_name("validate_schemas.py")

# The modes whose objects differ: VMs made here, machines you have (no seed Job), swap kept
# (other kubelet and preflight settings in the kubeadm files), three masters (the virtual
# address, the masters' control-plane joins, kube-vip's Pod).
MODES = {
    "libvirt": (STACK, {}),
    "existing-hosts": (STACK, {"hostSource": "existing", "appSeedImage": ""}),
    "keep-swap": (STACK, {"keepSwap": True}),
    "three-masters": ("ha", {}),
}


@pytest.fixture(scope="module", params=list(MODES))
def current_run(request):
    stack, overrides = MODES[request.param]
    run = run_with_fake_home(stack_config(stack, **overrides), stack=stack)
    run.stack = stack  # which stack file's nodes it has
    return run


@pytest.fixture(scope="module")
def default_run():
    return run_with_fake_home(stack_config(STACK), stack=STACK)


# --- helpers --------------------------------------------------------------------------------


def k8s_objects(run) -> list:
    """Every Kubernetes object the program registers (not components like ConfigGroup)."""
    return [r for r in run.resources if r.type.startswith("kubernetes:") and r.custom]


def as_manifest(resource) -> dict:
    """The object as the API server would receive it: whole numbers back to JSON integers."""

    def ints(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: ints(v) for k, v in value.items()}
        if isinstance(value, list):
            return [ints(v) for v in value]
        return value

    return ints(resource.plain_inputs)


def init_values(run) -> dict[str, str]:
    return script_values(script_of(run.named("control-plane-init").plain_inputs["create"]))


def kubernetes_version(run) -> str:
    """The version the program gives kubeadm (settings.kubernetes.version), e.g. v1.36.4."""
    return init_values(run)["KUBERNETES_VERSION"]


def minor(version: str) -> str:
    """1.36 of v1.36.4."""
    return ".".join(version.removeprefix("v").split(".")[:2])


def pinned(package: str) -> str:
    found = re.search(rf"^{re.escape(package)}==(\S+)$", PINS.read_text(), re.M)
    assert found, f"{package} is not pinned in {PINS.name}"
    return found[1]


def validate(objects: dict[str, dict], version: str) -> dict:
    """Run the lane on name -> manifest; its report (see tests/validate_schemas.py)."""
    require_tool(
        SCHEMAS.is_dir(),
        f"the current track's schema lane is not installed ({SCHEMAS} is missing; "
        "make test installs it from requirements-schemas-current.txt)",
    )
    request = {
        "version": version,
        "objects": [{"name": n, "manifest": m} for n, m in objects.items()],
    }
    result = subprocess.run(
        [sys.executable, "-S", str(VALIDATOR)],
        input=json.dumps(request),
        env={**os.environ, "PYTHONPATH": str(SCHEMAS)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def errors_of(report: dict) -> dict[str, str]:
    return {r["name"]: r["error"] for r in report["results"] if r["error"]}


def init_documents(run) -> list[dict]:
    return [d for d in yaml.safe_load_all(init_values(run)["INIT_CONFIG"]) if d]


def join_documents(run) -> dict[str, dict]:
    """node name -> the JoinConfiguration its join command reads on stdin (every worker's, and
    every master's after the first)."""
    nodes = json.loads(stack_config(getattr(run, "stack", STACK))["kubeadm-libvirt:nodes"])
    workers = [n["name"] for n in nodes if n["role"] == "worker"]
    masters = [n["name"] for n in nodes if n["role"] == "master"][1:]
    assert workers, "the stack has no workers"
    steps = {w: f"worker-{w}-join" for w in workers}
    steps.update({m: f"control-plane-{m}-join" for m in masters})
    return {
        name: yaml.safe_load(run.named(step).plain_inputs["stdin"]) for name, step in steps.items()
    }


LEAVES = {
    STRING: lambda v: isinstance(v, str),
    BOOL: lambda v: isinstance(v, bool),
    INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
    NUMBER: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    DURATION: lambda v: isinstance(v, str),
    # YAML reads an unquoted timestamp as a datetime
    TIME: lambda v: isinstance(v, str) or hasattr(v, "isoformat"),
}


def field_problems(value, tree, path: str) -> list[str]:
    """Where value leaves the field tree: unknown keys, a list for an object or the other way
    round, a scalar of the wrong JSON type."""
    if tree == ANY:
        return []
    if isinstance(tree, list):
        if not isinstance(value, list):
            return [f"{path}: a list in the API, not {type(value).__name__}"]
        return [
            p for i, item in enumerate(value) for p in field_problems(item, tree[0], f"{path}[{i}]")
        ]
    if isinstance(tree, dict):
        if not isinstance(value, dict):
            return [f"{path}: an object in the API, not {type(value).__name__}"]
        if set(tree) == {ANY_KEY}:
            return [
                p for k, v in value.items() for p in field_problems(v, tree[ANY_KEY], f"{path}.{k}")
            ]
        problems = []
        for key, item in value.items():
            if key in tree:
                problems += field_problems(item, tree[key], f"{path}.{key}")
            else:
                problems.append(f"{path}.{key}: no such field")
        return problems
    if not LEAVES[tree](value):
        return [f"{path}: a {tree} in the API, not {type(value).__name__}"]
    return []


def document_problems(document: dict) -> list[str]:
    key = (document.get("apiVersion"), document.get("kind"))
    if key not in DOCUMENTS:
        return [f"{key}: not a document this check knows ({sorted(DOCUMENTS)})"]
    return field_problems(document, DOCUMENTS[key], key[1])


# --- Kubernetes objects ---------------------------------------------------------------------


def test_the_lane_runs_the_pinned_kubernetes_validate_from_its_own_directory_only():
    report = validate({}, "1.36.0")
    assert report["kubernetes_validate"] == pinned("kubernetes-validate") == "1.37.0"
    for module, file in report["modules"].items():
        assert Path(file).is_relative_to(SCHEMAS), f"{module} came from {file}"


def test_every_kubernetes_object_is_valid_for_the_pinned_kubernetes_strict(current_run):
    objects = {r.name: as_manifest(r) for r in k8s_objects(current_run)}
    assert len(objects) >= 12, "flannel (6), registry (3), app (3 or 4) objects expected"
    version = kubernetes_version(current_run)
    report = validate(objects, version)
    assert errors_of(report) == {}
    schemas = {r["name"]: r["schema"] for r in report["results"]}
    assert schemas == dict.fromkeys(objects, minor(version)), "not checked against the pinned minor"


def test_kube_vips_static_pods_are_valid_pods_for_the_pinned_kubernetes():
    """The files the masters get in /etc/kubernetes/manifests: the kubelet reads them as Pods."""
    run = run_with_fake_home(stack_config("ha"), stack="ha")
    values = init_values(run)
    pods = {
        "during init": yaml.safe_load(values["VIRTUAL_ADDRESS_MANIFEST_INIT"]),
        "after init": yaml.safe_load(values["VIRTUAL_ADDRESS_MANIFEST"]),
    }
    assert all(pod["kind"] == "Pod" for pod in pods.values())
    report = validate(pods, kubernetes_version(run))
    assert errors_of(report) == {}


def test_the_lane_rejects_a_misspelled_field_in_the_programs_own_deployment(default_run):
    (app,) = [r for r in k8s_objects(default_run) if r.name == "app-deployment"]
    manifest = as_manifest(app)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolcy"] = container.pop("imagePullPolicy", "IfNotPresent")
    errors = errors_of(validate({"app": manifest}, kubernetes_version(default_run)))
    assert "imagePullPolcy" in errors.get("app", ""), errors


def test_the_lane_rejects_a_field_that_only_1_37_knows(default_run):
    """HTTPGetAction.protocol is in 1.37's schema and not in 1.36's (kubernetes-validate 1.37.0,
    v1.36.0-local and v1.37.0-local _definitions.json): the lane judges by the pinned minor, not
    by the newest schema it ships."""
    (app,) = [r for r in k8s_objects(default_run) if r.name == "app-deployment"]
    manifest = as_manifest(app)
    manifest["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "protocol"
    ] = "HTTP/1.1"
    pinned_errors = errors_of(validate({"app": manifest}, kubernetes_version(default_run)))
    assert "protocol" in pinned_errors.get("app", ""), pinned_errors
    assert errors_of(validate({"app": manifest}, "1.37.0")) == {}


# --- kubeadm files --------------------------------------------------------------------------


def test_the_init_file_is_init_cluster_and_kubelet_configuration(current_run):
    kinds = [(d.get("apiVersion"), d.get("kind")) for d in init_documents(current_run)]
    assert kinds == [
        (KUBEADM_V1BETA4, "InitConfiguration"),
        (KUBEADM_V1BETA4, "ClusterConfiguration"),
        (KUBELET_V1BETA1, "KubeletConfiguration"),
    ]


def test_every_key_of_the_init_file_is_a_field_of_its_type(current_run):
    problems = [p for d in init_documents(current_run) for p in document_problems(d)]
    assert problems == []


def test_every_key_of_each_join_file_is_a_join_configuration_field(current_run):
    documents = join_documents(current_run)
    masters = [name for name, document in documents.items() if "controlPlane" in document]
    if getattr(current_run, "stack", STACK) == "ha":
        assert len(masters) == 2, "the masters' joins are checked too"
    for worker, document in documents.items():
        assert (document.get("apiVersion"), document.get("kind")) == (
            KUBEADM_V1BETA4,
            "JoinConfiguration",
        ), worker
        assert document_problems(document) == [], worker


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# Mistakes a change to components/platforms/el9.py could make, each applied to the documents the
# program really sends (init, cluster, kubelet, join), with the path the check must name.
MISTAKES = {
    "misspelled top-level key": (
        lambda d: _rename(d["init"], "localAPIEndpoint", "localApiEndpoint"),
        "InitConfiguration.localApiEndpoint",
    ),
    "misspelled nested key": (
        lambda d: _rename(d["join"]["discovery"]["bootstrapToken"], "caCertHashes", "caCertHash"),
        "JoinConfiguration.discovery.bootstrapToken.caCertHash",
    ),
    "v1beta3's map of kubelet extra args": (
        lambda d: d["init"]["nodeRegistration"].update(kubeletExtraArgs={"node-ip": "192.0.2.1"}),
        "InitConfiguration.nodeRegistration.kubeletExtraArgs",
    ),
    "a list where an object belongs": (
        lambda d: d["cluster"].update(networking=[d["cluster"]["networking"]]),
        "ClusterConfiguration.networking",
    ),
    "a port as a string": (
        lambda d: d["init"]["localAPIEndpoint"].update(bindPort="6443"),
        "InitConfiguration.localAPIEndpoint.bindPort",
    ),
    "a kubelet field in the wrong case": (
        lambda d: _rename(d["kubelet"], "cgroupDriver", "cgroupdriver"),
        "KubeletConfiguration.cgroupdriver",
    ),
    "v1beta3 instead of v1beta4": (
        lambda d: d["join"].update(apiVersion="kubeadm.k8s.io/v1beta3"),
        "'kubeadm.k8s.io/v1beta3', 'JoinConfiguration'",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_the_field_check_rejects(default_run, mistake):
    init, cluster, kubelet = copy.deepcopy(init_documents(default_run))
    join = copy.deepcopy(next(iter(join_documents(default_run).values())))
    documents = {"init": init, "cluster": cluster, "kubelet": kubelet, "join": join}
    assert [p for d in documents.values() for p in document_problems(d)] == [], "not clean before"
    mutate, path = MISTAKES[mistake]
    mutate(documents)
    problems = [p for d in documents.values() for p in document_problems(d)]
    assert len(problems) == 1 and path in problems[0], problems
