"""Cluster add-ons under mocks: the Kubernetes objects `pulumi up` applies to the cluster."""

from __future__ import annotations

import json
from ipaddress import IPv4Network

import kubernetes_validate
import pytest
import yaml
from conftest import (
    is_secret_input,
    kubeadm_pod_cidr,
    run_program,
    script_of,
    script_values,
    stack_config,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from components.flannel import flannel_objects
from components.platforms import platform

K8S_PROVIDER = "pulumi:providers:kubernetes"
KUBERNETES_VERSION = "1.13.0"


def k8s_objects(run):
    """Every Kubernetes object the program registers (not components like ConfigGroup)."""
    return [r for r in run.resources if r.type.startswith("kubernetes:") and r.custom]


def as_manifest(resource) -> dict:
    """The object as the API server would receive it: numbers back to JSON integers."""

    def ints(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: ints(v) for k, v in value.items()}
        if isinstance(value, list):
            return [ints(v) for v in value]
        return value

    return ints(resource.plain_inputs)


def find(run, kind: str, name: str) -> dict:
    matches = [
        as_manifest(r)
        for r in k8s_objects(run)
        if r.plain_inputs["kind"] == kind and r.plain_inputs["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"{kind}/{name}: found {len(matches)}"
    return matches[0]


def values_of_command(run, name: str) -> dict[str, str]:
    return script_values(script_of(run.named(name).plain_inputs["create"]))


# --- schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack_overrides", [{}, {"hostSource": "existing", "appSeedImage": ""}])
def test_every_kubernetes_object_is_valid_for_1_13_strict(stack_overrides):
    run = run_program(stack_config("dev", **stack_overrides))
    objects = k8s_objects(run)
    assert len(objects) >= 11, "flannel (5), registry (3), app (4) objects expected"
    errors = []
    for resource in objects:
        try:
            kubernetes_validate.validate(as_manifest(resource), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{resource.name}: {error.message} at {list(error.path)}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{resource.name}: {error} (not served by {KUBERNETES_VERSION})")
    assert errors == []


def test_validation_would_catch_a_field_1_13_does_not_know():
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {}, "notAField": 1},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


# --- provider -------------------------------------------------------------------------------


def test_one_explicit_provider_built_from_the_secret_kubeconfig(dev_run):
    (provider,) = dev_run.of_type(K8S_PROVIDER)
    assert is_secret_input(provider.inputs["kubeconfig"])
    assert "server: https://192.168.50.21:6443" in provider.plain_inputs["kubeconfig"]
    assert provider.plain_inputs["enableServerSideApply"] == "false"
    assert provider.plain_inputs["deleteUnreachable"] == "true"
    assert provider.plain_inputs["clusterIdentifier"] == "control-plane-init-id"


def test_every_kubernetes_resource_uses_the_explicit_provider(dev_run):
    (provider,) = dev_run.of_type(K8S_PROVIDER)
    reference = f"{provider.urn}::{provider.name}-id"
    for resource in k8s_objects(dev_run):
        assert resource.provider == reference, resource.name


def test_provider_waits_until_every_worker_joined(dev_run):
    (provider,) = dev_run.of_type(K8S_PROVIDER)
    for worker in ("k8s-node01", "k8s-node02"):
        registered = dev_run.named(f"worker-{worker}-registered")
        assert dev_run.depends_on(provider, registered), worker


# --- flannel --------------------------------------------------------------------------------


def test_flannel_daemonset_binds_the_node_interface_and_uses_the_configured_image(dev_run):
    daemonset = find(dev_run, "DaemonSet", "kube-flannel-ds-amd64")
    assert daemonset["apiVersion"] == "apps/v1"
    pod = daemonset["spec"]["template"]["spec"]
    (flanneld,) = pod["containers"]
    assert "--iface=eth0" in flanneld["args"]
    assert {"--ip-masq", "--kube-subnet-mgr"} <= set(flanneld["args"])
    images = {c["image"] for c in pod["containers"] + pod["initContainers"]}
    assert images == {"quay.io/coreos/flannel:v0.11.0-amd64"}
    assert {"operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_flannel_runs_on_the_host_network(dev_run):
    """flanneld sets up the node's vxlan device and routes: without hostNetwork the pod network
    never comes up and every node stays NotReady."""
    pod = find(dev_run, "DaemonSet", "kube-flannel-ds-amd64")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True


def test_flannels_cni_config_names_a_version_kubernetes_cni_0_6_0_supports(dev_run):
    """containernetworking/cni@v0.6.0:pkg/version/version.go: All = PluginSupports("0.1.0",
    "0.2.0", "0.3.0", "0.3.1"); kubernetes-cni 0.6.0 is built from it."""
    config_map = find(dev_run, "ConfigMap", "kube-flannel-cfg")
    cni = json.loads(config_map["data"]["cni-conf.json"])
    assert cni["cniVersion"] in ("0.1.0", "0.2.0", "0.3.0", "0.3.1")
    assert [p["type"] for p in cni["plugins"]] == ["flannel", "portmap"]


def test_flannel_network_is_the_pod_cidr(dev_run):
    config_map = find(dev_run, "ConfigMap", "kube-flannel-cfg")
    net_conf = json.loads(config_map["data"]["net-conf.json"])
    assert net_conf == {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}


@pytest.mark.parametrize("cidr", ["10.244.0.0/16", "10.32.0.0/12", "172.16.0.0/16", "10.128.0.0/9"])
def test_flannel_network_and_kubeadm_pod_cidr_agree_for_any_cidr(cidr):
    run = run_program(stack_config("dev", podNetworkCidr=cidr))
    net_conf = json.loads(find(run, "ConfigMap", "kube-flannel-cfg")["data"]["net-conf.json"])
    assert net_conf["Network"] == cidr
    assert kubeadm_pod_cidr(values_of_command(run, "control-plane-init")) == cidr


@pytest.mark.parametrize("track", ["tutorial", "current"])
def test_flannel_interface_and_images_follow_settings(track):
    manifest = platform(track).flannel.manifest
    images = {
        "install-cni-plugin": "docker.io/flannel/flannel-cni-plugin:x",
        "install-cni": "docker.io/flannel/flannel:v0.11",
        "kube-flannel": "docker.io/flannel/flannel:v0.11",
    }
    objects = flannel_objects(manifest, IPv4Network("10.50.0.0/16"), "ens3", images)
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    (flanneld,) = pod["containers"]
    assert [a for a in flanneld["args"] if a.startswith("--iface")] == ["--iface=ens3"]
    for container in pod["initContainers"] + pod["containers"]:
        assert container["image"] == images[container["name"]], container["name"]


def test_flannel_rbac_grants_what_flanneld_needs(dev_run):
    role = find(dev_run, "ClusterRole", "flannel")
    assert role["apiVersion"] == "rbac.authorization.k8s.io/v1"
    grants = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert {
        ("pods", "get"),
        ("nodes", "list"),
        ("nodes", "watch"),
        ("nodes/status", "patch"),
    } <= grants
    binding = find(dev_run, "ClusterRoleBinding", "flannel")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "flannel", "namespace": "kube-system"}
    ]


@pytest.mark.parametrize(("track", "namespace"), [("tutorial", []), ("current", ["Namespace"])])
def test_flannel_manifest_file_is_plain_yaml_without_placeholders(track, namespace):
    manifest = platform(track).flannel.manifest
    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "DaemonSet",
            "ServiceAccount",
            *namespace,
        ]
    )
    assert "{" not in manifest.read_text().replace('{"', "").split("data:")[0]


