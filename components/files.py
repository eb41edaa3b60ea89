"""Serialisers for the INI-style files the hosts get (yum .repo files, systemd units)."""

from __future__ import annotations

import configparser
import io

HEADER = "# Written by kubeadm-libvirt; changes here are overwritten.\n"


def ini_text(sections: dict[str, dict[str, str | list[str]]]) -> str:
    """INI text with keys as written; a list value becomes one item per continuation line."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    for section, options in sections.items():
        parser[section] = {
            key: "\n".join(value) if isinstance(value, list) else value
            for key, value in options.items()
        }
    buffer = io.StringIO()
    parser.write(buffer, space_around_delimiters=False)
    return HEADER + buffer.getvalue().strip()
