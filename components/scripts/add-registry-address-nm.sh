#!/usr/bin/env bash
# On the master: give the interface the registry's address as a second address of its
# NetworkManager connection, so it stays through a reconnect, a reapply and a reboot (an address
# added beside NetworkManager goes on any of them). The address this step added before is kept
# in a state file, so a new registryAddress takes the old one away.
set -euo pipefail
state=/var/lib/kubeadm-libvirt/registry-address
cidr="${REGISTRY_ADDRESS}/${PREFIX_LENGTH}"

step "registry address ${cidr} on ${INTERFACE} (NetworkManager)"
connection=$(nmcli -g GENERAL.CONNECTION device show "${INTERFACE}") ||
  fail "NetworkManager does not know ${INTERFACE}"
[[ -n "${connection}" ]] || fail "${INTERFACE} has no active NetworkManager connection"
profile=$(nmcli -g ipv4.addresses connection show "${connection}") ||
  fail "cannot read the addresses of connection ${connection}"
# nmcli -g separates the addresses with ", ".
listed=",${profile//[[:space:]]/},"
changed=false
if [[ -f "${state}" ]]; then
  previous=$(<"${state}")
  if [[ "${previous}" != "${cidr}" && "${listed}" == *",${previous},"* ]]; then
    step "taking the previous registry address ${previous} away"
    nmcli connection modify "${connection}" -ipv4.addresses "${previous}" ||
      fail "could not remove ${previous} from ${connection}"
    changed=true
  fi
fi
if [[ "${listed}" != *",${cidr},"* ]]; then
  nmcli connection modify "${connection}" +ipv4.addresses "${cidr}" ||
    fail "could not add ${cidr} to ${connection}"
  changed=true
fi
write_file "${state}" "${cidr}" 0600 || true
addresses=$(ip -4 -o address show dev "${INTERFACE}")
if [[ "${changed}" == "true" || "${addresses}" != *" ${cidr} "* ]]; then
  nmcli device reapply "${INTERFACE}" || fail "could not apply ${connection} to ${INTERFACE}"
  addresses=$(ip -4 -o address show dev "${INTERFACE}")
fi
grep -qF " ${cidr} " <<<"${addresses}" || fail "${INTERFACE} does not carry ${cidr}"
step "registry address ready"
