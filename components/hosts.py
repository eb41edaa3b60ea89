"""The one host type every later layer takes, and the existing-machine source of hosts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

import pulumi
from pulumi_command import remote

from components import scripts
from components.settings import NodeSpec, Role, Settings, SshSettings

# A fresh VM needs a minute or two before sshd answers; every remote step waits up to this long.
SSH_DIAL_BUDGET_SECONDS = 600
SSH_DIAL_TIMEOUT_SECONDS = 15

# pulumi-command dials again after every failed dial, waiting as retry.Until's defaults say:
# 100 ms first, then 1.5 times longer each time, never more than 5 s
# (pulumi/pulumi@v3.224.0:sdk/go/common/util/retry/until.go, the SDK pulumi-command v1.2.1 is
# built with). With dialErrorLimit N it dials N + 1 times, waits N times in between and then
# fails with "after N failed attempts: <the last dial's error>"
# (pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/connection.go dialWithRetry).
RETRY_FIRST_DELAY_NS = 100_000_000
RETRY_BACKOFF = 1.5
RETRY_MAX_DELAY_NS = 5_000_000_000


def dial_wait_seconds(attempts: int) -> float:
    """The time pulumi-command waits between dials before it gives up after `attempts` failed
    ones (the dials themselves come on top: instant when refused, up to the per-dial timeout
    when unanswered). Go's arithmetic: durations are whole nanoseconds, capped before use."""
    delay, total = RETRY_FIRST_DELAY_NS, 0
    for _ in range(attempts):
        delay = min(delay, RETRY_MAX_DELAY_NS)
        total += delay
        delay = int(delay * RETRY_BACKOFF)
    return total / 1e9


def dial_attempts_for(budget_seconds: float) -> int:
    """The fewest failed dials whose waits add up to budget_seconds."""
    attempts = 0
    while dial_wait_seconds(attempts) < budget_seconds:
        attempts += 1
    return attempts


SSH_DIAL_ATTEMPTS = dial_attempts_for(SSH_DIAL_BUDGET_SECONDS)


@dataclass(frozen=True)
class Host:
    """A machine that becomes a cluster node, reachable over SSH.

    identity says which machine this is: the node's name and address and, for a VM, its disk
    (what holds everything the scripts did). Every command on the host lists it in its
    triggers, so a rebuilt VM or a node that moved to another address gets every step again,
    in order, and the old machine its clean-up (pulumi-command replaces a command only when
    its triggers change; pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/command.go).

    machine is the stack resource the host runs as (a libvirt domain): commands wait for it.
    disk is what holds the host's state (the VM's disk): commands are deleted with it, so their
    clean-up is skipped when the disk goes too. A domain redefined on the same disk (new size,
    network, console) keeps every command: since pulumi/pulumi#23818 (CLI 3.260) a resource
    whose `deletedWith` target is replaced is replaced with it
    (pulumi/pulumi@5cd93859:pkg/resource/deploy/step_generator.go diff,
    calculateDependentReplacements), which must follow the disk, never the domain. Both are
    None when the host outlives the stack (existing machines).
    """

    name: str
    address: IPv4Address
    role: Role
    connection: remote.ConnectionArgs
    identity: list[pulumi.Input[str]] = field(default_factory=list)
    machine: pulumi.Resource | None = None
    disk: pulumi.Resource | None = None

    @property
    def is_master(self) -> bool:
        return self.role is Role.MASTER

    def run(
        self,
        name: str,
        parent: pulumi.Resource,
        create: str,
        delete: str | None = None,
        update: str | None = None,
        triggers: list[pulumi.Input] | None = None,
        options: pulumi.ResourceOptions | None = None,
        **command_args,
    ) -> remote.Command:
        """A remote command that runs rendered scripts as root on this host.

        It is replaced (old delete, new create) when the host's identity or any of triggers
        changes; any other change re-runs `update`, or `create` when there is no update script.
        It waits for the host's machine and is deleted with the host's disk. The previous output
        is never put in the environment (it may hold secrets).
        """
        own = pulumi.ResourceOptions(
            parent=parent,
            depends_on=[self.machine] if self.machine else None,
            deleted_with=self.disk,
        )
        return remote.Command(
            name,
            connection=self.connection,
            create=scripts.as_root(create),
            update=scripts.as_root(update) if update else None,
            delete=scripts.as_root(delete) if delete else None,
            triggers=[*self.identity, *(triggers or [])],
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(own, options),
            **command_args,
        )


def ssh_connection(
    address: IPv4Address, ssh: SshSettings, host_key: pulumi.Input[str] | None
) -> remote.ConnectionArgs:
    """SSH connection to a host; the private key stays a secret. With host_key (an OpenSSH
    public key line), the host must present exactly that key: pulumi-command then asks only for
    that key type (HostKeyAlgorithms) and checks it (ssh.FixedHostKey;
    pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/connection.go)."""
    if ssh.private_key is None:
        raise ValueError("the SSH private key is not available (an undecrypted secret)")
    return remote.ConnectionArgs(
        host=str(address),
        user=ssh.user,
        private_key=pulumi.Output.secret(ssh.private_key.get_secret_value()),
        host_key=host_key,
        dial_error_limit=SSH_DIAL_ATTEMPTS,
        per_dial_timeout=SSH_DIAL_TIMEOUT_SECONDS,
    )


def host_for(
    node: NodeSpec,
    ssh: SshSettings,
    host_key: pulumi.Input[str] | None,
    machine: pulumi.Resource | None = None,
    disk: pulumi.Resource | None = None,
) -> Host:
    return Host(
        name=node.name,
        address=node.address,
        role=node.role,
        connection=ssh_connection(node.address, ssh, host_key),
        identity=[node.name, str(node.address), *([disk.id] if disk else [])],
        machine=machine,
        disk=disk,
    )


def existing_hosts(settings: Settings, nodes: Sequence[NodeSpec] | None = None) -> list[Host]:
    """Hosts for machines that already exist (every node, or those given): no libvirt resource
    at all. A node's hostKey, when configured, is pinned in every connection to it."""
    nodes = settings.nodes if nodes is None else nodes
    unverified = [node.name for node in nodes if not node.host_key]
    if unverified:
        pulumi.log.warn(
            "SSH host keys are not verified for "
            + ", ".join(unverified)
            + ": set nodes[i].hostKey to each host's /etc/ssh/ssh_host_ed25519_key.pub"
        )
    return [host_for(node, settings.ssh, node.host_key) for node in nodes]
