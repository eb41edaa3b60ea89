#!/usr/bin/env bash
# A fresh bootstrap token for one worker, printed as its full `kubeadm join` command.
# The caller keeps the output secret and logs nothing.
set -euo pipefail
kubeadm token create --ttl "${TOKEN_TTL}" --description "join ${WORKER_NAME}" \
  --print-join-command || fail "kubeadm token create failed"
