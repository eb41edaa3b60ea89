#!/usr/bin/env bash
# Join this worker, or this master after the first, once: /etc/kubernetes/kubelet.conf with this
# node's kubelet certificate marks a finished join. The kubeadm JoinConfiguration (it holds the
# bootstrap token, and a master's certificate key) arrives on stdin and reaches kubeadm as a
# root-only file: neither is ever on a command line. A master gets kube-vip's static Pod after
# the join (kubeadm's join preflight wants an empty manifests directory).
set -euo pipefail
log=/var/log/kubeadm-join.log
config=/run/kubeadm-libvirt-join.yaml

join_configuration=$(cat)

place_virtual_address_pod() {
  if [[ -n "${VIRTUAL_ADDRESS_MANIFEST}" ]] &&
    write_file "${VIRTUAL_ADDRESS_POD}" "${VIRTUAL_ADDRESS_MANIFEST}" 0600; then
    step "kube-vip runs here too, to hold the API's virtual address when this master leads"
  fi
}

if [[ -f /etc/kubernetes/kubelet.conf ]]; then
  problem=$(not_this_node)
  if [[ -z "${problem}" ]]; then
    step "already joined"
    place_virtual_address_pod
    exit 0
  fi
  # Joined under another name (the node was renamed on this address): start again.
  step "kubeadm reset: joined before as another node (${problem})"
  kubeadm reset -f >/dev/null 2>&1 || fail "kubeadm reset failed"
fi
grep -q '^kind: JoinConfiguration$' <<<"${join_configuration}" ||
  fail "no kubeadm JoinConfiguration on stdin"
token=""
if [[ "${join_configuration}" =~ [[:space:]]token:[[:space:]]*([^[:space:]]+) ]]; then
  token=${BASH_REMATCH[1]}
fi
certificate_key=""
if [[ "${join_configuration}" =~ [[:space:]]certificateKey:[[:space:]]*([^[:space:]]+) ]]; then
  certificate_key=${BASH_REMATCH[1]}
fi

step "kubeadm join ${CONTROL_PLANE_ENDPOINT}"
trap 'rm -f "${config}"' EXIT
install -m 0600 /dev/null "${config}"
printf '%s\n' "${join_configuration}" >"${config}"
install -m 0600 /dev/null "${log}"
# The track's flags beside --config, one per line (kubeadm allows only a few there:
# ValidateMixedArguments in kubeadm's validation.go).
join_flags=(--config "${config}")
if [[ -n "${JOIN_FLAGS}" ]]; then
  mapfile -t extra_flags <<<"${JOIN_FLAGS}"
  join_flags+=("${extra_flags[@]}")
fi
if ! kubeadm join "${join_flags[@]}" >>"${log}" 2>&1; then
  redacted_tail "${log}" "${token}" "${certificate_key}" >&2 || true
  # A failed join may have written ca.crt, bootstrap-kubelet.conf or even kubelet.conf (the marker
  # above) and left the kubelet running: undo it, or a rerun would skip or fail its preflight.
  kubeadm reset -f >>"${log}" 2>&1 || true
  fail "kubeadm join failed (full log: ${log}, journalctl -u kubelet)"
fi
place_virtual_address_pod
step "joined"
