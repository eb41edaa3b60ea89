#!/usr/bin/env bash
# On the master: drain a worker and delete its Node object before the worker is reset.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf

problem=$(not_this_node)
if [[ -n "${problem}" ]]; then
  warn "not removing node ${WORKER_NAME}: this host is no longer the master ${NODE_NAME} (${problem})"
  exit 0
fi
if [[ ! -f /etc/kubernetes/admin.conf ]]; then
  step "no control plane here, so no node ${WORKER_NAME} to remove"
  exit 0
fi
if ! lookup=$(kubectl get node "${WORKER_NAME}" 2>&1); then
  if grep -q "(NotFound)" <<<"${lookup}"; then
    step "node ${WORKER_NAME} is not in the cluster"
    exit 0
  fi
  fail "cannot look up node ${WORKER_NAME} to remove it: ${lookup}"
fi
step "draining node ${WORKER_NAME}"
read -r -a drain_flags <<<"${DRAIN_FLAGS}"
kubectl drain "${WORKER_NAME}" "${drain_flags[@]}" ||
  warn "drain of ${WORKER_NAME} did not finish; deleting the node anyway"
kubectl delete node "${WORKER_NAME}" --ignore-not-found ||
  fail "kubectl delete node ${WORKER_NAME} failed"
step "node ${WORKER_NAME} removed"
