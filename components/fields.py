"""Field types for the settings models: each one checks a single config value on its own
(shape, characters, length, range) and says what is wrong in words a user can act on.

Strings match as a whole with ASCII classes (no stray newline, blank or Unicode digit passes),
every string has a length cap, whole numbers are whole numbers, and structured values arrive as
the CLI passes them (JSON text) or already decoded (a stack file read with YAML). Nothing here
reads config: components/settings.py does.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from datetime import timedelta
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

import durationpy
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import BeforeValidator, SecretStr

# Trees a hostPath or a storage pool must neither be, lie in, nor contain: the registry is
# unauthenticated, so storage at /etc/kubernetes would serve the cluster's PKI to anyone.
PROTECTED_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/run",
    "/var/lib/etcd",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/cni",
)
MIN_TOKEN_TTL = timedelta(minutes=1)
MAX_TOKEN_TTL = timedelta(hours=24)


class EncryptedValue:
    """A secure value the caller could not decrypt (`make doctor`): set, but not checkable."""

    def __repr__(self) -> str:
        return "[secret]"


def checked(parse: Callable[[Any], Any]) -> BeforeValidator:
    return BeforeValidator(parse)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def text(pattern: str, max_length: int, problem: str, *, allow_empty: bool = False) -> Any:
    """A string that matches pattern as a whole (ASCII classes, no stray newline or blank) and
    is at most max_length characters."""
    regex = re.compile(pattern, re.ASCII)

    def parse(value: Any) -> str:
        value = _string(value)
        if allow_empty and value == "":
            return value
        if len(value) > max_length:
            raise ValueError(f"{problem}: longer than {max_length} characters")
        if not regex.fullmatch(value):
            raise ValueError(problem)
        return value

    return Annotated[str, checked(parse)]


def integer(low: int, high: int) -> Any:
    """A whole number: an int, or a string of ASCII digits with an optional sign, the text the
    CLI accepts for a key typed integer (`[+-]?[0-9]+`, pulumi/pulumi@v3.259.0 and 1b5949891b:
    sdk/go/common/workspace/project.go ValidateConfigValue) and passes on as it was typed;
    never a boolean, a float, infinity or NaN."""

    def parse(value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,10}", value, re.ASCII):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number written with the digits 0-9")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return Annotated[int, checked(parse)]


def boolean(value: Any) -> bool:
    if value in ("true", "false"):
        return value == "true"
    if isinstance(value, bool):
        return value
    raise ValueError("must be true or false")


def _structured(value: Any) -> Any:
    """Lists and objects reach the program as JSON text (that is how the CLI passes them)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def listed(item: Any, low: int, high: int, what: str) -> Any:
    def parse(value: Any) -> tuple:
        value = _structured(value)
        if not isinstance(value, list):
            raise ValueError(f"must be a list of {what}, not {_kind(value)}")
        if not low <= len(value) <= high:
            raise ValueError(f"must list {low} to {high} {what}")
        return tuple(value)

    return Annotated[tuple[item, ...], checked(parse)]


_ASCII_DIGITS_ADDRESS = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", re.ASCII)


def ipv4(value: Any) -> IPv4Address:
    value = _string(value)
    if not _ASCII_DIGITS_ADDRESS.fullmatch(value):
        raise ValueError("is not an IPv4 address such as 192.168.50.21")
    try:
        return IPv4Address(value)
    except ValueError:
        raise ValueError("is not an IPv4 address such as 192.168.50.21") from None


def ipv4_or_empty(value: Any) -> IPv4Address | None:
    return None if value == "" else ipv4(value)


def cidr(value: Any) -> IPv4Network:
    value = _string(value)
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}", value, re.ASCII):
        raise ValueError("is not an IPv4 CIDR such as 10.244.0.0/16")
    try:
        return IPv4Network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"is not an IPv4 network CIDR such as 10.244.0.0/16 ({error})") from None


