"""Shared test machinery: config loaded the way the CLI loads it, Pulumi mocks that record the
resource graph, and a runner that evaluates __main__.py in process (no CLI, no network).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import runpy
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILE = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
PROJECT = PROJECT_FILE["name"]
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


@functools.cache
def key_pair(label: str) -> tuple[str, str]:
    """A deterministic, unencrypted Ed25519 key pair (OpenSSH private key, public key line);
    cached, since OpenSSH's private key format carries random check bytes."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


FAKE_PRIVATE_KEY, FAKE_PUBLIC_KEY = key_pair("the test user")

# What kubeadm writes into admin.conf, deliberately pointing at another interface so tests can
# tell whether the program pins the server to the configured master address.
MOCK_ADMIN_CONF = """apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://10.0.2.15:6443
  name: kubernetes
contexts:
- context: {cluster: kubernetes, user: kubernetes-admin}
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
users:
- name: kubernetes-admin
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""
MOCK_JOIN_COMMAND = (
    "kubeadm join 192.168.50.21:6443 --token abcdef.0123456789abcdef "
    "--discovery-token-ca-cert-hash sha256:" + "0" * 64
)


MOCK_CERTIFICATE_KEY = "c0ffee" + "0" * 58
MOCK_CERTIFICATE_KEY_FLAGS = f" --control-plane --certificate-key {MOCK_CERTIFICATE_KEY}"


def _encode(value: Any) -> str:
    """Config values reach the program as strings; structured ones as JSON (as the CLI does)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


# The stack file that runs each track.
TRACK_STACKS = {"tutorial": "dev", "current": "current"}


def track_stack(track: str) -> str:
    return TRACK_STACKS[track]


def stack_config(stack: str | None = "dev", **overrides: Any) -> dict[str, str]:
    """Pulumi.yaml defaults, overlaid by Pulumi.<stack>.yaml, overlaid by overrides."""
    values = {key: decl["default"] for key, decl in PROJECT_FILE["config"].items()}
    if stack:
        stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        for key, value in (stack_file.get("config") or {}).items():
            namespace, _, short = key.partition(":")
            if namespace == PROJECT:
                values[short] = value
    values.update(overrides)
    return {f"{PROJECT}:{key}": _encode(value) for key, value in values.items()}


def unwrap(value: Any) -> Any:
    """Strip the secret wrapper mocks put around secret inputs, recursively."""
    if isinstance(value, dict):
        if SECRET_SIGNATURE in value:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def script_of(command_line: str) -> str:
    """The script inside `sudo bash -c '<script>'`, exactly as the host receives it."""
    argv = shlex.split(command_line)
    assert argv[:3] == ["sudo", "bash", "-c"], command_line[:80]
    return argv[3]


def script_values(script: str) -> dict[str, str]:
    """The NAME='value' assignments at the top of a rendered script."""
    values = {}
    for line in shlex.split(script.split("\n# Helpers shared", 1)[0], comments=True):
        name, sep, value = line.partition("=")
        if sep and name.isupper():
            values[name] = value
    return values


def encoded_files(value: str) -> dict[str, str]:
    """The files a value carries as "<name> [fields...] <base64 content>" lines (REPO_FILES,
    HOST_FILES, REGISTRY_HOSTS): name -> content."""
    import base64

    files = {}
    for line in value.splitlines():
        words = line.split()
        files[words[0]] = base64.b64decode(words[-1]).decode()
    return files


def init_flags(values: dict[str, str]) -> list[str]:
    """The flags of `kubeadm init` an init script's values give (INIT_FLAGS, one per line)."""
    return values["INIT_FLAGS"].splitlines()


def kubeadm_pod_cidr(values: dict[str, str]) -> str:
    """The pod CIDR an init script gives kubeadm, by flag (tutorial) or by file (current)."""
    for flag in init_flags(values):
        if flag.startswith("--pod-network-cidr="):
            return flag.split("=", 1)[1]
    for document in yaml.safe_load_all(values["INIT_CONFIG"]):
        if document and document.get("kind") == "ClusterConfiguration":
            return document["networking"]["podSubnet"]
    raise AssertionError("kubeadm is given no pod CIDR")


