#!/usr/bin/env bash
# On the master: take the registry's secondary address away again, now and for later boots.
set -euo pipefail
unit=kubeadm-libvirt-registry-address.service

problem=$(not_this_node)
if [[ -n "${problem}" ]]; then
  warn "not removing ${REGISTRY_ADDRESS}: this host is no longer ${NODE_NAME} (${problem})"
  exit 0
fi

if [[ -f "/etc/systemd/system/${unit}" ]]; then
  step "removing ${unit}"
  systemctl disable --now "${unit}" >/dev/null 2>&1 || true
  rm -f "/etc/systemd/system/${unit}"
  systemctl daemon-reload
fi
addresses=$(ip -4 -o address show dev "${INTERFACE}")
if grep -qF " ${REGISTRY_ADDRESS}/" <<<"${addresses}"; then
  ip address del "${REGISTRY_ADDRESS}/${PREFIX_LENGTH}" dev "${INTERFACE}" ||
    fail "could not remove ${REGISTRY_ADDRESS} from ${INTERFACE}"
fi
step "registry address removed"
