#!/usr/bin/env bash
# The admin kubeconfig for root and the SSH user (kubectl on the master works for both), with
# owner and mode set on every run, whether or not the content changed.
set -euo pipefail
[[ -f /etc/kubernetes/admin.conf ]] || fail "/etc/kubernetes/admin.conf is missing: run kubeadm init first"
user_home=$(home_of "${SSH_USER}")
[[ -n "${user_home}" ]] || fail "user ${SSH_USER} does not exist"
step "kubeconfig for root and ${SSH_USER}"
for home in /root "${user_home}"; do
  owner=$(stat -c %U:%G "${home}")
  install -d -m 0700 -o "${owner%%:*}" -g "${owner##*:}" "${home}/.kube"
  if ! cmp -s /etc/kubernetes/admin.conf "${home}/.kube/config"; then
    install -m 0600 -o "${owner%%:*}" -g "${owner##*:}" /etc/kubernetes/admin.conf "${home}/.kube/config"
  fi
  chown "${owner}" "${home}/.kube" "${home}/.kube/config"
  chmod 0700 "${home}/.kube"
  chmod 0600 "${home}/.kube/config"
done
