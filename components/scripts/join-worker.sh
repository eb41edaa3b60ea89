#!/usr/bin/env bash
# Join this worker, once: /etc/kubernetes/kubelet.conf marks a finished join.
# The join command (with its token) arrives on stdin, never in the command line.
set -euo pipefail

join_command=""
IFS= read -r join_command || true

if [[ -f /etc/kubernetes/kubelet.conf ]]; then
  step "already joined"
  exit 0
fi
[[ "${join_command}" == "kubeadm join "* ]] || fail "no kubeadm join command on stdin"
read -r -a join_args <<<"${join_command}"
join_args+=(--node-name "${NODE_NAME}")
if [[ -n "${IGNORE_PREFLIGHT_ERRORS}" ]]; then
  join_args+=("--ignore-preflight-errors=${IGNORE_PREFLIGHT_ERRORS}")
fi

step "kubeadm join ${CONTROL_PLANE_ENDPOINT}"
install -m 0600 /dev/null /var/log/kubeadm-join.log
if ! "${join_args[@]}" >/var/log/kubeadm-join.log 2>&1; then
  grep -v -e '--token' -e 'discovery-token' /var/log/kubeadm-join.log | tail -n 30 >&2 || true
  # A failed join may have written ca.crt, bootstrap-kubelet.conf or even kubelet.conf (the marker
  # above) and left the kubelet running: undo it, or a rerun would skip or fail its preflight.
  kubeadm reset -f >>/var/log/kubeadm-join.log 2>&1 || true
  fail "kubeadm join failed (full log: /var/log/kubeadm-join.log, journalctl -u kubelet)"
fi
step "joined"
