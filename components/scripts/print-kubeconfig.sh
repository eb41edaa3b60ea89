#!/usr/bin/env bash
# Print the admin kubeconfig; the caller keeps the output secret and logs nothing. It is read whole
# before anything is printed, so a failure never puts part of it into pulumi-command's error.
set -euo pipefail
[[ -f /etc/kubernetes/admin.conf ]] || fail "/etc/kubernetes/admin.conf is missing: run kubeadm init first"
kubeconfig=$(cat /etc/kubernetes/admin.conf) || fail "cannot read /etc/kubernetes/admin.conf"
printf '%s\n' "${kubeconfig}"