def is_secret_input(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIGNATURE in value


@dataclass
class Registered:
    """One resource registration as the engine would see it."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict
    provider: str
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    delete_before_replace: bool
    deleted_with: str
    additional_secret_outputs: list[str]
    replace_on_changes: list[str] = field(default_factory=list)

    @property
    def plain_inputs(self) -> dict:
        return unwrap(self.inputs)


class Mocks(pulumi.runtime.Mocks):
    """Fills in only what providers compute: ids, the stdout of the remote commands and the
    keys pulumi-tls makes. generations[name] > 0 stands for a resource that was made again
    (replaced): it gets a new id, and new output where a real provider would give one."""

    def __init__(self, generations: dict[str, int] | None = None) -> None:
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.generations = generations or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        generation = self.generations.get(args.name, 0)
        outputs = dict(args.inputs)
        if args.typ == "command:remote:Command":
            outputs["stdout"] = self._stdout(args.name, generation)
            if "\nCONTROL_PLANE=true\n" in script_of(args.inputs.get("create", "")):
                outputs["stdout"] += MOCK_CERTIFICATE_KEY_FLAGS  # what kubeadm adds for a master
            outputs["stderr"] = ""
        elif args.typ == "tls:index/privateKey:PrivateKey":
            private, public = key_pair(f"{args.name} {generation}")
            outputs.update(privateKeyOpenssh=private, publicKeyOpenssh=public + "\n")
        suffix = f"-{generation}" if generation else ""
        return [f"{args.name}-id{suffix}", outputs]

    @staticmethod
    def _stdout(name: str, generation: int) -> str:
        if name.endswith("-kubeconfig"):
            return MOCK_ADMIN_CONF.replace("S0VZ", f"S0VZ{generation}" if generation else "S0VZ")
        if name.endswith("-join-command"):
            return MOCK_JOIN_COMMAND.replace(
                "abcdef.", f"abcde{generation % 10}." if generation else "abcdef."
            )
        return f"==> {name} done"

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args)
        if args.token == "kubernetes:yaml:decode":
            return {"result": [doc for doc in yaml.safe_load_all(args.args["text"]) if doc]}
        return {}


class RecordingMonitor(MockMonitor):
    """Sees what MockResourceArgs hides: parent, dependencies and resource options."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=request.custom,
                    inputs=pulumi.runtime.rpc.deserialize_properties(request.object, True),
                    provider=request.provider,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    property_dependencies={
                        k: list(v.urns) for k, v in request.propertyDependencies.items()
                    },
                    delete_before_replace=request.deleteBeforeReplace,
                    deleted_with=request.deletedWith,
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    replace_on_changes=list(request.replaceOnChanges),
                )
            )
        return response


@dataclass
class ProgramRun:
    """The outcome of one evaluation of a program under mocks."""

    resources: list[Registered]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    calls: list = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def depends_on(self, resource: Registered, other: Registered) -> bool:
        """True when resource waits for other, directly or through any chain of dependencies
        (explicit, property or parent-inherited)."""
        urns = {r.urn: r for r in self.resources}
        seen, todo = set(), [resource.urn]
        while todo:
            urn = todo.pop()
            if urn in seen or urn not in urns:
                continue
            seen.add(urn)
            current = urns[urn]
            direct = set(current.dependencies)
            for deps in current.property_dependencies.values():
                direct.update(deps)
            if other.urn in direct:
                return True
            todo.extend(direct)
        return False


def run_program(
    config: dict[str, str],
    program: Callable[[], Any] | None = None,
    secret_keys: tuple[str, ...] = (f"{PROJECT}:sshPrivateKey",),
    generations: dict[str, int] | None = None,
    stack: str = "dev",
) -> ProgramRun:
    """Evaluate __main__.py (or program) under fresh mocks and return what it registered.
    generations: resources (by name) that stand for replaced ones (see Mocks)."""
    runtime_settings.ROOT.set(None)
    mocks = Mocks(generations)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(config, list(secret_keys))
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    run = ProgramRun(resources=monitor.registered, calls=mocks.calls)

    async def collect_exports() -> None:
        root = runtime_settings.get_root_resource()
        for key, value in (root.outputs or {}).items() if root else []:
            output = pulumi.Output.from_input(value)
            run.outputs[key] = await output.future()
            if await output.is_secret():
                run.secret_outputs.add(key)

    @pulumi.runtime.test
    def evaluate():
        if program is None:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        else:
            program()
        return pulumi.Output.from_input(asyncio.ensure_future(collect_exports()))

    evaluate()
    return run