# URLs end up in yum .repo files, daemon.json and curl command lines: RFC 3986 characters only,
# and not the ones yum splits baseurl lists on (comma) or that quote (' " `). A repository URL
# is written several times into one host script (once per repo section: CentOS-Base.repo has
# three), so the cap keeps a script with every list full far below Linux's argument limit
# (components/scripts.py); real base URLs are a few dozen characters.
MAX_URL_LENGTH = 1024
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&()*+;=%-]+", re.ASCII)


def _split(value: Any, what: str) -> SplitResult:
    """value parsed as a URL (urllib.parse), after the length and character checks."""
    value = _string(value)
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"is longer than {MAX_URL_LENGTH} characters")
    if not _URL_CHARACTERS.fullmatch(value):
        raise ValueError(
            f"has characters {what} cannot hold (blanks, control characters, , ' \" `)"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        raise ValueError(f"is not {what} ({error})") from None
    return parts


def url(value: Any) -> str:
    """An http(s) URL fetched as it is (the base image: terraform-provider-libvirt@v0.8.1:
    libvirt/volume_image.go http.Get), so a query may stay; never a fragment or user:password@."""
    parts = _split(value, "a URL")
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not carry user:password@ (it would be written to world-readable files "
            "and shown in process lists)"
        )
    if parts.fragment or value.endswith("#"):
        raise ValueError("must not end in a #fragment")
    return value


# The one placeholder a repository URL may carry: the Kubernetes minor, for repositories kept
# one per minor (pkgs.k8s.io); filled in by the platform.
MINOR_PLACEHOLDER = "{minor}"


def repository_url(value: Any) -> str:
    """A yum baseurl or key URL: yum appends the repository's paths to it (repodata/...), and it
    is written to world-readable .repo files, so no ?query (where tokens hide) either. It may
    name the Kubernetes minor as {minor}."""
    value = _string(value)
    url(value.replace(MINOR_PLACEHOLDER, "v1.0"))
    if urlsplit(value).query or "?" in value:
        raise ValueError(
            "must not have a ?query: yum appends paths to it, and it is written to "
            "world-readable files on every node"
        )
    return value


def mirror_url(value: Any) -> str:
    """A Docker Hub mirror as dockerd 18.06 takes it in daemon.json: scheme and host[:port],
    at most a trailing /; a path, query or fragment makes dockerd refuse to start
    (docker/docker-ce@v18.06.3-ce:components/engine/registry/config.go ValidateMirror)."""
    value = repository_url(value)
    if MINOR_PLACEHOLDER in value or urlsplit(value).path not in ("", "/"):
        raise ValueError(
            "must be scheme://host[:port] only, e.g. https://mirror.example.com: dockerd 18.06 "
            "refuses a mirror with a path and does not start"
        )
    return value


def host_path(value: Any) -> str:
    """An absolute, normalised path on a host, outside (and not above) the system trees."""
    value = plain_path(value)
    for tree in PROTECTED_TREES:
        if value == tree or value.startswith(tree + "/") or (tree + "/").startswith(value + "/"):
            raise ValueError(f"is or holds the system tree {tree}; choose a directory of its own")
    return value


def plain_path(value: Any) -> str:
    value = _string(value)
    if len(value) > 255:
        raise ValueError("is longer than 255 characters")
    if not re.fullmatch(r"/[A-Za-z0-9._@+/-]*", value, re.ASCII):
        raise ValueError("must be an absolute path of letters, digits and . _ @ + - /")
    if value == "/" or posixpath.normpath(value) != value or ".." in value.split("/"):
        raise ValueError("must be an absolute, normalised path other than / (no //, /./ or ..)")
    return value


def image_source(value: Any) -> str:
    value = _string(value)
    return plain_path(value) if value.startswith("/") else url(value)


def duration(value: Any) -> timedelta:
    value = _string(value)
    if not re.fullmatch(r"[0-9.hms]{1,32}", value, re.ASCII):
        raise ValueError("is not a duration such as 1h, 30m or 1h30m")
    try:
        duration = durationpy.from_str(value)
    except durationpy.DurationError:
        raise ValueError("is not a duration such as 1h, 30m or 1h30m") from None
    if not MIN_TOKEN_TTL <= duration <= MAX_TOKEN_TTL:
        # kubeadm reads a zero TTL as a token that never expires.
        raise ValueError("must lie between 1m and 24h (a zero TTL never expires)")
    return duration


_PUBLIC_KEY_LINE = re.compile(
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( [ -~]{1,256})?",
    re.ASCII,
)


def public_key(value: Any) -> str:
    """Exactly one OpenSSH public key of a type OpenSSH 7.4 accepts, parsed, on one line."""
    value = _string(value)
    if value == "":
        return value
    if len(value) > 16384:
        raise ValueError("is longer than 16384 characters")
    if not _PUBLIC_KEY_LINE.fullmatch(value):
        raise ValueError(
            "must be exactly one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)"
        )
    try:
        key = serialization.load_ssh_public_key(value.encode())
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ValueError(f"is not a valid public key ({error})") from None
    check_key_strength(key)
    return value


def check_key_strength(key: Any) -> None:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey) and key.key_size < 2048:
        raise ValueError(f"is an RSA key of {key.key_size} bits; use at least 2048")
    if not isinstance(
        key,
        ed25519.Ed25519PublicKey
        | ed25519.Ed25519PrivateKey
        | rsa.RSAPublicKey
        | rsa.RSAPrivateKey
        | ec.EllipticCurvePublicKey
        | ec.EllipticCurvePrivateKey,
    ):
        raise ValueError("is not an Ed25519, RSA or ECDSA key")


