#!/usr/bin/env bash
# kubeadm init on the (first) master, once: /etc/kubernetes/admin.conf marks a finished init. The
# track gives its flags (INIT_FLAGS, one per line), its configuration file (INIT_CONFIG), or both;
# with a virtual API address, kube-vip's static Pod (VIRTUAL_ADDRESS_MANIFEST*) holds it.
# kubeadm's own output holds a bootstrap token, so it goes to a root-only log, not to Pulumi.
set -euo pipefail
log=/var/log/kubeadm-init.log
config=/run/kubeadm-libvirt-init.yaml

if [[ -f /etc/kubernetes/admin.conf ]]; then
  step "control plane already initialised"
else
  if [[ -f /etc/kubernetes/kubelet.conf ]]; then
    # This host still belongs to another cluster as a worker (the master moved here).
    step "kubeadm reset: this host was joined to another cluster as a worker"
    kubeadm reset -f >/dev/null 2>&1 || fail "kubeadm reset failed"
  fi
  step "kubeadm init ${KUBERNETES_VERSION} (images from ${IMAGE_REPOSITORY}; takes a few minutes)"
  install -m 0600 /dev/null "${log}"
  init_flags=()
  if [[ -n "${INIT_FLAGS}" ]]; then
    mapfile -t init_flags <<<"${INIT_FLAGS}"
  fi
  if [[ -n "${VIRTUAL_ADDRESS_MANIFEST_INIT}" ]]; then
    # kubeadm init reaches the API through the virtual address, so kube-vip must hold it
    # during init, with super-admin.conf: admin.conf has rights only once init is done.
    write_file "${VIRTUAL_ADDRESS_POD}" "${VIRTUAL_ADDRESS_MANIFEST_INIT}" 0600 || true
  fi
  if [[ -n "${INIT_CONFIG}" ]]; then
    trap 'rm -f "${config}"' EXIT
    install -m 0600 /dev/null "${config}"
    printf '%s\n' "${INIT_CONFIG}" >"${config}"
    init_flags+=(--config "${config}")
  fi
  if ! kubeadm init "${init_flags[@]}" >>"${log}" 2>&1; then
    redacted_tail "${log}" >&2 || true
    # A failed init may have written admin.conf (the marker above), manifests and etcd data and
    # left the kubelet running: undo it, or a rerun would skip the init or fail its preflight.
    kubeadm reset -f >>"${log}" 2>&1 || true
    fail "kubeadm init failed (full log: ${log}, journalctl -u kubelet)"
  fi
fi

if [[ -n "${VIRTUAL_ADDRESS_MANIFEST}" ]] &&
  write_file "${VIRTUAL_ADDRESS_POD}" "${VIRTUAL_ADDRESS_MANIFEST}" 0600; then
  step "kube-vip reads the API with admin.conf from now on"
fi

# kubeadm init always makes a 24h bootstrap token and prints it ("[bootstrap-token] Using
# token: ..."); workers get tokens of their own, so retire it. (A log that is gone, as after a
# rerun on a host whose log was cleaned up, names no token: nothing to retire then.)
init_token=""
if [[ -f "${log}" ]]; then
  logged=$(sed -n -E 's/^\[bootstrap-?token\] Using token: ([a-z0-9]{6})\.[a-z0-9]{16}$/\1/ip' \
    "${log}") || fail "cannot read ${log}"
  init_token=${logged##*$'\n'}
fi
if [[ -n "${init_token}" ]]; then
  export KUBECONFIG=/etc/kubernetes/admin.conf
  tokens=$(kubeadm token list 2>/dev/null) || fail "kubeadm token list failed"
  if grep -q "^${init_token}\." <<<"${tokens}"; then
    step "retiring kubeadm init's default bootstrap token"
    kubeadm token delete "${init_token}" >/dev/null 2>&1 || fail "kubeadm token delete failed"
  fi
fi
step "control plane ready"
