"""What `pulumi up` would do to go from one configuration to another: a plan simulator.

Both configurations are evaluated under mocks. The resources of the two are then compared with
the rules the engine and the providers apply, each encoded from its source:

- the engine (pulumi/pulumi, pkg/resource/deploy/step_generator.go and step.go), in two
  versions, since the rules changed between the releases the doctor accepts (ENGINES):
  * both: a new URN is created, a missing one deleted; a resource handed to another provider
    is replaced only when that provider's DiffConfig asks for it (providerChanged); a replaced
    resource gets a new ID, so
    every input that uses it changes (modelled as unknown, as the engine's preview does);
    `replace_on_changes` turns a reported change of those properties into a replacement
    (applyReplaceOnChanges); a resource whose provider is replaced is replaced. A resource
    replaced delete-before-replace first deletes every resource that would be replaced because
    of it (calculateDependentReplacements): those are "condemned" and marked deleted at once.
    A resource's delete is skipped when its `deleted_with` target is marked deleted by the time
    the delete runs (step.go isDeletedWith): condemned resources are marked when their root is
    replaced; resources removed from the program, and the old copies of resources replaced
    create-before-delete, are marked in the last batch of deletes (GenerateDeletes), so only
    deletes of that batch see them.
  * from pulumi/pulumi#23818 (commit 5cd93859, first in CLI 3.260): a resource whose
    `deleted_with` target is replaced is replaced too (diff, calculateDependentReplacements,
    findDependentCascadeReplacements), and a resource replaced delete-before-replace is marked
    deleted itself, so the deletes of resources `deleted_with` it are skipped.
  Read at v3.259.0 and at master 1b5949891b (2026-08-21, `sdk/.version` 3.260.0), the newest
  source reachable here; nothing later was read, so the doctor accepts no CLI past 3.260.
- pulumi-command (pulumi/pulumi-command@v1.2.1, provider/pkg/provider/remote/command.go,
  commandController.go): only `triggers` replace a command; any other input change is an
  update, which runs `update`, or `create` when there is none; a delete runs the stored
  `delete` over the stored connection.
- terraform-provider-libvirt v0.8.1 (libvirt/resource_libvirt_*.go schemas) through
  terraform-plugin-sdk v2.34.0 (helper/schema/schema.go diffList, finalizeDiff): see TF_SCHEMAS.
- pulumi-kubernetes (pulumi/pulumi-kubernetes@v4.25.0, provider/pkg/provider/diff.go
  forceNewProperties, provider.go DiffConfig): metadata.name/namespace and per-kind fields
  replace an object; the provider is replaced when its clusterIdentifier changes, and then
  every object with it.
- pulumi-tls (terraform-provider-tls resource_private_key.go): every input of a key is
  RequiresReplace.
- bridged providers (pulumi/pulumi-terraform-bridge@v3.99.0:pkg/tfbridge/provider.go
  DiffConfig): a config change is an update unless ForcesProviderReplace, which pulumi-libvirt
  sets on nothing.

The provider plugins are pinned (each SDK package installs exactly its plugin version), so their
rules are read at those tags; the engine is whatever CLI the user installed, so every engine in
the accepted range is modelled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conftest import ProgramRun, Registered, run_program, script_of

SAME, UPDATE, REPLACE, CREATE, DELETE = "same", "update", "replace", "create", "delete"
COMMAND = "command:remote:Command"
DOMAIN = "libvirt:index/domain:Domain"
VOLUME = "libvirt:index/volume:Volume"
NETWORK = "libvirt:index/network:Network"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


# --- the engines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """The Pulumi engine's replace and delete rules of a range of CLI releases."""

    name: str
    versions: tuple[tuple[int, int], tuple[int, int]]
    """The first and the last CLI minor (3, N) with these rules, as read in the source."""
    deleted_with_cascades: bool
    """pulumi/pulumi#23818: a `deleted_with` target's replacement replaces the resource, and a
    delete-before-replace target marks itself deleted."""

    def __str__(self) -> str:
        return self.name