def private_key_text(value: Any) -> SecretStr | EncryptedValue:
    if isinstance(value, EncryptedValue | SecretStr):
        return value
    return SecretStr(_string(value))


# What the provider's own URI code reads (terraform-provider-libvirt@v0.8.1:libvirt/uri/*.go):
# unix takes socket=, tls pkipath= (and no_verify=), ssh socket=, keyfile=, knownhosts=, sshauth=
# (and known_hosts_verify=, no_verify=). Any other parameter is silently ignored there.
_LIBVIRT_PARAMETERS = {
    "qemu": ("socket",),
    "qemu+unix": ("socket",),
    "qemu+tls": ("pkipath",),
    "qemu+ssh": ("socket", "keyfile", "knownhosts", "sshauth"),
}
_LIBVIRT_REFUSED_PARAMETERS = {
    "no_verify": "skips verifying the hypervisor's identity (uri/ssh.go, uri/tls.go)",
    "known_hosts_verify": "can skip verifying the hypervisor's identity (uri/ssh.go)",
    "command": "would run a program on this machine in libvirt's own client",
    "netcat": "would run a program on the hypervisor in libvirt's own client",
}


def libvirt_uri(value: Any) -> str:
    """A libvirt URI to the QEMU driver over a transport the provider implements, without the
    parameters that skip host verification or run a program."""
    parts = _split(value, "a libvirt URI")
    try:
        parameters = parse_qsl(
            parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)
        )
    except ValueError as error:
        raise ValueError(f"is not a libvirt URI ({error})") from None
    if parts.scheme not in _LIBVIRT_PARAMETERS:
        raise ValueError(f"must use one of the transports {', '.join(_LIBVIRT_PARAMETERS)}")
    if parts.path not in ("/system", "/session"):
        raise ValueError("must end in /system or /session, e.g. qemu:///system")
    if parts.password is not None:
        raise ValueError("must not carry a password")
    if parts.scheme in ("qemu", "qemu+unix") and parts.netloc:
        raise ValueError(f"{parts.scheme}:// is local and takes no host, e.g. qemu:///system")
    if parts.scheme in ("qemu+ssh", "qemu+tls") and not parts.hostname:
        raise ValueError(f"{parts.scheme}:// needs a host, e.g. qemu+ssh://root@hypervisor/system")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    known = _LIBVIRT_PARAMETERS[parts.scheme]
    for name, _ in parameters:
        if name in _LIBVIRT_REFUSED_PARAMETERS:
            raise ValueError(f"parameter {name}= {_LIBVIRT_REFUSED_PARAMETERS[name]}; remove it")
        if name not in known:
            raise ValueError(
                f"has the parameter {name}=, which the libvirt provider does not read over "
                f"{parts.scheme}:// (it reads {', '.join(f'{k}=' for k in known)})"
            )
    return value


