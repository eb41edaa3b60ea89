"""The explicit Kubernetes provider every add-on uses."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane


def cluster_provider(
    name: str,
    control_plane: ControlPlane,
    ready: list[pulumi.Resource],
    server_side_apply: bool,
) -> k8s.Provider:
    """A provider for the kubeadm cluster, created once `ready` (every worker joined) is done.

    - Server-side apply as the track's API server has it (1.13 does not: alpha in 1.14).
    - delete_unreachable: `pulumi destroy` must not hang once the VMs are gone.
    - cluster_identifier is the init's id: a kubeconfig that is merely unknown during a preview
      does not replace every object, but a re-initialised cluster does.
    """
    return k8s.Provider(
        name,
        kubeconfig=control_plane.kubeconfig,
        enable_server_side_apply=server_side_apply,
        delete_unreachable=True,
        cluster_identifier=control_plane.init.id,
        opts=pulumi.ResourceOptions(depends_on=ready),
    )