# --- registry -------------------------------------------------------------------------------


def test_registry_service_has_the_external_ip_and_port(dev_run):
    service = find(dev_run, "Service", "registry")
    assert service["spec"]["externalIPs"] == ["192.168.50.24"]
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (5000, 5000)
    assert service["spec"]["selector"] == {"app": "registry"}


def test_registry_runs_on_the_master_with_hostpath_storage_and_a_v2_readiness_probe(dev_run):
    deployment = find(dev_run, "Deployment", "registry")
    pod = deployment["spec"]["template"]["spec"]
    # the first master by name: it carries registryAddress and the hostPath data (with three
    # masters a control-plane selector would let the pod move away from both)
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "k8s-master"}
    assert any(
        t["key"] == "node-role.kubernetes.io/master" and t["effect"] == "NoSchedule"
        for t in pod["tolerations"]
    )
    (container,) = pod["containers"]
    assert container["image"] == "docker.io/library/registry:2.8.3"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/"
    (volume,) = pod["volumes"]
    assert volume["hostPath"]["path"] == "/var/lib/registry"
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/registry"}]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_registry_address_is_given_to_the_master(dev_run):
    command = dev_run.named("registry-address")
    assert command.plain_inputs["connection"]["host"] == "192.168.50.21"
    values = values_of_command(dev_run, "registry-address")
    assert values["REGISTRY_ADDRESS"] == "192.168.50.24"
    assert values["INTERFACE"] == "eth0"
    assert "ExecStart=/sbin/ip address replace 192.168.50.24/24 dev eth0" in values["UNIT_FILE"]
    assert "ip address del" in command.plain_inputs["delete"]


