"""Host scripts: read from components/scripts/*.sh and rendered with their values.

A rendered script is the shebang, the values as shell-quoted assignments, the shared helpers
(lib.sh) and the script body. Values never travel through `environment=` (that needs sshd's
AcceptEnv); secrets travel on stdin.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

SCRIPT_DIR = Path(__file__).parent / "scripts"
_VALUE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_REFERENCED = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")
# bash's own variables, which the scripts read but no value sets.
_SHELL_VARIABLES = frozenset({"BASH_REMATCH", "BASH_VERSION", "PIPESTATUS"})


def _body(name: str) -> str:
    text = (SCRIPT_DIR / f"{name}.sh").read_text()
    if not text.startswith("#!"):
        raise ValueError(f"{name}.sh has no shebang line")
    return text.split("\n", 1)[1]


def render(name: str, *more: str, **values: str | int) -> str:
    """The full text of script `name` (followed by the scripts `more`, in order, as one script)
    with `values` assigned at the top.

    Every ${UPPER_CASE} name the scripts (or lib.sh) use must be given, and nothing else:
    a typo on either side fails here rather than on a host.
    """
    body = "".join(_body(part) for part in (name, *more))
    library = (SCRIPT_DIR / "lib.sh").read_text()
    wanted = set(_REFERENCED.findall(body + library)) - _SHELL_VARIABLES
    given = set(values)
    for key in given:
        if not _VALUE_NAME.match(key):
            raise ValueError(f"{name}.sh: value name {key!r} is not UPPER_CASE")
    if wanted != given:
        missing, unused = sorted(wanted - given), sorted(given - wanted)
        raise ValueError(f"{name}.sh: missing values {missing}, unused values {unused}")
    assignments = "".join(f"{key}={shlex.quote(str(values[key]))}\n" for key in sorted(values))
    # Values are literal data ('$basearch' is for yum); lib.sh helpers are shared by all scripts.
    directive = "# shellcheck disable=SC2016,SC2329\n"
    parts = "".join(f"# with {part}.sh\n" for part in more)
    return (
        f"#!/usr/bin/env bash\n{directive}# kubeadm-libvirt {name}.sh\n{parts}{assignments}"
        f"{library}{body}"
    )


# Linux refuses a single argument longer than MAX_ARG_STRLEN (32 pages, 128 KiB), and the whole
# script is one argument of `bash -c`. Settings cap every value far below that; this is the
# backstop, with room to spare.
MAX_COMMAND_BYTES = 96 * 1024


def as_root(script: str) -> str:
    """The command line that runs a rendered script as root over SSH."""
    command = "sudo bash -c " + shlex.quote(script)
    if len(command.encode()) > MAX_COMMAND_BYTES:
        raise ValueError(
            f"a rendered host script is {len(command.encode())} bytes; Linux takes at most "
            "128 KiB for one argument (shorten the URL lists or the node list)"
        )
    return command