LEGACY_ENGINE = Engine("CLI 3.202-3.259", ((3, 202), (3, 259)), deleted_with_cascades=False)
CASCADE_ENGINE = Engine("CLI 3.260", ((3, 260), (3, 260)), deleted_with_cascades=True)
ENGINES = (LEGACY_ENGINE, CASCADE_ENGINE)
# The newest CLI whose engine was read (pulumi/pulumi@1b5949891b is on the way to 3.260.0).
NEWEST_MODELLED_CLI = max(engine.versions[1] for engine in ENGINES)


# --- provider rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attr:
    """One attribute of a terraform schema, under its Pulumi name. A block (`fields` set) is a
    list of objects, or one object where the schema says MaxItems 1."""

    force_new: bool = False
    computed: bool = False
    fields: Mapping[str, Attr] | None = None


FN, UP = Attr(force_new=True), Attr()


def block(force_new: bool = False, computed: bool = False, **fields: Attr) -> Attr:
    return Attr(force_new, computed, fields)


EVERYTHING = None  # a resource with no Update: every change replaces it

# terraform-provider-libvirt@v0.8.1 schemas, as far as ForceNew and Computed go
# (libvirt/resource_libvirt_domain.go, _network.go, _volume.go, _cloud_init.go, _pool.go).
TF_SCHEMAS: dict[str, Mapping[str, Attr] | None] = {
    DOMAIN: {
        "name": FN,
        "description": FN,
        "metadata": UP,
        "vcpu": FN,
        "memory": FN,
        "firmware": FN,
        "type": FN,
        "nvram": block(True, True, file=FN, template=FN),
        "running": UP,
        "cloudinit": UP,
        "coreosIgnition": FN,
        "fwCfgName": FN,
        "filesystems": block(True, accessmode=UP, source=UP, target=UP, readonly=UP),
        "disks": block(True, volumeId=UP, url=UP, file=UP, scsi=FN, wwn=UP, blockDevice=UP),
        "networkInterfaces": block(
            networkId=UP,
            networkName=UP,
            bridge=UP,
            vepa=UP,
            macvtap=UP,
            passthrough=UP,
            hostname=UP,
            mac=UP,
            waitForLease=UP,
            addresses=UP,
        ),
        "graphics": block(
            True, type=FN, autoport=FN, listenType=FN, listenAddress=FN, websocket=UP
        ),
        "video": block(type=UP),
        "consoles": block(
            type=FN, sourcePath=FN, sourceHost=FN, sourceService=FN, targetPort=FN, targetType=FN
        ),
        "cpu": block(True, True, mode=UP),
        "autostart": UP,
        "machine": UP,
        "arch": UP,
        "bootDevices": block(dev=UP),
        "emulator": UP,
        "kernel": UP,
        "initrd": UP,
        "cmdlines": FN,
        "qemuAgent": UP,
        "tpm": block(
            model=FN,
            backendType=FN,
            backendDevicePath=FN,
            backendEncryptionSecret=FN,
            backendVersion=FN,
            backendPersistentState=FN,
        ),
        "xml": block(xslt=FN),
    },
    NETWORK: {
        "name": FN,
        "domain": FN,
        "mode": FN,
        "bridge": Attr(force_new=True, computed=True),
        "mtu": UP,
        "addresses": FN,
        "autostart": UP,
        "dns": block(
            False,
            True,
            enabled=UP,
            localOnly=UP,
            forwarders=block(True, address=FN, domain=FN),
            srvs=block(
                True,
                service=FN,
                protocol=FN,
                domain=FN,
                target=FN,
                port=FN,
                weight=FN,
                priority=FN,
            ),
            hosts=block(ip=UP, hostname=UP),
        ),
        "dhcp": block(True, True, enabled=UP),
        "routes": block(True, cidr=UP, gateway=UP),
        "dnsmasqOptions": block(options=block(optionName=UP, optionValue=UP)),
        "xml": block(True, xslt=FN),
    },
    VOLUME: EVERYTHING,
    "libvirt:index/cloudInitDisk:CloudInitDisk": EVERYTHING,
    "libvirt:index/pool:Pool": EVERYTHING,
}


