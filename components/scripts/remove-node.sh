#!/usr/bin/env bash
# On the (first) master: drain a worker, or a master joined after the first, and delete its Node
# object before the node is reset; a master's etcd member is removed first (one at a time: etcd
# changes membership only with a majority up), so its reset finds it gone.
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
if [[ -n "${ETCD_MEMBER}" ]]; then
  members=$(etcdctl_here member list) || fail "cannot list the etcd members"
  member_id=""
  while IFS=, read -r id _ name _; do
    if [[ "${name# }" == "${ETCD_MEMBER}" ]]; then member_id=${id}; fi
  done <<<"${members}"
  if [[ -n "${member_id}" ]]; then
    step "removing etcd member ${ETCD_MEMBER} (${member_id})"
    etcdctl_here member remove "${member_id}" >/dev/null ||
      fail "etcdctl member remove ${member_id} (${ETCD_MEMBER}) failed"
  fi
fi
kubectl delete node "${WORKER_NAME}" --ignore-not-found ||
  fail "kubectl delete node ${WORKER_NAME} failed"
step "node ${WORKER_NAME} removed"
