#!/usr/bin/env bash
# On the master: give the interface the registry's address as a secondary address, now and at
# every boot (a systemd unit), so every node and the LAN reach the registry Service there.
set -euo pipefail
unit=kubeadm-libvirt-registry-address.service

step "registry address ${REGISTRY_ADDRESS} on ${INTERFACE}"
if [[ -f "/etc/systemd/system/${unit}" ]] &&
  ! cmp -s <(printf '%s\n' "${UNIT_FILE}") "/etc/systemd/system/${unit}"; then
  # The old unit's ExecStop takes the previous address away before the new one is added.
  systemctl stop "${unit}" || true
fi
if write_file "/etc/systemd/system/${unit}" "${UNIT_FILE}"; then
  systemctl daemon-reload
  systemctl enable "${unit}" >/dev/null 2>&1
  systemctl restart "${unit}" || fail "could not add ${REGISTRY_ADDRESS} to ${INTERFACE}"
elif ! systemctl is-active --quiet "${unit}"; then
  systemctl enable --now "${unit}" >/dev/null 2>&1 || fail "could not add ${REGISTRY_ADDRESS} to ${INTERFACE}"
fi
addresses=$(ip -4 -o address show dev "${INTERFACE}")
grep -qF " ${REGISTRY_ADDRESS}/${PREFIX_LENGTH} " <<<"${addresses}" ||
  fail "${INTERFACE} does not carry ${REGISTRY_ADDRESS}/${PREFIX_LENGTH}"
step "registry address ready"
