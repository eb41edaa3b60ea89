"""The last step of `pulumi up`: proof that the tutorial's end state holds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pulumi

from components import scripts
from components.hosts import Host
from components.settings import Settings

# Things that settle (pods starting, a node turning Ready) get this many tries, 5 s apart.
ATTEMPTS = 24


def checked_state(settings: Settings) -> str:
    """A digest of the whole configuration (the SSH key by its public half): any setting can
    change what the check sees, so a change to any runs it again, and only a change."""
    state = asdict(settings)
    state["ssh"] = {"user": settings.ssh.user, "public_key": settings.ssh.public_key}
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SmokeCheck(pulumi.ComponentResource):
    """Fails `pulumi up`, naming what is wrong, unless the cluster is what the tutorial ends with:

    - from every node, the private registry at registryAddress:registryPort lists the app's
      repository and tag (the address and port the nodes' Docker pulls through);
    - on the (first) master: every node Ready, every kube-system pod Running, flannel on every
      node, and the app answering 200 on its NodePort through the master's address and a
      worker's (which crosses the pod network between nodes); with more than one master, the
      API answering at the virtual address and etcd with one voting member per master.

    It runs again whenever the cluster, a node or a setting it checks changes; an unchanged
    `pulumi up` runs nothing. `make check` replaces it to run it on demand.
    """

    def __init__(
        self,
        name: str,
        hosts: list[Host],
        cluster: pulumi.Input[str],
        settings: Settings,
        after: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:check:SmokeCheck", name, None, opts)
        master = next(host for host in hosts if host.is_master)
        workers = [host for host in hosts if not host.is_master]
        highly_available = len(settings.masters) > 1
        app, registry = settings.app, settings.registry
        # The cluster, every node's machine and every checked setting.
        reasons = [cluster, checked_state(settings)] + [
            part for host in hosts for part in host.identity
        ]
        waits = pulumi.ResourceOptions(depends_on=after)
        on_nodes = [
            host.run(
                f"{name}-{host.name}-registry",
                self,
                create=scripts.render(
                    "check-registry",
                    NODE_NAME=host.name,
                    REGISTRY_ENDPOINT=registry.endpoint,
                    APP_NAME=app.name,
                    APP_TAG=app.image_tag,
                    ATTEMPTS=ATTEMPTS,
                ),
                triggers=reasons,
                options=waits,
            )
            for host in hosts
        ]
        app_addresses = [str(master.address)] + [str(w.address) for w in workers[:1]]
        master.run(
            f"{name}-cluster",
            self,
            create=scripts.render(
                "check-cluster",
                NODE_NAME=master.name,
                NODES=" ".join(host.name for host in hosts),
                FLANNEL_NAMESPACE=settings.platform.flannel.namespace,
                APP_URLS=" ".join(
                    f"http://{address}:{app.node_port}{app.probe_path}" for address in app_addresses
                ),
                # With more than one master: the API through its virtual address, and etcd with
                # one voting member per master.
                API_URL=f"https://{settings.api_endpoint}/livez" if highly_available else "",
                ETCD_MEMBERS=len(settings.masters) if highly_available else "",
                ATTEMPTS=ATTEMPTS,
            ),
            triggers=reasons,
            options=pulumi.ResourceOptions(depends_on=[*after, *on_nodes]),
        )
        self.register_outputs({})
