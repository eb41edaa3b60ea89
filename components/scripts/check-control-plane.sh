#!/usr/bin/env bash
# What an in-place update of the control plane runs: kubeadm init never runs again in place (a
# changed cluster identity replaces the whole step); this only checks the cluster is still there.
set -euo pipefail
problem=$(not_this_node)
[[ -z "${problem}" ]] || fail "this host is no longer ${NODE_NAME} (${problem})"
[[ -f /etc/kubernetes/admin.conf ]] ||
  fail "the control plane is gone (no /etc/kubernetes/admin.conf); rebuild it with pulumi up --replace on control-plane-init"
step "control plane in place"
