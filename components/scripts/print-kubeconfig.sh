#!/usr/bin/env bash
# Print the admin kubeconfig; the caller keeps the output secret and logs nothing.
set -euo pipefail
[[ -f /etc/kubernetes/admin.conf ]] || fail "/etc/kubernetes/admin.conf is missing: run kubeadm init first"
cat /etc/kubernetes/admin.conf