def test_registry_service_alias_and_app_image_agree_on_one_endpoint():
    run = run_program(stack_config("dev", registryAddress="192.168.50.99", registryPort=5443))
    service = find(run, "Service", "registry")
    assert service["spec"]["externalIPs"] == ["192.168.50.99"]
    assert service["spec"]["ports"][0]["port"] == 5443
    # the registry container listens on 5000 whatever port the Service publishes
    (container,) = find(run, "Deployment", "registry")["spec"]["template"]["spec"]["containers"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["containerPort"]
    assert container["ports"][0]["containerPort"] == 5000  # registry's default http.addr :5000
    assert values_of_command(run, "registry-address")["REGISTRY_ADDRESS"] == "192.168.50.99"
    app = find(run, "Deployment", "spring-boot-demo")
    assert app["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "192.168.50.99:5443/"
    )
    daemon = json.loads(values_of_command(run, "node-k8s-node02-prepare")["DAEMON_JSON"])
    assert daemon["insecure-registries"] == ["192.168.50.99:5443"]
    assert run.outputs["registryEndpoint"] == "192.168.50.99:5443"


def test_registry_waits_for_flannel(dev_run):
    registry = dev_run.named("registry-deployment")
    daemonset = next(r for r in k8s_objects(dev_run) if r.name.endswith("kube-flannel-ds-amd64"))
    assert dev_run.depends_on(registry, daemonset)


# --- application ----------------------------------------------------------------------------


def test_app_image_comes_from_the_private_registry(dev_run):
    deployment = find(dev_run, "Deployment", "spring-boot-demo")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "192.168.50.24:5000/spring-boot-demo:1.0"
    assert dev_run.outputs["appImage"] == container["image"]


def test_app_deployment_has_probes_resources_and_replicas(dev_run):
    deployment = find(dev_run, "Deployment", "spring-boot-demo")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": 8080}, probe
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def test_app_settings_reach_the_deployment_and_service():
    run = run_program(
        stack_config(
            "dev",
            appName="shop",
            appReplicas=3,
            appPort=9090,
            appNodePort=31000,
            appProbePath="/actuator/health",
        )
    )
    deployment = find(run, "Deployment", "shop")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 3
    assert container["readinessProbe"]["httpGet"] == {"path": "/actuator/health", "port": 9090}
    service = find(run, "Service", "shop")
    assert service["spec"]["ports"][0]["nodePort"] == 31000
    assert service["spec"]["ports"][0]["targetPort"] == 9090
    assert run.outputs["appUrl"] == "http://192.168.50.21:31000"


def test_app_service_is_a_nodeport_and_the_url_is_exported(dev_run):
    service = find(dev_run, "Service", "spring-boot-demo")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30080
    assert dev_run.outputs["appUrl"] == "http://192.168.50.21:30080"
    assert dev_run.outputs["registryEndpoint"] == "192.168.50.24:5000"


def test_seed_job_copies_the_public_image_into_the_registry_before_the_rollout(dev_run):
    job = find(dev_run, "Job", "spring-boot-demo-seed-image")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "copy",
        "--dest-tls-verify=false",
        "docker://docker.io/springio/gs-spring-boot-docker:latest",
        "docker://registry.registry.svc.cluster.local:5000/spring-boot-demo:1.0",
    ]
    deployment = dev_run.named("app-deployment")
    assert dev_run.depends_on(deployment, dev_run.named("app-seed-image"))
    assert dev_run.depends_on(deployment, dev_run.named("registry-address"))


