"""Joining a node to the cluster: a bootstrap token made on the first master when the node
joins, the node's kubeadm join from a JoinConfiguration on stdin, and the wait on the master until
the Node registered. Workers (components/worker.py) and masters after the first
(components/control_plane_member.py) join this way; a master also brings the control-plane
certificates, uploaded under a fresh key, and its etcd member."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components import scripts
from components.control_plane import (
    ControlPlane,
    VirtualAddressPod,
    reset_script,
    virtual_address_pod,
)
from components.hosts import Host
from components.node import NodePreparation
from components.platforms import JoinCommand
from components.settings import NodeSpec, Role, Settings

# What `kubeadm token create --print-join-command` prints: one line (newer kubeadm removes the
# template's backslash-newlines and tabs, and leaves its spaces: cmd/kubeadm/app/cmd/token.go
# RunCreateToken), for a master with `--control-plane --certificate-key <key>` after it.
_JOIN_COMMAND = re.compile(
    r"kubeadm join (?P<endpoint>\S+) --token (?P<token>[a-z0-9]{6}\.[a-z0-9]{16}) "
    r"--discovery-token-ca-cert-hash (?P<hash>sha256:[0-9a-f]{64})"
    r"( --control-plane --certificate-key (?P<key>[0-9a-f]{64}))?"
)


def parse_join_command(printed: str) -> JoinCommand | None:
    """The endpoint, token, CA hash (and certificate key) of a printed join command, or None."""
    words = " ".join(printed.replace("\\\n", " ").split())
    parsed = _JOIN_COMMAND.fullmatch(words)
    if parsed is None:
        return None
    return JoinCommand(parsed["endpoint"], parsed["token"], parsed["hash"], parsed["key"] or "")


def join_configuration(printed: str, node: NodeSpec, endpoint: str, settings: Settings) -> str:
    """The track's JoinConfiguration for a printed join command (a master's when it carries a
    certificate key)."""
    join = parse_join_command(printed)
    if join is None:  # never echo it: it holds a token
        raise ValueError("kubeadm token create did not print a join command")
    if node.role is Role.MASTER and not join.certificate_key:
        raise ValueError("the join command for a master carries no certificate key")
    return settings.platform.join_configuration(join, node, endpoint, settings)


def token_id(printed: str) -> str:
    join = parse_join_command(printed)
    return join.token_id if join else ""


@dataclass(frozen=True)
class JoinSteps:
    join_command: remote.Command
    join: remote.Command
    registered: remote.Command


def join_steps(
    parent: pulumi.ComponentResource,
    name: str,
    node: Host,
    master: Host,
    control_plane: ControlPlane,
    preparation: NodePreparation,
    settings: Settings,
    after: list[pulumi.Resource] | None = None,
) -> JoinSteps:
    """The three remote steps of one node's join, children of parent, named <name>-...

    The token and the join are replaced together (same cluster, same machine), so a join only
    ever runs with a token made for it. On delete the master drains the node (and removes a
    master's etcd member) and deletes the Node first, then the node is reset. `after`: what the
    token must wait for (the master before this one: masters join one at a time).
    """
    spec = next(n for n in settings.nodes if n.name == node.name)
    as_master = spec.role is Role.MASTER
    pod = virtual_address_pod(settings) if as_master else VirtualAddressPod()
    this_join = [control_plane.init.id, *node.identity]
    join_command = master.run(
        f"{name}-join-command",
        parent,
        create=scripts.render(
            "create-join-command",
            NODE_NAME=master.name,
            WORKER_NAME=node.name,
            TOKEN_TTL=settings.kubernetes.token_ttl,
            CONTROL_PLANE="true" if as_master else "false",
        ),
        triggers=this_join,
        options=pulumi.ResourceOptions(additional_secret_outputs=["stdout"], depends_on=after),
        logging=remote.Logging.NONE,
    )
    printed = pulumi.Output.secret(join_command.stdout)
    join = node.run(
        f"{name}-join",
        parent,
        create=scripts.render(
            "join-node",
            NODE_NAME=node.name,
            CONTROL_PLANE_ENDPOINT=control_plane.endpoint,
            JOIN_FLAGS="\n".join(settings.platform.join_flags(settings)),
            VIRTUAL_ADDRESS_POD=pod.path,
            VIRTUAL_ADDRESS_MANIFEST=pod.manifest,
        ),
        update=scripts.render(
            "check-joined",
            NODE_NAME=node.name,
            VIRTUAL_ADDRESS_POD=pod.path,
            VIRTUAL_ADDRESS_MANIFEST=pod.manifest,
        ),
        delete=reset_script(node.name, settings, master=as_master),
        stdin=printed.apply(
            lambda text: join_configuration(text, spec, control_plane.endpoint, settings)
        ),
        triggers=[control_plane.init.id, preparation.command.id],
        options=pulumi.ResourceOptions(delete_before_replace=True),
    )
    on_master = {
        "NODE_NAME": master.name,
        "WORKER_NAME": node.name,
        "ETCD_MEMBER": node.name if as_master else "",
    }
    registered = master.run(
        f"{name}-registered",
        parent,
        create=scripts.render("wait-node-registered", **on_master),
        delete=scripts.render(
            "remove-node", DRAIN_FLAGS=" ".join(settings.platform.drain_flags), **on_master
        ),
        stdin=printed.apply(token_id),
        triggers=[join.id],
        options=pulumi.ResourceOptions(delete_before_replace=True),
    )
    return JoinSteps(join_command, join, registered)
