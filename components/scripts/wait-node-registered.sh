#!/usr/bin/env bash
# On the master: wait until a joined worker shows up as a Node, then retire its bootstrap token
# (its id arrives on stdin), so the token lives no longer than the join.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf

token_id=""
IFS= read -r token_id || true

step "waiting for node ${WORKER_NAME} to register"
for _ in $(seq 1 60); do
  if kubectl get node "${WORKER_NAME}" >/dev/null 2>&1; then
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
fail "node ${WORKER_NAME} did not register within 5 minutes (see journalctl -u kubelet on it)"
