"""Where the VM disks live: a storage pool of our own and the track's base image in it."""

from __future__ import annotations

import pulumi
import pulumi_libvirt as libvirt


class ImageStore(pulumi.ComponentResource):
    """A directory pool (a fresh libvirt has no usable default pool) holding one base volume
    from the track's GenericCloud image; every node disk is a copy-on-write layer over it.
    """

    pool_name: pulumi.Output[str]
    base_volume_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        pool_name: str,
        pool_path: str,
        base_image: str,
        base_volume: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kubeadm-libvirt:vm:ImageStore", name, None, opts)
        pool = libvirt.Pool(
            f"{name}-pool",
            name=pool_name,
            type="dir",
            target=libvirt.PoolTargetArgs(path=pool_path),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        base = libvirt.Volume(
            f"{name}-base",
            name=base_volume,
            pool=pool.name,
            source=base_image,
            format="qcow2",
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.pool_name = pool.name
        self.base_volume_id = base.id
        self.register_outputs({"pool_name": self.pool_name, "base_volume_id": self.base_volume_id})
