"""The private registry at registryAddress:registryPort, running on the (first) master."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import scripts
from components.hosts import Host
from components.settings import Settings

NAMESPACE = "registry"
SERVICE = "registry"
CONTAINER_PORT = 5000  # registry:2 always listens here; the Service maps registryPort onto it


class PrivateRegistry(pulumi.ComponentResource):
    """registry:2 on the first master (hostPath storage, tolerates its taint), a Service with
    externalIPs [registryAddress] on registryPort, and that address added to that master's
    interface. Every node already trusts it as an insecure registry. With more masters it stays
    on the first: while that one is down the registry is too (running pods keep running; new
    pulls from it wait).
    """

    endpoint: str
    """address:port as nodes pull from it, e.g. 192.168.50.24:5000."""
    in_cluster_endpoint: str
    """The Service's DNS name and port, for pods that push into the registry."""
    ready: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        master: Host,
        settings: Settings,
        pod_network: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:addons:PrivateRegistry", name, None, opts)
        registry = settings.registry
        self.endpoint = registry.endpoint
        labels = {"app": "registry"}
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": NAMESPACE}, opts=child
        )
        ns = namespace.metadata["name"]
        platform = settings.platform
        add, remove = platform.registry_address_scripts
        address_values = {
            "NODE_NAME": master.name,
            "REGISTRY_ADDRESS": str(registry.address),
            "INTERFACE": settings.network.interface,
            "PREFIX_LENGTH": settings.network.node_network.prefixlen,
        }
        address = master.run(
            f"{name}-address",
            self,
            create=scripts.render(
                add, **address_values, **platform.registry_address_values(settings)
            ),
            delete=scripts.render(remove, **address_values),
        )
        control_plane = platform.control_plane_label
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": "registry", "namespace": ns, "labels": labels},
            spec={
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # one pod owns the hostPath at a time
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        # The first master: it carries registryAddress and the hostPath data.
                        "nodeSelector": {"kubernetes.io/hostname": master.name},
                        "tolerations": [
                            {"key": control_plane, "operator": "Exists", "effect": "NoSchedule"}
                        ],
                        "containers": [
                            {
                                "name": "registry",
                                "image": registry.image,
                                "ports": [{"name": "registry", "containerPort": CONTAINER_PORT}],
                                "volumeMounts": [
                                    {"name": "data", "mountPath": "/var/lib/registry"}
                                ],
                                "readinessProbe": {
                                    "httpGet": {"path": "/v2/", "port": CONTAINER_PORT},
                                    "periodSeconds": 5,
                                },
                                "livenessProbe": {
                                    "httpGet": {"path": "/v2/", "port": CONTAINER_PORT},
                                    "initialDelaySeconds": 10,
                                },
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "64Mi"},
                                    "limits": {"memory": "256Mi"},
                                },
                            }
                        ],
                        "volumes": [
                            {
                                "name": "data",
                                "hostPath": {
                                    "path": registry.storage_path,
                                    "type": "DirectoryOrCreate",
                                },
                            }
                        ],
                    },
                },
            },
            # The registry pod needs the pod network (flannel) to start.
            opts=pulumi.ResourceOptions(parent=self, depends_on=pod_network),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": SERVICE, "namespace": ns, "labels": labels},
            spec={
                "selector": labels,
                "externalIPs": [str(registry.address)],
                "ports": [
                    {
                        "name": "registry",
                        "port": registry.port,
                        "targetPort": CONTAINER_PORT,
                        "protocol": "TCP",
                    }
                ],
            },
            opts=child,
        )
        self.in_cluster_endpoint = f"{SERVICE}.{NAMESPACE}.svc.cluster.local:{registry.port}"
        self.ready = [address, deployment, service]
        self.register_outputs({"endpoint": self.endpoint})
