#!/usr/bin/env bash
# What an in-place update of the control plane runs: kubeadm init never runs again in place (a
# changed cluster identity replaces the whole step); this only checks the cluster is still there,
# and keeps kube-vip's static Pod as configured (a new kubeVipImage).
set -euo pipefail
problem=$(not_this_node)
[[ -z "${problem}" ]] || fail "this host is no longer ${NODE_NAME} (${problem})"
[[ -f /etc/kubernetes/admin.conf ]] ||
  fail "the control plane is gone (no /etc/kubernetes/admin.conf); rebuild it with pulumi up --replace on control-plane-init"
if [[ -n "${VIRTUAL_ADDRESS_MANIFEST}" ]] &&
  write_file "${VIRTUAL_ADDRESS_POD}" "${VIRTUAL_ADDRESS_MANIFEST}" 0600; then
  step "kube-vip's static Pod updated (the kubelet restarts it)"
fi
step "control plane in place"
