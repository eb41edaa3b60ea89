"""One worker joining the cluster with a bootstrap token made for it when it joins."""

from __future__ import annotations

import re

import pulumi
from pulumi_command import remote

from components import scripts
from components.control_plane import ControlPlane, reset_script
from components.hosts import Host
from components.node import NodePreparation
from components.platforms import JoinCommand
from components.settings import NodeSpec, Settings

# What `kubeadm token create --print-join-command` prints: one line in 1.13, and from later
# releases the same words broken over lines with a backslash before each break
# (cmd/kubeadm/app/cmd/util/join.go's template).
_JOIN_COMMAND = re.compile(
    r"kubeadm join (?P<endpoint>\S+) --token (?P<token>[a-z0-9]{6}\.[a-z0-9]{16}) "
    r"--discovery-token-ca-cert-hash (?P<hash>sha256:[0-9a-f]{64})"
)


def parse_join_command(printed: str) -> JoinCommand | None:
    """The endpoint, token and CA hash of a printed join command, or None."""
    words = " ".join(printed.replace("\\\n", " ").split())
    parsed = _JOIN_COMMAND.fullmatch(words)
    if parsed is None:
        return None
    return JoinCommand(parsed["endpoint"], parsed["token"], parsed["hash"])


def join_configuration(printed: str, node: NodeSpec, endpoint: str, settings: Settings) -> str:
    """The track's JoinConfiguration for a printed join command."""
    join = parse_join_command(printed)
    if join is None:  # never echo it: it holds a token
        raise ValueError("kubeadm token create did not print a join command")
    return settings.platform.join_configuration(join, node, endpoint, settings)


def token_id(printed: str) -> str:
    join = parse_join_command(printed)
    return join.token_id if join else ""


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
        spec = next(node for node in settings.nodes if node.name == worker.name)
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
                JOIN_FLAGS="\n".join(settings.platform.join_flags(settings)),
            ),
            update=scripts.render("check-joined", NODE_NAME=worker.name),
            delete=reset_script(worker.name, settings),
            stdin=printed.apply(
                lambda text: join_configuration(text, spec, control_plane.endpoint, settings)
            ),
            triggers=[control_plane.init.id, preparation.command.id],
            options=pulumi.ResourceOptions(delete_before_replace=True),
        )
        on_master = {"NODE_NAME": master.name, "WORKER_NAME": worker.name}
        self.registered = master.run(
            f"{name}-registered",
            self,
            create=scripts.render("wait-node-registered", **on_master),
            delete=scripts.render(
                "remove-node",
                DRAIN_FLAGS=" ".join(settings.platform.drain_flags),
                **on_master,
            ),
            stdin=printed.apply(token_id),
            triggers=[self.join.id],
            options=pulumi.ResourceOptions(delete_before_replace=True),
        )
        self.register_outputs({"registered": self.registered.id})
