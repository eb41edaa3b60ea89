#!/usr/bin/env bash
# What an in-place update of a join runs: kubeadm join never runs again in place (it runs only
# with a token made for it in the same update); this only checks the node is still joined, and
# keeps a master's kube-vip static Pod as configured (a new kubeVipImage).
set -euo pipefail
cat >/dev/null # the JoinConfiguration on stdin is not needed here
problem=$(not_this_node)
[[ -z "${problem}" ]] || fail "this host is no longer ${NODE_NAME} (${problem})"
[[ -f /etc/kubernetes/kubelet.conf ]] ||
  fail "not joined (no /etc/kubernetes/kubelet.conf); join it again with pulumi up --replace on worker-${NODE_NAME}-join"
if [[ -n "${VIRTUAL_ADDRESS_MANIFEST}" ]] &&
  write_file "${VIRTUAL_ADDRESS_POD}" "${VIRTUAL_ADDRESS_MANIFEST}" 0600; then
  step "kube-vip's static Pod updated (the kubelet restarts it)"
fi
step "still joined"
