#!/usr/bin/env bash
# On the (first) master: wait until a joined worker shows up as a Node (a joined master also as a
# voting etcd member: kubeadm adds it as a learner and promotes it), then retire its bootstrap
# token (its id arrives on stdin), so the token lives no longer than the join.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf

token_id=""
IFS= read -r token_id || true

# A voting member: "<id>, started, <name>, <peer URLs>, <client URLs>, false" (is learner), the
# simple format of etcd-io/etcd@v3.6.14:etcdctl/ctlv3/command/printer_simple.go.
member_votes() {
  local members status name learner
  members=$(etcdctl_here member list 2>/dev/null) || return 1
  while IFS=, read -r _ status name _ _ learner; do
    if [[ "${name# }" == "${ETCD_MEMBER}" && "${status# }" == started && "${learner# }" == false ]]; then
      return 0
    fi
  done <<<"${members}"
  return 1
}

step "waiting for node ${WORKER_NAME} to register"
for _ in $(seq 1 60); do
  if kubectl get node "${WORKER_NAME}" >/dev/null 2>&1 && { [[ -z "${ETCD_MEMBER}" ]] || member_votes; }; then
    if [[ "${token_id}" =~ ^[a-z0-9]{6}$ ]]; then
      # Read whole, then searched: `kubeadm token list | grep -q` under pipefail can miss a
      # token that exists (grep stops early and the writer dies of SIGPIPE).
      tokens=$(kubeadm token list 2>&1) || fail "kubeadm token list failed: $(redact <<<"${tokens}")"
      if grep -q "^${token_id}\." <<<"${tokens}"; then
        kubeadm token delete "${token_id}" >/dev/null 2>&1 || fail "kubeadm token delete failed"
      fi
    fi
    step "node ${WORKER_NAME} registered"
    exit 0
  fi
  sleep 5
done
if [[ -n "${ETCD_MEMBER}" ]] && kubectl get node "${WORKER_NAME}" >/dev/null 2>&1; then
  fail "master ${WORKER_NAME} registered, but its etcd member is no voting member after 5 minutes (etcdctl member list)"
fi
fail "node ${WORKER_NAME} did not register within 5 minutes (see journalctl -u kubelet on it)"
