"""One worker joining the cluster with a bootstrap token made for it when it joins."""

from __future__ import annotations

import pulumi
from pulumi_command import remote

from components import scripts
from components.control_plane import ControlPlane, ignore_preflight_errors, reset_script
from components.hosts import Host
from components.node import NodePreparation
from components.settings import Settings


class WorkerNode(pulumi.ComponentResource):
    """Creates a short-lived token on the master, joins the worker with it (passed as a secret
    on stdin), then waits on the master until the Node registered and retires the token.

    Adding a worker later gets a fresh token then; nothing stale is kept. On delete the master
    drains and deletes the Node first, then the worker is reset.
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
        join_command = master.run(
            f"{name}-join-command",
            self,
            create=scripts.render(
                "create-join-command",
                NODE_NAME=master.name,
                WORKER_NAME=worker.name,
                TOKEN_TTL=settings.kubernetes.join_token_ttl,
            ),
            options=pulumi.ResourceOptions(additional_secret_outputs=["stdout"]),
            # A new token whenever the cluster or the worker is rebuilt.
            triggers=[control_plane.init.id, preparation.command.id],
            logging=remote.Logging.NONE,
        )
        secret_join_command = pulumi.Output.secret(join_command.stdout)
        self.join = worker.run(
            f"{name}-join",
            self,
            create=scripts.render(
                "join-worker",
                NODE_NAME=worker.name,
                CONTROL_PLANE_ENDPOINT=control_plane.endpoint,
                IGNORE_PREFLIGHT_ERRORS=ignore_preflight_errors(settings),
            ),
            delete=reset_script(worker.name, settings),
            options=pulumi.ResourceOptions(delete_before_replace=True),
            stdin=secret_join_command,
            triggers=[control_plane.init.id],
        )
        on_master = {"NODE_NAME": master.name, "WORKER_NAME": worker.name}
        self.registered = master.run(
            f"{name}-registered",
            self,
            create=scripts.render("wait-node-registered", **on_master),
            delete=scripts.render("remove-node", **on_master),
            options=pulumi.ResourceOptions(delete_before_replace=True),
            stdin=secret_join_command,
            triggers=[self.join.id],
        )
        self.register_outputs({"registered": self.registered.id})
