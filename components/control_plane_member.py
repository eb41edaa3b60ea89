"""A master after the first: it joins the control plane with the certificates uploaded under a
fresh key, runs an etcd member and kube-vip, and leaves it member first."""

from __future__ import annotations

import pulumi
from pulumi_command import remote

from components.control_plane import ControlPlane
from components.hosts import Host
from components.joining import join_steps
from components.node import NodePreparation
from components.settings import Settings


class ControlPlaneMember(pulumi.ComponentResource):
    """One more master of a stacked-etcd control plane behind the virtual API address.

    On the first master a token is made and the control-plane certificates are uploaded under a
    fresh key (kubeadm deletes the upload after two hours, so a master that joins later gets a
    new one); both reach the master only inside its JoinConfiguration on stdin. The join waits
    for the master before it (`after`): etcd takes one learner at a time, and kubeadm promotes it
    before the next may join; leaving, the masters go in the reverse order, one at a time, each
    etcd member removed while a majority is up. kube-vip's static Pod is placed after the join.
    """

    join: remote.Command
    registered: remote.Command

    def __init__(
        self,
        name: str,
        member: Host,
        master: Host,
        control_plane: ControlPlane,
        preparation: NodePreparation,
        settings: Settings,
        after: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:bootstrap:ControlPlaneMember", name, None, opts)
        steps = join_steps(
            self, name, member, master, control_plane, preparation, settings, after=after
        )
        self.join, self.registered = steps.join, steps.registered
        self.register_outputs({"registered": self.registered.id})
