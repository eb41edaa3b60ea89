"""One worker joining the cluster with a bootstrap token made for it when it joins."""

from __future__ import annotations

import re

import pulumi
import yaml
from pulumi_command import remote

from components import scripts
from components.control_plane import ControlPlane, ignore_preflight_errors, reset_script
from components.hosts import Host
from components.node import NodePreparation
from components.settings import Settings

# What `kubeadm token create --print-join-command` prints (kubeadm 1.13).
_JOIN_COMMAND = re.compile(
    r"kubeadm join (?P<endpoint>\S+) --token (?P<token>[a-z0-9]{6}\.[a-z0-9]{16}) "
    r"--discovery-token-ca-cert-hash (?P<hash>sha256:[0-9a-f]{64})\s*"
)


def join_configuration(join_command: str, node_name: str, endpoint: str) -> str:
    """The kubeadm.k8s.io/v1beta1 JoinConfiguration for a printed join command: token
    discovery pinned to the CA hash, and this node's name (kubernetes/kubernetes@v1.13.1:
    cmd/kubeadm/app/apis/kubeadm/v1beta1/types.go JoinConfiguration)."""
    parsed = _JOIN_COMMAND.fullmatch(join_command)
    if parsed is None:  # never echo it: it holds a token
        raise ValueError("kubeadm token create did not print a join command")
    document = {
        "apiVersion": "kubeadm.k8s.io/v1beta1",
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": endpoint,
                "token": parsed["token"],
                "caCertHashes": [parsed["hash"]],
            }
        },
        "nodeRegistration": {"name": node_name},
    }
    return yaml.safe_dump(document, sort_keys=False)


def token_id(join_command: str) -> str:
    parsed = _JOIN_COMMAND.fullmatch(join_command)
    return parsed["token"].split(".")[0] if parsed else ""


class WorkerNode(pulumi.ComponentResource):
    """Creates a short-lived token on the master, joins the worker with it (a JoinConfiguration
    passed as a secret on stdin, never on a command line), then waits on the master until the
    Node registered and retires the token.

    The token and the join are replaced together (same cluster, same worker machine), so a join
    only ever runs with a token made for it. On delete the master drains and deletes the Node
    first, then the worker is reset.
    """

    join: remote.Command
    registered: remote.Command

    def __init__(
        self,
        name: str,
        worker: Host,
        master: Host,
        control_plane: ControlPlane,
        preparation: NodePreparation,
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:bootstrap:WorkerNode", name, None, opts)
        this_join = [control_plane.init.id, *worker.identity]
        join_command = master.run(
            f"{name}-join-command",
            self,
            create=scripts.render(
                "create-join-command",
                NODE_NAME=master.name,
                WORKER_NAME=worker.name,
                TOKEN_TTL=settings.kubernetes.token_ttl,
            ),
            triggers=this_join,
            options=pulumi.ResourceOptions(additional_secret_outputs=["stdout"]),
            logging=remote.Logging.NONE,
        )
        printed = pulumi.Output.secret(join_command.stdout)
        self.join = worker.run(
            f"{name}-join",
            self,
            create=scripts.render(
                "join-worker",
                NODE_NAME=worker.name,
                CONTROL_PLANE_ENDPOINT=control_plane.endpoint,
                IGNORE_PREFLIGHT_ERRORS=ignore_preflight_errors(settings),
            ),
            update=scripts.render("check-joined", NODE_NAME=worker.name),
            delete=reset_script(worker.name, settings),
            stdin=printed.apply(
                lambda text: join_configuration(text, worker.name, control_plane.endpoint)
            ),
            triggers=[control_plane.init.id, preparation.command.id],
            options=pulumi.ResourceOptions(delete_before_replace=True),
        )
        on_master = {"NODE_NAME": master.name, "WORKER_NAME": worker.name}
        self.registered = master.run(
            f"{name}-registered",
            self,
            create=scripts.render("wait-node-registered", **on_master),
            delete=scripts.render("remove-node", **on_master),
            stdin=printed.apply(token_id),
            triggers=[self.join.id],
            options=pulumi.ResourceOptions(delete_before_replace=True),
        )
        self.register_outputs({"registered": self.registered.id})
