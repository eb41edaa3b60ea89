#!/usr/bin/env bash
# What an in-place update of a join runs: kubeadm join never runs again in place (it runs only
# with a token made for it in the same update); this only checks the worker is still joined.
set -euo pipefail
cat >/dev/null # the JoinConfiguration on stdin is not needed here
problem=$(not_this_node)
[[ -z "${problem}" ]] || fail "this host is no longer ${NODE_NAME} (${problem})"
[[ -f /etc/kubernetes/kubelet.conf ]] ||
  fail "not joined (no /etc/kubernetes/kubelet.conf); join it again with pulumi up --replace on worker-${NODE_NAME}-join"
step "still joined"