# Image references as distribution/reference parses them (reference/regexp.go): an optional
# domain[:port]/, lower-case path components, an optional :tag and @digest.
_DOMAIN_PART = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]{{1,5}})?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

Hostname = text(
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
    63,
    "is not an RFC 1123 hostname (lower-case letters, digits, '-', at most 63)",
)
Dns1035Label = text(
    r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
    63,
    "is not a DNS-1035 label (a lower-case letter, then lower-case letters, digits, '-')",
)
UserName = text(r"[a-z_][a-z0-9_-]{0,31}", 32, "is not a Linux user name", allow_empty=True)
InterfaceName = text(
    r"(?!\.\.?\Z)[A-Za-z0-9_.-]{1,15}",
    15,
    "is not a network interface name (at most 15 letters, digits, '.', '_', '-')",
)
LibvirtName = text(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", 64, "is not a libvirt object name")
RpmVersion = text(
    r"[0-9][A-Za-z0-9._+~-]{0,63}",
    64,
    "is not an RPM version such as 18.06.3.ce-3.el7",
    allow_empty=True,
)
# Which versions a track takes is the platform's to say (settings.py checks it).
KubernetesVersion = text(
    r"v1\.[0-9]{1,2}\.[0-9]{1,3}", 16, "must be vMAJOR.MINOR.PATCH, e.g. v1.13.1", allow_empty=True
)
Quantity = text(
    r"[0-9]{1,9}(\.[0-9]{1,6})?(m|k|Ki|M|Mi|G|Gi|T|Ti)?",
    24,
    "is not a Kubernetes quantity such as 100m, 1 or 256Mi",
)
ImageTag = text(_TAG, 128, "is not an image tag (letters, digits, _ . -, at most 128)")
ImageRepository = text(
    _REPOSITORY, 255, "is not an image repository such as registry.k8s.io", allow_empty=True
)
ImageReference = text(
    rf"{_REPOSITORY}(?::{_TAG})?(?:@{_DIGEST})?",
    255,
    "is not a container image reference such as quay.io/coreos/flannel:v0.11.0-amd64",
)
HttpPath = text(
    r"/[A-Za-z0-9._~!$&()*+;=:@%/-]{0,1023}", 1024, "must be an HTTP path starting with /"
)


def optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """parse, or "" (the track's default) as it is."""

    def parse_or_empty(value: Any) -> Any:
        return "" if value == "" else parse(value)

    return parse_or_empty


Url = Annotated[str, checked(url)]
RepositoryUrl = Annotated[str, checked(repository_url)]
OptionalRepositoryUrl = Annotated[str, checked(optional(repository_url))]
MirrorUrl = Annotated[str, checked(mirror_url)]
Port = integer(1, 65535)


IPv4 = Annotated[IPv4Address, checked(ipv4)]
OptionalIPv4 = Annotated[IPv4Address | None, checked(ipv4_or_empty)]
Cidr = Annotated[IPv4Network, checked(cidr)]
HostPath = Annotated[str, checked(host_path)]
ImageSource = Annotated[str, checked(image_source)]
OptionalImageSource = Annotated[str, checked(optional(image_source))]
TokenTtl = Annotated[timedelta, checked(duration)]
PublicKey = Annotated[str, checked(public_key)]
PrivateKeyText = Annotated[Any, checked(private_key_text)]
LibvirtUri = Annotated[str, checked(libvirt_uri)]
Boolean = Annotated[bool, checked(boolean)]
BridgeName = text(
    r"(?!\.\.?\Z)[A-Za-z0-9_.-]{1,15}", 15, "is not a bridge name such as br0", allow_empty=True
)
TrackImageReference = text(
    rf"{_REPOSITORY}(?::{_TAG})?(?:@{_DIGEST})?",
    255,
    "is not a container image reference (or empty: the track's default)",
    allow_empty=True,
)
OptionalImageReference = text(
    rf"{_REPOSITORY}(?::{_TAG})?(?:@{_DIGEST})?",
    255,
    "is not a container image reference (or empty: you push the image yourself)",
    allow_empty=True,
)
