"""The one host type every later layer takes, and the existing-machine source of hosts."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

import pulumi
from pulumi_command import remote

from components import scripts
from components.settings import NodeSpec, Role, Settings, SshSettings

# A fresh VM needs a minute or two before sshd answers: retry for up to 10 minutes.
SSH_DIAL_ATTEMPTS = 40
SSH_DIAL_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Host:
    """A machine that becomes a cluster node, reachable over SSH.

    machine is the stack resource the host lives in (a libvirt domain), or None when the host
    outlives the stack (existing machines). Commands on the host depend on it, and their delete
    step is skipped when it goes away with them (there is nothing left to clean).
    """

    name: str
    address: IPv4Address
    role: Role
    connection: remote.ConnectionArgs
    machine: pulumi.Resource | None = None

    @property
    def is_master(self) -> bool:
        return self.role is Role.MASTER

    def run(
        self,
        name: str,
        parent: pulumi.Resource,
        create: str,
        delete: str | None = None,
        options: pulumi.ResourceOptions | None = None,
        **command_args,
    ) -> remote.Command:
        """A remote command that runs rendered scripts as root on this host.

        It waits for the host's machine and skips its delete step when that machine is deleted
        with it. The previous output is never put in the environment (it may hold secrets).
        """
        own = pulumi.ResourceOptions(
            parent=parent,
            depends_on=[self.machine] if self.machine else None,
            deleted_with=self.machine,
        )
        return remote.Command(
            name,
            connection=self.connection,
            create=scripts.as_root(create),
            delete=scripts.as_root(delete) if delete else None,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(own, options),
            **command_args,
        )


def ssh_connection(address: IPv4Address, ssh: SshSettings) -> remote.ConnectionArgs:
    """SSH connection to a host; the private key stays a secret."""
    return remote.ConnectionArgs(
        host=str(address),
        user=ssh.user,
        private_key=ssh.private_key,
        dial_error_limit=SSH_DIAL_ATTEMPTS,
        per_dial_timeout=SSH_DIAL_TIMEOUT_SECONDS,
    )


def host_for(node: NodeSpec, ssh: SshSettings, machine: pulumi.Resource | None = None) -> Host:
    return Host(
        name=node.name,
        address=node.address,
        role=node.role,
        connection=ssh_connection(node.address, ssh),
        machine=machine,
    )


def existing_hosts(settings: Settings) -> list[Host]:
    """Hosts for machines that already exist: no libvirt resource at all."""
    return [host_for(node, settings.ssh) for node in settings.nodes]
