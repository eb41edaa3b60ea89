"""What `pulumi up` would do to go from one configuration to another: a plan simulator.

Both configurations are evaluated under mocks. The resources of the two are then compared with
the rules the engine and the providers apply, each encoded from its source:

- engine (pulumi/pulumi@v3.259.0, pkg/resource/deploy/step_generator.go): a new URN is
  created, a missing one deleted; a replaced resource gets a new ID, so every input that uses
  it changes (modelled by evaluating again with new IDs until nothing more is replaced);
  `replace_on_changes` turns a reported change of those properties into a replacement
  (applyReplaceOnChanges); a resource whose provider is replaced is replaced; a resource's
  delete is skipped when its `deleted_with` target is deleted, or replaced create-before-
  delete, in the same update (step.go isDeletedWith; not when the target is replaced
  delete-before-replace).
- pulumi-command (pulumi/pulumi-command@v1.2.1, provider/pkg/provider/remote/command.go,
  commandController.go): only `triggers` replace a command; any other input change is an
  update, which runs `update`, or `create` when there is none; a delete runs the stored
  `delete` over the stored connection.
- terraform-provider-libvirt v0.8.1 (libvirt/resource_libvirt_*.go): which attributes are
  ForceNew per resource; every other change is an update.
- pulumi-kubernetes (pulumi/pulumi-kubernetes@v4.25.0, provider/pkg/provider/diff.go,
  provider.go DiffConfig): metadata.name/namespace and some per-kind fields replace an object;
  the provider is replaced when its clusterIdentifier changes, and then every object with it.
- pulumi-tls (terraform-provider-tls resource_private_key.go): every input of a key is
  RequiresReplace.
- bridged providers (pulumi/pulumi-terraform-bridge@v3.99.0:pkg/tfbridge/provider.go
  DiffConfig): a config change is an update unless ForcesProviderReplace, which pulumi-libvirt
  sets on nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conftest import ProgramRun, Registered, run_program, script_of

SAME, UPDATE, REPLACE, CREATE, DELETE = "same", "update", "replace", "create", "delete"
COMMAND = "command:remote:Command"
DOMAIN = "libvirt:index/domain:Domain"
VOLUME = "libvirt:index/volume:Volume"
NETWORK = "libvirt:index/network:Network"
EVERYTHING = frozenset({"*"})

# terraform-provider-libvirt@v0.8.1 ForceNew attributes (Pulumi names). A list block that is
# ForceNew only by its count replaces when its length changes (terraform-plugin-sdk
# helper/schema/schema.go diffList); its element fields then count on their own.
LIBVIRT_FORCE_NEW = {
    DOMAIN: frozenset(
        {
            "name",
            "description",
            "vcpu",
            "memory",
            "firmware",
            "type",
            "nvram",
            "coreosIgnition",
            "fwCfgName",
            "cmdlines",
            "graphics",
            "consoles",
        }
    ),
    VOLUME: EVERYTHING,
    "libvirt:index/cloudInitDisk:CloudInitDisk": EVERYTHING,
    "libvirt:index/pool:Pool": EVERYTHING,
    NETWORK: EVERYTHING,
}
LIBVIRT_COUNTED = {DOMAIN: frozenset({"disks", "filesystems", "cpu"})}
# libvirt_network attributes that are not ForceNew (resource_libvirt_network.go).
LIBVIRT_NETWORK_UPDATABLE = frozenset(
    {"mtu", "autostart", "dns", "dhcp", "routes", "dnsmasqOptions"}
)

# pulumi-kubernetes@v4.25.0 provider/pkg/provider/diff.go forceNew (ConfigMap data: without
# enableConfigMapMutable).
KUBERNETES_FORCE_NEW = {
    "DaemonSet": ("spec.selector",),
    "Deployment": ("spec.selector",),
    "Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "Service": ("spec.clusterIP",),
    "ConfigMap": ("data", "binaryData"),
    "ClusterRoleBinding": ("roleRef",),
    "RoleBinding": ("roleRef",),
}


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
    steps: dict[str, str] = field(default_factory=dict)
    """urn -> same | update | replace | create | delete (custom resources only)."""
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
    old_config: dict[str, str], new_config: dict[str, str], old: ProgramRun | None = None
) -> Plan:
    """The plan of `pulumi up` with new_config on a stack deployed with old_config (old: that
    configuration's evaluation, when the caller has it already)."""
    plan = Plan(old or run_program(old_config), run_program(new_config))
    _decide(plan)
    _runs(plan)
    return plan


def _custom(run: ProgramRun) -> dict[str, Registered]:
    return {r.urn: r for r in run.resources if r.custom}


def _decide(plan: Plan) -> None:
    """Each resource's step. A replaced resource comes back with a new ID, so every input that
    depends on it may change: as in the engine's preview, those inputs count as changed (unknown)
    and the dependent is diffed again; a replaced provider replaces what it manages."""
    old, new = _custom(plan.old), _custom(plan.new)
    changed = {
        urn: _changed(old[urn].plain_inputs, r.plain_inputs) for urn, r in new.items() if urn in old
    }
    dependents: dict[str, list[tuple[str, str]]] = {}
    managed: dict[str, list[str]] = {}
    for urn, resource in new.items():
        for key, urns in resource.property_dependencies.items():
            for dependency in urns:
                dependents.setdefault(dependency, []).append((urn, key))
        managed.setdefault(_provider_urn(resource.provider), []).append(urn)
    for urn in new:
        plan.steps[urn] = (
            CREATE if urn not in old else _diff(new[urn], changed[urn], old[urn].plain_inputs)
        )
    for urn in old:
        if urn not in new:
            plan.steps[urn] = DELETE
    todo = [urn for urn, kind in plan.steps.items() if kind == REPLACE]
    while todo:
        replaced = todo.pop()
        affected = dependents.get(replaced, [])
        if _replaces_what_it_manages(new.get(replaced)):
            affected = [(urn, None) for urn in managed.get(replaced, [])] + affected
        for urn, key in affected:
            if plan.steps.get(urn) not in (SAME, UPDATE):
                continue
            if key is None:
                kind = REPLACE
            else:
                changed[urn].add(key)
                kind = _diff(new[urn], changed[urn], old[urn].plain_inputs)
            plan.steps[urn] = kind
            if kind == REPLACE:
                todo.append(urn)


def _replaces_what_it_manages(provider: Registered | None) -> bool:
    """A replaced provider replaces its resources when its own DiffConfig asked for the
    replacement (pulumi-kubernetes on a new clusterIdentifier: providerChanged), or when it is
    replaced delete-before-replace (calculateDependentReplacements replaces every resource whose
    provider is in the replace set)."""
    if provider is None or not provider.type.startswith("pulumi:providers:"):
        return False
    return provider.delete_before_replace or provider.type == "pulumi:providers:kubernetes"


def _provider_urn(reference: str) -> str:
    return reference.rsplit("::", 1)[0] if reference else ""


def _changed(old: dict, new: dict) -> set[str]:
    keys = set(old) | set(new)
    return {
        k
        for k in keys
        if json.dumps(old.get(k), sort_keys=True) != json.dumps(new.get(k), sort_keys=True)
    }


def _diff(new: Registered, changed: set[str], before: dict) -> str:
    if not changed:
        return SAME
    if any(path.split("[")[0].split(".")[0] in changed for path in new.replace_on_changes):
        return REPLACE
    return UPDATE if _updatable(new.type, changed, before, new.plain_inputs) else REPLACE


def _updatable(type_: str, changed: set[str], before: dict, after: dict) -> bool:
    if type_ == COMMAND:
        return "triggers" not in changed
    if type_ == "pulumi:providers:kubernetes":
        return "clusterIdentifier" not in changed
    if type_.startswith("pulumi:providers:"):
        return True
    if type_.startswith("tls:"):
        return False
    if type_ == NETWORK:
        return changed <= LIBVIRT_NETWORK_UPDATABLE
    if type_ in LIBVIRT_FORCE_NEW:
        force_new = LIBVIRT_FORCE_NEW[type_]
        if force_new is EVERYTHING or changed & force_new:
            return False
        counted = LIBVIRT_COUNTED.get(type_, frozenset())
        return not any(
            len(before.get(k) or []) != len(after.get(k) or []) for k in changed & counted
        )
    if type_.startswith("kubernetes:"):
        kind = after.get("kind", "")
        paths = ("metadata.name", "metadata.namespace", *KUBERNETES_FORCE_NEW.get(kind, ()))
        return all(_at(before, p) == _at(after, p) for p in paths)
    raise AssertionError(f"no diff rule for {type_}")


def _at(document: dict, path: str) -> Any:
    for part in path.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return json.dumps(document, sort_keys=True)


# --- scripts ---------------------------------------------------------------------------------

_SCRIPT_NAME = re.compile(r"^# kubeadm-libvirt (\S+)\.sh$", re.MULTILINE)


def script_name(command_line: str) -> str:
    return _SCRIPT_NAME.search(script_of(command_line))[1]


def _runs(plan: Plan) -> None:
    """The host scripts the plan runs: deletes first (stored script, stored host), then the
    creates and updates, as the engine orders deletes of replacements and removals."""
    deletes, creates = [], []
    gone = {urn for urn, kind in plan.steps.items() if kind == DELETE}
    create_before_delete = {
        urn
        for urn, kind in plan.steps.items()
        if kind == REPLACE and not plan.resource(urn).delete_before_replace
    }
    old = _custom(plan.old)
    for urn, kind in plan.steps.items():
        resource = plan.resource(urn)
        if resource.type != COMMAND:
            continue
        if kind in (REPLACE, DELETE):
            stored = old[urn]
            target = stored.deleted_with
            skipped = bool(target) and (target in gone or target in create_before_delete)
            if stored.plain_inputs.get("delete") and not skipped:
                deletes.append(_run(stored, "delete"))
        if kind in (CREATE, REPLACE):
            creates.append(_run(resource, "create"))
        elif kind == UPDATE:
            creates.append(
                _run(resource, "update" if resource.plain_inputs.get("update") else "create")
            )
    plan.runs = deletes + creates


def _run(command: Registered, phase: str) -> Run:
    inputs = command.plain_inputs
    return Run(command.name, phase, script_name(inputs[phase]), inputs["connection"]["host"])


# --- what must never happen --------------------------------------------------------------------


def problems(plan: Plan) -> list[str]:
    """Outcomes no configuration change may have; empty when the plan converges."""
    found = []
    steps = plan.steps
    new = _custom(plan.new)
    old = _custom(plan.old)
    ran_create = {r.command for r in plan.runs if r.phase == "create"}
    # A blank VM: a node's disk is new, so the machine starts from the image, but some step that
    # ran on it before does not run its create again on the new one.
    for urn, kind in steps.items():
        resource = plan.resource(urn)
        if resource.type != VOLUME or "baseVolumeId" not in resource.plain_inputs:
            continue
        if kind not in (CREATE, REPLACE):
            continue
        node = resource.name.removeprefix("cluster-").removesuffix("-disk")
        domain = next(
            r for r in new.values() if r.type == DOMAIN and r.plain_inputs["name"] == node
        )
        for command in new.values():
            if (
                command.type == COMMAND
                and command.deleted_with == domain.urn
                and command.name not in ran_create
            ):
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
            ) not in (
                REPLACE,
                DELETE,
            ):
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
        if run.phase == "update" and run.script in ("init-control-plane", "join-worker"):
            found.append(f"{run.command} runs {run.script} again in place")
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
    node_disks = {
        u
        for u, t in types.items()
        if t == VOLUME and "baseVolumeId" in plan.resource(u).plain_inputs
    }
    if any(changed[u] == REPLACE for u in node_disks):
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