def pytest_configure(config) -> None:
    """Every run gets a temporary directory of its own: pytest's shared
    /tmp/pytest-of-<user> is pruned by whichever run ends first (retention 0), which breaks
    another run of the same user still going."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="kubeadm-libvirt-tests-")
        config._kubeadm_libvirt_basetemp = config.option.basetemp


def pytest_unconfigure(config) -> None:
    own = getattr(config, "_kubeadm_libvirt_basetemp", None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


def pytest_report_header(config) -> list[str]:
    """Which outside tools the tests ran with, in the summary of every run."""
    from sandbox import script_shell
    from test_cloud_init import CURRENT_CLOUD_INIT

    cloud_init = shutil.which("cloud-init")
    current = CURRENT_CLOUD_INIT if CURRENT_CLOUD_INIT.exists() else None
    return [
        f"host scripts run under: {script_shell()}",
        f"cloud-init schema lane (tutorial): {cloud_init or 'not installed (its tests skip)'}",
        f"cloud-init schema lane (current): {current or 'not installed (its tests skip)'}",
        f"CI (every test tool required): {'yes' if IN_CI else 'no'}",
    ]


# .ci/run sets this: there every test tool must be present, so a missing one fails the run
# instead of skipping its tests.
IN_CI = os.environ.get("KUBEADM_LIBVIRT_CI") == "1"


def require_tool(available: Any, reason: str) -> None:
    """Skip, showing the reason, where a test tool is missing; fail in CI, which installs it."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason}: CI installs it (.ci/run)", pytrace=False)
    pytest.skip(reason)


def fake_ssh_home(home: Path) -> Path:
    """A HOME holding the fallback key pair, so no test reads the developer's own ~/.ssh."""
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    (ssh_dir / "id_ed25519").write_text(FAKE_PRIVATE_KEY)
    (ssh_dir / "id_ed25519.pub").write_text(FAKE_PUBLIC_KEY + "\n")
    return home


def run_with_fake_home(config: dict[str, str], stack: str = "dev") -> ProgramRun:
    """run_program for session fixtures and scripts, which cannot use the ssh_home fixture; the
    fake home, with its private key, is gone again afterwards."""
    patch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory(prefix="kubeadm-libvirt-home-") as home:
        patch.setenv("HOME", str(fake_ssh_home(Path(home))))
        try:
            return run_program(config, stack=stack)
        finally:
            patch.undo()


@pytest.fixture(autouse=True)
def ssh_home(tmp_path, monkeypatch) -> Path:
    """Every test runs with the fake key pair as ~/.ssh."""
    home = fake_ssh_home(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    for name in ("PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY", "PULUMI_K8S_DELETE_UNREACHABLE"):
        monkeypatch.delenv(name, raising=False)
    return home


# What tests may touch in the checkout: caches and the virtualenv make test made.
CHECKOUT_SCRATCH = {
    ".venv",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "__pycache__",
    ".git",
    "mutants",
}


def _checkout_files() -> dict[str, int | None]:
    return {
        path.name: None if path.is_dir() else path.stat().st_mtime_ns
        for path in ROOT.iterdir()
        # mutmut's own files where it runs the suite on a mutated copy (make mutants)
        if path.name not in CHECKOUT_SCRATCH and not path.name.startswith("mutmut")
    }


@pytest.fixture(scope="session", autouse=True)
def checkout_untouched():
    """No test writes into this checkout: a developer's ./kubeconfig, stack files, state and
    passphrase stay exactly as they were."""
    before = _checkout_files()
    yield
    after = _checkout_files()
    assert after == before, {
        k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
    }


@pytest.fixture(scope="session")
def dev_run() -> ProgramRun:
    """The whole program with the dev stack's config, evaluated once for read-only tests."""
    return run_with_fake_home(stack_config("dev"))


@functools.cache
def _track_run(track: str) -> ProgramRun:
    stack = track_stack(track)
    return run_with_fake_home(stack_config(stack), stack=stack)


@pytest.fixture(scope="session", params=sorted(TRACK_STACKS))
def track_run(request) -> ProgramRun:
    """The whole program on each track's shipped stack (dev, current), for tests whose
    behaviour both tracks must have."""
    return _track_run(request.param)