def tf_requires_new(schema: Mapping[str, Attr], before: Mapping, after: Mapping) -> bool:
    """Whether terraform-plugin-sdk@v2.34.0 plans a replacement for this change
    (helper/schema/schema.go): a ForceNew attribute that differs forces it, a removed value
    included (finalizeDiff sets RequiresNew on Old != New before it looks at NewRemoved);
    a block's count forces it only when the block is ForceNew, and a Computed block that is
    no longer set is no change at all (diffList); a block's fields count one by one; a list of
    plain values takes the list's ForceNew for its elements."""
    for name, attr in schema.items():
        old, new = before.get(name), after.get(name)
        if attr.fields is None:
            if attr.force_new and _canonical(old) != _canonical(new):
                return True
            continue
        if new == UNKNOWN:
            # A block that is unknown as a whole: its count is computed (diffList computedList).
            if attr.force_new:
                return True
            continue
        olds, news = _elements(old), _elements(new)
        if olds and not news and attr.computed:
            continue
        if olds == news:
            continue
        if attr.force_new and len(olds) != len(news):
            return True
        for i in range(max(len(olds), len(news))):
            old_element = olds[i] if i < len(olds) else {}
            new_element = news[i] if i < len(news) else {}
            if tf_requires_new(attr.fields, old_element, new_element):
                return True
    return False


def _elements(value: Any) -> list:
    if value in (None, [], {}):
        return []
    return value if isinstance(value, list) else [value]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# pulumi-kubernetes@v4.25.0 provider/pkg/provider/diff.go forceNew, besides metadata.name and
