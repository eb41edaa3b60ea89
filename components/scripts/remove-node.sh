#!/usr/bin/env bash
# On the master: drain a worker and delete its Node object before the worker is reset.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf

if [[ ! -f /etc/kubernetes/admin.conf ]] || ! kubectl get node "${WORKER_NAME}" >/dev/null 2>&1; then
  step "node ${WORKER_NAME} is not in the cluster"
  exit 0
fi
step "draining node ${WORKER_NAME}"
kubectl drain "${WORKER_NAME}" --ignore-daemonsets --delete-local-data --force --timeout=120s ||
  echo "warning: drain of ${WORKER_NAME} did not finish; deleting the node anyway" >&2
kubectl delete node "${WORKER_NAME}" --ignore-not-found ||
  fail "kubectl delete node ${WORKER_NAME} failed"
step "node ${WORKER_NAME} removed"
