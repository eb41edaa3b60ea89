#!/usr/bin/env bash
# On the master: take the registry's address out of the interface's NetworkManager connection
# again, now and for later boots.
set -euo pipefail
state=/var/lib/kubeadm-libvirt/registry-address
cidr="${REGISTRY_ADDRESS}/${PREFIX_LENGTH}"

problem=$(not_this_node)
if [[ -n "${problem}" ]]; then
  warn "not removing ${REGISTRY_ADDRESS}: this host is no longer ${NODE_NAME} (${problem})"
  exit 0
fi

connection=$(nmcli -g GENERAL.CONNECTION device show "${INTERFACE}") ||
  fail "NetworkManager does not know ${INTERFACE}"
if [[ -n "${connection}" ]]; then
  profile=$(nmcli -g ipv4.addresses connection show "${connection}") ||
    fail "cannot read the addresses of connection ${connection}"
  if [[ ",${profile//[[:space:]]/}," == *",${cidr},"* ]]; then
    step "removing ${cidr} from ${connection}"
    nmcli connection modify "${connection}" -ipv4.addresses "${cidr}" ||
      fail "could not remove ${cidr} from ${connection}"
    nmcli device reapply "${INTERFACE}" || fail "could not apply ${connection} to ${INTERFACE}"
  fi
fi
rm -f "${state}"
step "registry address removed"