# metadata.namespace for every kind.
KUBERNETES_FORCE_NEW = {
    "DaemonSet": ("spec.selector",),
    "Deployment": ("spec.selector",),
    "StatefulSet": (
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "Service": ("spec.clusterIP",),
    "Secret": ("type",),
    "ClusterRoleBinding": ("roleRef",),
    "RoleBinding": ("roleRef",),
}
# A Secret's or ConfigMap's content replaces it unless the provider mutates it in place
# (enableSecretMutable / enableConfigMapMutable) and the object is not immutable.
KUBERNETES_CONTENT = {
    "Secret": ("enableSecretMutable", ("type", "stringData", "data")),
    "ConfigMap": ("enableConfigMapMutable", ("binaryData", "data")),
}


def kubernetes_force_new(kind: str, obj: Mapping, provider: Mapping) -> tuple[str, ...]:
    """forceNewProperties: a Secret or ConfigMap whose content cannot change in place replaces
    on it; otherwise the kind's own fields (which for a Secret still include its type)."""
    paths: tuple[str, ...] = ("metadata.name", "metadata.namespace")
    if kind in KUBERNETES_CONTENT:
        option, content = KUBERNETES_CONTENT[kind]
        mutable = str(provider.get(option, "false")).lower() == "true"
        if not (mutable and not obj.get("immutable")):
            return paths + content
    return paths + KUBERNETES_FORCE_NEW.get(kind, ())


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A host script `pulumi up` runs: which command, which phase, which script, where."""

    command: str
    phase: str
    script: str
    host: str


@dataclass
class Plan:
    old: ProgramRun
    new: ProgramRun
    engine: Engine
    steps: dict[str, str] = field(default_factory=dict)
    """urn -> same | update | replace | create | delete (custom resources only)."""
    condemned: set[str] = field(default_factory=set)
    """Resources deleted early because a delete-before-replace resource they need is replaced."""
    runs: list[Run] = field(default_factory=list)

    def kind(self, name: str) -> str:
        found = [k for urn, k in self.steps.items() if urn.rsplit("::", 1)[1] == name]
        assert len(found) == 1, f"{name}: {len(found)} resources"
        return found[0]

    def named(self, kind: str) -> set[str]:
        return {urn.rsplit("::", 1)[1] for urn, k in self.steps.items() if k == kind}

    def changed(self) -> dict[str, str]:
        return {urn.rsplit("::", 1)[1]: k for urn, k in self.steps.items() if k != SAME}

    def resource(self, urn: str) -> Registered:
        for run in (self.new, self.old):
            for resource in run.resources:
                if resource.urn == urn:
                    return resource
        raise KeyError(urn)


def simulate(
    old_config: dict[str, str],
    new_config: dict[str, str],
    old: ProgramRun | None = None,
    engine: Engine = CASCADE_ENGINE,
    new: ProgramRun | None = None,
) -> Plan:
    """The plan of `pulumi up` with new_config on a stack deployed with old_config, on a CLI with
    `engine`'s rules (old, new: the configurations' evaluations, when the caller has them)."""
    plan = Plan(old or run_program(old_config), new or run_program(new_config), engine)
    _decide(plan)
    _runs(plan)
    return plan


def _custom(run: ProgramRun) -> dict[str, Registered]:
    return {r.urn: r for r in run.resources if r.custom}


def _decide(plan: Plan) -> None:
    """Each resource's step. A replaced resource comes back with a new ID, so every input that
    depends on it is unknown and the dependent is diffed again; a replaced provider replaces
    what it manages; with #23818, a replaced target replaces what is deleted with it. What a
    delete-before-replace resource takes with it is condemned."""
    old, new = _custom(plan.old), _custom(plan.new)
    cascades = plan.engine.deleted_with_cascades
    changed = {
        urn: _changed(old[urn].plain_inputs, r.plain_inputs) for urn, r in new.items() if urn in old
    }
    unknown: dict[str, dict[str, set[str]]] = {urn: {} for urn in changed}
    dependents: dict[str, list[tuple[str, str]]] = {}
    for urn, resource in new.items():
        for key, urns in resource.property_dependencies.items():
            for dependency in urns:
                dependents.setdefault(dependency, []).append((urn, key))
        if resource.provider:
            dependents.setdefault(_provider_urn(resource.provider), []).append((urn, PROVIDER))
        if cascades and resource.deleted_with:
            dependents.setdefault(resource.deleted_with, []).append((urn, DELETED_WITH))
    for urn in new:
        if urn not in old:
            plan.steps[urn] = CREATE
        elif _provider_changed(plan, old[urn], new[urn]):
            plan.steps[urn] = REPLACE
        else:
            plan.steps[urn] = _diff(plan, urn, changed[urn], {})
    for urn in old:
        if urn not in new:
            plan.steps[urn] = DELETE
    todo = [urn for urn, kind in plan.steps.items() if kind == REPLACE]
    while todo:
        replaced = todo.pop()
        condemns = replaced in plan.condemned or new[replaced].delete_before_replace
        for urn, key in dependents.get(replaced, []):
            if urn not in old:
                continue
            if key == PROVIDER:
                caused = _replaces_what_it_manages(new[replaced])
            elif key == DELETED_WITH:
                caused = True
            else:
                unknown[urn].setdefault(key, set()).add(replaced)
                caused = _diff(plan, urn, set(), unknown[urn]) == REPLACE
            grows = False
            if plan.steps[urn] in (SAME, UPDATE):
                if key in (PROVIDER, DELETED_WITH):
                    step = REPLACE if caused else plan.steps[urn]
                else:
                    step = _diff(plan, urn, changed[urn], unknown[urn])
                grows = step == REPLACE
                plan.steps[urn] = step
            if condemns and caused and urn not in plan.condemned:
                plan.condemned.add(urn)
                grows = True
            if grows:
                todo.append(urn)


PROVIDER, DELETED_WITH = "<provider>", "<deletedWith>"


def _replaces_what_it_manages(provider: Registered) -> bool:
    """A replaced provider replaces its resources when its own DiffConfig asked for the
    replacement (pulumi-kubernetes on a new clusterIdentifier: providerChanged), or when it is
    replaced delete-before-replace (calculateDependentReplacements replaces every resource whose
    provider is in the replace set)."""
    if not provider.type.startswith("pulumi:providers:"):
        return False
    return provider.delete_before_replace or provider.type == KUBERNETES_PROVIDER


def _provider_changed(plan: Plan, old: Registered, new: Registered) -> bool:
    """A resource that moved to another provider (a different provider URN) is replaced only
    when the new provider's DiffConfig, given the old provider's inputs, asks for a replacement
    (step_generator.go providerChanged, v3.259.0 and 1b5949891b): pulumi-kubernetes for a new
    clusterIdentifier; a bridged provider such as libvirt never (no ForcesProviderReplace). So a
    VM handed to another hypervisor's provider under the same name is kept, not made there."""
    before, after = _provider_urn(old.provider), _provider_urn(new.provider)
    if before == after:
        return False
    if not before or not after:
        return True
    provider = plan.resource(after)
    previous = _custom(plan.old).get(before)
    if previous is None:
        return False
    changed = _changed(previous.plain_inputs, provider.plain_inputs)
    return provider.type == KUBERNETES_PROVIDER and "clusterIdentifier" in changed


