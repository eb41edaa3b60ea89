"""The private registry at registryAddress:registryPort, running on the master."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import scripts
from components.files import ini_text
from components.hosts import Host
from components.settings import Settings

NAMESPACE = "registry"
SERVICE = "registry"
CONTAINER_PORT = 5000  # registry:2 always listens here; the Service maps registryPort onto it
MASTER_ROLE_LABEL = "node-role.kubernetes.io/master"


def address_unit(settings: Settings) -> str:
    """systemd unit that puts the registry address on the master's interface at boot."""
    cidr = f"{settings.registry.address}/{settings.network.node_network.prefixlen}"
    interface = settings.network.interface
    return ini_text(
        {
            "Unit": {
                "Description": f"Registry address {cidr} on {interface} (kubeadm-libvirt)",
                "After": "network-online.target",
                "Wants": "network-online.target",
            },
            "Service": {
                "Type": "oneshot",
                "RemainAfterExit": "yes",
                "ExecStart": f"/sbin/ip address replace {cidr} dev {interface}",
                "ExecStop": f"/sbin/ip address del {cidr} dev {interface}",
            },
            "Install": {"WantedBy": "multi-user.target"},
        }
    )


class PrivateRegistry(pulumi.ComponentResource):
    """registry:2 on the master (hostPath storage, tolerates the master taint), a Service with
    externalIPs [registryAddress] on registryPort, and that address added to the master's
    interface. Every node already trusts it as an insecure registry (daemon.json).
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
        address_values = {
            "NODE_NAME": master.name,
            "REGISTRY_ADDRESS": str(registry.address),
            "INTERFACE": settings.network.interface,
        }
        address = master.run(
            f"{name}-address",
            self,
            create=scripts.render(
                "add-registry-address", UNIT_FILE=address_unit(settings), **address_values
            ),
            delete=scripts.render(
                "remove-registry-address",
                PREFIX_LENGTH=settings.network.node_network.prefixlen,
                **address_values,
            ),
        )
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
                        "nodeSelector": {MASTER_ROLE_LABEL: ""},
                        "tolerations": [
                            {"key": MASTER_ROLE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
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
