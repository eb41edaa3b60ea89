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
        join_command = remote.Command(
            f"{name}-join-command",
            connection=master.connection,
            create=scripts.as_root(
                scripts.render(
                    "create-join-command",
                    NODE_NAME=master.name,
                    WORKER_NAME=worker.name,
                    TOKEN_TTL=settings.kubernetes.join_token_ttl,
                )
            ),
            # A new token whenever the cluster or the worker is rebuilt.
            triggers=[control_plane.init.id, preparation.command.id],
            logging=remote.Logging.NONE,
            add_previous_output_in_env=False,
            opts=master.command_options(self, additional_secret_outputs=["stdout"]),
        )
        secret_join_command = pulumi.Output.secret(join_command.stdout)
        self.join = remote.Command(
            f"{name}-join",
            connection=worker.connection,
            create=scripts.as_root(
                scripts.render(
                    "join-worker",
                    NODE_NAME=worker.name,
                    CONTROL_PLANE_ENDPOINT=control_plane.endpoint,
                    IGNORE_PREFLIGHT_ERRORS=ignore_preflight_errors(settings),
                )
            ),
            stdin=secret_join_command,
            delete=scripts.as_root(reset_script(worker.name, settings)),
            triggers=[control_plane.init.id],
            add_previous_output_in_env=False,
            opts=worker.command_options(self, delete_before_replace=True),
        )
        self.registered = remote.Command(
            f"{name}-registered",
            connection=master.connection,
            create=scripts.as_root(
                scripts.render(
                    "wait-node-registered", NODE_NAME=master.name, WORKER_NAME=worker.name
                )
            ),
            delete=scripts.as_root(
                scripts.render("remove-node", NODE_NAME=master.name, WORKER_NAME=worker.name)
            ),
            stdin=secret_join_command,
            triggers=[self.join.id],
            add_previous_output_in_env=False,
            opts=master.command_options(self, delete_before_replace=True),
        )
        self.register_outputs({"registered": self.registered.id})