def _provider_urn(reference: str) -> str:
    return reference.rsplit("::", 1)[0] if reference else ""


def _changed(old: dict, new: dict) -> set[str]:
    keys = set(old) | set(new)
    return {k for k in keys if _canonical(old.get(k)) != _canonical(new.get(k))}


UNKNOWN = "<unknown>"


def _with_unknowns(plan: Plan, inputs: dict, unknown: Mapping[str, set[str]]) -> dict:
    """inputs as the provider sees them while what they use is being replaced: each value that
    carries a replaced resource's ID (the mocks' `<name>-id`) is unknown; a key that depends on
    a replaced resource through another output is unknown as a whole."""
    result = dict(inputs)
    for key, sources in unknown.items():
        ids = [f"{plan.resource(urn).name}-id" for urn in sources]
        value, found = _blank(inputs.get(key), ids)
        result[key] = value if found else UNKNOWN
    return result


def _blank(value: Any, ids: list[str]) -> tuple[Any, bool]:
    if isinstance(value, str):
        return (UNKNOWN, True) if any(i in value for i in ids) else (value, False)
    if isinstance(value, list):
        items = [_blank(v, ids) for v in value]
        return [v for v, _ in items], any(f for _, f in items)
    if isinstance(value, dict):
        items = {k: _blank(v, ids) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(f for _, f in items.values())
    return value, False


def _diff(plan: Plan, urn: str, changed: set[str], unknown: Mapping[str, set[str]]) -> str:
    keys = changed | set(unknown)
    if not keys:
        return SAME
    new = plan.resource(urn)
    if any(path.split("[")[0].split(".")[0] in keys for path in new.replace_on_changes):
        return REPLACE
    before = _custom(plan.old)[urn].plain_inputs
    after = _with_unknowns(plan, new.plain_inputs, unknown)
    return UPDATE if _updatable(plan, new, keys, before, after) else REPLACE


def _updatable(plan: Plan, new: Registered, changed: set[str], before: dict, after: dict) -> bool:
    type_ = new.type
    if type_ == COMMAND:
        return "triggers" not in changed
    if type_ == KUBERNETES_PROVIDER:
        return "clusterIdentifier" not in changed
    if type_.startswith("pulumi:providers:"):
        return True
    if type_.startswith("tls:"):
        return False
    if type_ in TF_SCHEMAS:
        schema = TF_SCHEMAS[type_]
        return schema is not EVERYTHING and not tf_requires_new(schema, before, after)
    if type_.startswith("kubernetes:"):
        provider = _provider_inputs(plan, new)
        paths = kubernetes_force_new(new.plain_inputs.get("kind", ""), new.plain_inputs, provider)
        return all(_at(before, p) == _at(after, p) for p in paths)
    raise AssertionError(f"no diff rule for {type_}")


def _provider_inputs(plan: Plan, resource: Registered) -> dict:
    try:
        return plan.resource(_provider_urn(resource.provider)).plain_inputs
    except KeyError:
        return {}


def _at(document: Any, path: str) -> str:
    for part in path.split("."):
        if document == UNKNOWN:
            return UNKNOWN
        document = document.get(part) if isinstance(document, dict) else None
    return _canonical(document)


# --- scripts ---------------------------------------------------------------------------------

_SCRIPT_NAME = re.compile(r"^# kubeadm-libvirt (\S+)\.sh$", re.MULTILINE)


def script_name(command_line: str) -> str:
    return _SCRIPT_NAME.search(script_of(command_line))[1]


def _late(plan: Plan, urn: str) -> bool:
    """Whether urn's delete runs in the last batch (GenerateDeletes): a removed resource, or the
    old copy of one replaced create-before-delete."""
    kind = plan.steps.get(urn)
    if kind == DELETE:
        return True
    return (
        kind == REPLACE
        and not plan.resource(urn).delete_before_replace
        and urn not in plan.condemned
    )


def delete_skipped(plan: Plan, urn: str) -> bool:
    """Whether the engine skips urn's delete because its `deleted_with` target is marked deleted
    when the delete runs (step.go isDeletedWith)."""
    target = _custom(plan.old)[urn].deleted_with
    if not target or plan.steps.get(target) not in (DELETE, REPLACE):
        return False
    marked_early = target in plan.condemned or (
        plan.engine.deleted_with_cascades
        and plan.steps[target] == REPLACE
        and plan.resource(target).delete_before_replace
    )
    return marked_early or (_late(plan, target) and _late(plan, urn))


def _runs(plan: Plan) -> None:
    """The host scripts the plan runs: deletes first (stored script, stored host), then the
    creates and updates, as the engine orders deletes of replacements and removals: a resource
    is deleted only after everything that depends on it (ScheduleDeletes' antichains, reversed:
    pulumi/pulumi@1b5949891b:pkg/resource/deploy/step_generator.go)."""
    deleted, creates = [], []
    old = _custom(plan.old)
    for urn, kind in plan.steps.items():
        resource = plan.resource(urn)
        if resource.type != COMMAND:
            continue
        if kind in (REPLACE, DELETE):
            stored = old[urn]
            if stored.plain_inputs.get("delete") and not delete_skipped(plan, urn):
                deleted.append(stored)
        if kind in (CREATE, REPLACE):
            creates.append(_run(resource, "create"))
        elif kind == UPDATE:
            creates.append(
                _run(resource, "update" if resource.plain_inputs.get("update") else "create")
            )
    deletes = []
    while deleted:
        # those no other remaining deletion depends on go first, in their order
        free = [r for r in deleted if not any(plan.old.depends_on(o, r) for o in deleted)]
        assert free, "the deleted resources depend on each other in a cycle"
        deletes += [_run(r, "delete") for r in free]
        deleted = [r for r in deleted if r not in free]
    plan.runs = deletes + creates


def _run(command: Registered, phase: str) -> Run:
    inputs = command.plain_inputs
    return Run(command.name, phase, script_name(inputs[phase]), inputs["connection"]["host"])


# --- what must never happen --------------------------------------------------------------------


def node_disks(run: ProgramRun) -> dict[str, Registered]:
    """node name -> its disk (the volume made from the base image)."""
    return {
        r.name.removeprefix("cluster-").removesuffix("-disk"): r
        for r in run.of_type(VOLUME)
        if "baseVolumeId" in r.plain_inputs
    }


def _disk_of(run: ProgramRun, command: Registered) -> str | None:
    """The urn of the disk of the VM a command connects to, or None (an existing machine)."""
    host = command.plain_inputs["connection"]["host"]
    names = {address: name for name, address in run.outputs["nodes"].items()}
    disk = node_disks(run).get(names.get(host, ""))
    return disk.urn if disk else None


def problems(plan: Plan) -> list[str]:
    """Outcomes no configuration change may have; empty when the plan converges."""
    found = []
    steps = plan.steps
    new = _custom(plan.new)
    old = _custom(plan.old)
    ran_create = {r.command for r in plan.runs if r.phase == "create"}
    # A blank VM: a node's disk is new, so the machine starts from the image, but some step that
    # ran on that host before does not run its create again on the new disk.
    for node, disk in node_disks(plan.new).items():
        if steps[disk.urn] not in (CREATE, REPLACE):
            continue
        for command in new.values():
            on_it = command.type == COMMAND and command.deleted_with == disk.urn
            if on_it and command.name not in ran_create:
                found.append(
                    f"blank VM: {node} gets a fresh disk but {command.name} does not run again"
                )
    # A retired token: a join runs kubeadm join without a token made in the same update.
    for urn, command in new.items():
        if command.type != COMMAND or not command.name.endswith("-join"):
            continue
        if steps[urn] in (CREATE, REPLACE) and command.name + "-command" not in ran_create:
            found.append(f"retired token: {command.name} joins with a token from an earlier update")
    # A NIC on a deleted network.
    for urn, network in old.items():
        if network.type != NETWORK or steps[urn] not in (REPLACE, DELETE):
            continue
        network_id = f"{network.name}-id"  # its id in the old state (generation 0)
        for domain_urn, domain in old.items():
            if domain.type != DOMAIN:
                continue
            nics = domain.plain_inputs.get("networkInterfaces") or []
            if any(nic.get("networkId") == network_id for nic in nics) and steps.get(
                domain_urn
            ) not in (REPLACE, DELETE):
                found.append(f"NIC on a deleted network: {domain.name} stays on {network.name}")
    # A new cluster without its add-ons.
    init = [u for u, r in new.items() if r.name == "control-plane-init"]
    if init and steps[init[0]] in (CREATE, REPLACE):
        for urn, resource in new.items():
            if resource.type.startswith("kubernetes:") and steps[urn] not in (CREATE, REPLACE):
                found.append(
                    f"cluster without add-ons: {resource.name} is not made on the new cluster"
                )
    # kubeadm init or join running again in place (create re-run by an update).
    for run in plan.runs:
        if run.phase == "update" and run.script in ("init-control-plane", "join-node"):
            found.append(f"{run.command} runs {run.script} again in place")
    # A host step whose clean-up is skipped although its host keeps its disk: the state it made
    # stays on the host while the stack forgets it.
    disk_at = {
        r.plain_inputs["connection"]["host"]: _disk_of(plan.old, r)
        for r in old.values()
        if r.type == COMMAND
    }
    for urn, command in old.items():
        if command.type != COMMAND or steps[urn] not in (REPLACE, DELETE):
            continue
        if not command.plain_inputs.get("delete") or not delete_skipped(plan, urn):
            continue
        disk = disk_at.get(command.plain_inputs["connection"]["host"])
        if disk is None or steps.get(disk) not in (REPLACE, DELETE):
            found.append(f"orphaned state: {command.name} skips its clean-up on a host that stays")
    return found


# --- outcome classes -----------------------------------------------------------------------------

NEW_CLUSTER = "new cluster"
VMS_REBUILT = "VMs rebuilt and provisioned again"
NODES_ADDED_OR_REMOVED = "nodes added or removed"
VMS_RESTARTED = "VMs restarted on the same disks"
HOSTS_IN_PLACE = "hosts updated in place"
ADDONS_ONLY = "add-ons only"
NOTHING = "nothing"
OUTCOMES = (
    NEW_CLUSTER,
    VMS_REBUILT,
    NODES_ADDED_OR_REMOVED,
    VMS_RESTARTED,
    HOSTS_IN_PLACE,
    ADDONS_ONLY,
    NOTHING,
)


def outcome(plan: Plan) -> str:
    """The most drastic effect of a plan."""
    changed = {urn: kind for urn, kind in plan.steps.items() if kind != SAME}
    types = {urn: plan.resource(urn).type for urn in changed}
    names = {urn: plan.resource(urn).name for urn in changed}
    if any(
        name == "control-plane-init" and changed[urn] in (CREATE, REPLACE)
        for urn, name in names.items()
    ):
        return NEW_CLUSTER
    disks = {d.urn for d in node_disks(plan.old).values()} | {
        d.urn for d in node_disks(plan.new).values()
    }
    if any(changed.get(u) == REPLACE for u in disks):
        return VMS_REBUILT
    domains = {u for u, t in types.items() if t == DOMAIN}
    joins = {u for u, n in names.items() if n.endswith("-join")}
    if any(changed[u] in (CREATE, DELETE) for u in domains) or any(
        changed[u] in (CREATE, DELETE, REPLACE) for u in joins
    ):
        return NODES_ADDED_OR_REMOVED
    if domains:
        return VMS_RESTARTED
    # The smoke check runs again after any change it could see: a verification, not an effect.
    if any(t == COMMAND and not names[u].startswith("smoke-") for u, t in types.items()):
        return HOSTS_IN_PLACE
    if any(t.startswith("kubernetes:") for t in types.values()):
        return ADDONS_ONLY
    return NOTHING
