"""One worker joining the cluster with a bootstrap token made for it when it joins."""

from __future__ import annotations

import pulumi
from pulumi_command import remote

from components.control_plane import ControlPlane
from components.hosts import Host
from components.joining import join_configuration, join_steps, parse_join_command, token_id
from components.node import NodePreparation
from components.settings import Settings

__all__ = ["WorkerNode", "join_configuration", "parse_join_command", "token_id"]


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
        steps = join_steps(self, name, worker, master, control_plane, preparation, settings)
        self.join, self.registered = steps.join, steps.registered
        self.register_outputs({"registered": self.registered.id})
