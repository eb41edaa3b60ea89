"""flannel, the pod network, from the track's manifest (manifests/) with values from settings."""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml


def flannel_objects(
    manifest: Path, pod_network_cidr: IPv4Network, interface: str, images: dict[str, str]
) -> list[dict]:
    """The manifest's objects with net-conf Network = the pod CIDR kubeadm was given, flanneld
    bound to the node interface, and the configured images (by container name), so none of them
    can disagree."""
    objects = [doc for doc in yaml.safe_load_all(manifest.read_text()) if doc]
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            net_conf = json.loads(obj["data"]["net-conf.json"])
            net_conf["Network"] = str(pod_network_cidr)
            obj["data"]["net-conf.json"] = json.dumps(net_conf)
        elif obj["kind"] == "DaemonSet":
            pod = obj["spec"]["template"]["spec"]
            for container in pod["initContainers"] + pod["containers"]:
                container["image"] = images[container["name"]]
            flanneld = next(c for c in pod["containers"] if c["name"] == "kube-flannel")
            flanneld["args"] = [a for a in flanneld["args"] if not a.startswith("--iface")]
            flanneld["args"].append(f"--iface={interface}")
    return objects


_RESOURCE_TYPES = {
    "Namespace": k8s.core.v1.Namespace,
    "ClusterRole": k8s.rbac.v1.ClusterRole,
    "ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "DaemonSet": k8s.apps.v1.DaemonSet,
}
# Top-level manifest fields under their Python argument names.
_ARGUMENT_NAMES = {"roleRef": "role_ref"}


class Flannel(pulumi.ComponentResource):
    """RBAC, ConfigMap and DaemonSet of flannel; nodes turn Ready once it runs."""

    resources: list[pulumi.CustomResource]
    """Every flannel object, for workloads that need the pod network to wait on."""

    def __init__(
        self,
        name: str,
        manifest: Path,
        pod_network_cidr: IPv4Network,
        interface: str,
        images: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:addons:Flannel", name, None, opts)
        self.resources = []
        namespaces: list[pulumi.Resource] = []
        objects = flannel_objects(manifest, pod_network_cidr, interface, images)
        # Namespaces first: everything else may live in one.
        for obj in sorted(objects, key=lambda o: o["kind"] != "Namespace"):
            kind = obj.pop("kind")
            obj.pop("apiVersion")  # each typed resource sets its own, the manifest's
            fields = {_ARGUMENT_NAMES.get(key, key): value for key, value in obj.items()}
            resource_name = f"{name}-{kind.lower()}-{obj['metadata']['name']}"
            resource = _RESOURCE_TYPES[kind](
                resource_name,
                **fields,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(namespaces)),
            )
            if kind == "Namespace":
                namespaces.append(resource)
            self.resources.append(resource)
        self.register_outputs({})