def test_no_seed_job_when_you_push_the_image_yourself():
    run = run_program(stack_config("dev", appSeedImage=""))
    assert [r for r in k8s_objects(run) if r.plain_inputs["kind"] == "Job"] == []
    assert find(run, "Deployment", "spring-boot-demo")


@st.composite
def pod_cidrs(draw) -> str:
    """Private IPv4 networks of /8 to /22 (each of the three nodes gets a /24 from it) that
    avoid the dev node and service networks and Docker's bridge."""
    prefix = draw(st.integers(min_value=8, max_value=22))
    base = draw(st.sampled_from(["10.0.0.0/8", "172.16.0.0/12"]))
    space = IPv4Network(base)
    offset = draw(st.integers(min_value=0, max_value=space.num_addresses - 1))
    network = IPv4Network(f"{space.network_address + offset}/{prefix}", strict=False)
    assume(network.subnet_of(space))
    assume(not network.overlaps(IPv4Network("10.96.0.0/12")))
    assume(not network.overlaps(IPv4Network("172.17.0.0/16")))
    return str(network)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cidr=pod_cidrs())
def test_flannel_network_equals_the_pod_cidr_for_any_valid_cidr(cidr):
    run = run_program(stack_config("dev", podNetworkCidr=cidr))
    net_conf = json.loads(find(run, "ConfigMap", "kube-flannel-cfg")["data"]["net-conf.json"])
    assert net_conf["Network"] == cidr
    assert kubeadm_pod_cidr(values_of_command(run, "control-plane-init")) == cidr


# --- the smoke check ------------------------------------------------------------------------


def test_the_smoke_check_comes_after_the_app_on_every_node_and_the_master(dev_run):
    cluster = dev_run.named("smoke-cluster")
    assert cluster.plain_inputs["connection"]["host"] == "192.168.50.21"
    for name in ("app-deployment", "app-service", "registry-address"):
        assert dev_run.depends_on(cluster, dev_run.named(name)), name
    for node, address in (("k8s-master", ".21"), ("k8s-node01", ".22"), ("k8s-node02", ".23")):
        check = dev_run.named(f"smoke-{node}-registry")
        assert check.plain_inputs["connection"]["host"] == "192.168.50" + address
        assert dev_run.depends_on(check, dev_run.named("app-deployment")), node
        assert dev_run.depends_on(cluster, check), node


def test_the_smoke_check_checks_the_app_through_the_master_and_a_worker(dev_run):
    values = values_of_command(dev_run, "smoke-cluster")
    assert values["APP_URLS"].split() == [
        "http://192.168.50.21:30080/",
        "http://192.168.50.22:30080/",
    ]
    assert values["NODES"].split() == ["k8s-master", "k8s-node01", "k8s-node02"]
    registry = values_of_command(dev_run, "smoke-k8s-node02-registry")
    assert (registry["REGISTRY_ENDPOINT"], registry["APP_NAME"], registry["APP_TAG"]) == (
        "192.168.50.24:5000",
        "spring-boot-demo",
        "1.0",
    )
