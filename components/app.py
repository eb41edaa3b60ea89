"""The Spring Boot application, pulled from the private registry."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.registry import PrivateRegistry
from components.settings import AppSettings


class SpringBootApp(pulumi.ComponentResource):
    """Deployment and NodePort Service of the application. Unless appSeedImage is empty, a Job
    first copies that public image into the private registry, so a fresh cluster needs no
    manual `docker push`.
    """

    image: str
    url: str
    resources: list[pulumi.Resource]
    """The Deployment and Service, for steps that need the app rolled out."""

    def __init__(
        self,
        name: str,
        app: AppSettings,
        registry: PrivateRegistry,
        master_address: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:addons:SpringBootApp", name, None, opts)
        labels = {"app": app.name}
        self.image = f"{registry.endpoint}/{app.name}:{app.image_tag}"
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": app.name},
            opts=pulumi.ResourceOptions(parent=self),
        )
        ns = namespace.metadata["name"]
        waits_for: list[pulumi.Resource] = list(registry.ready)
        if app.seed_image:
            target = f"{registry.in_cluster_endpoint}/{app.name}:{app.image_tag}"
            seed = k8s.batch.v1.Job(
                f"{name}-seed-image",
                metadata={"name": f"{app.name}-seed-image", "namespace": ns, "labels": labels},
                spec={
                    "backoffLimit": 10,
                    "template": {
                        "metadata": {"labels": {"job": f"{app.name}-seed-image"}},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [
                                {
                                    "name": "copy",
                                    "image": app.seed_tool_image,
                                    # The registry speaks plain HTTP, as every node expects.
                                    "args": [
                                        "copy",
                                        "--dest-tls-verify=false",
                                        f"docker://{app.seed_image}",
                                        f"docker://{target}",
                                    ],
                                }
                            ],
                        },
                    },
                },
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=registry.ready, delete_before_replace=True
                ),
            )
            waits_for.append(seed)
        probe = {"httpGet": {"path": app.probe_path, "port": app.port}}
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": app.name, "namespace": ns, "labels": labels},
            spec={
                "replicas": app.replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": app.name,
                                "image": self.image,
                                "ports": [{"name": "http", "containerPort": app.port}],
                                "readinessProbe": {**probe, "initialDelaySeconds": 10},
                                "livenessProbe": {**probe, "initialDelaySeconds": 60},
                                "resources": {
                                    "requests": {
                                        "cpu": app.cpu_request,
                                        "memory": app.memory_request,
                                    },
                                    "limits": {"cpu": app.cpu_limit, "memory": app.memory_limit},
                                },
                            }
                        ]
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": app.name, "namespace": ns, "labels": labels},
            spec={
                "type": "NodePort",
                "selector": labels,
                "ports": [
                    {"name": "http", "port": 80, "targetPort": app.port, "nodePort": app.node_port}
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.resources = [deployment, service]
        self.url = f"http://{master_address}:{app.node_port}"
        self.register_outputs({"image": self.image, "url": self.url})
