#!/usr/bin/env bash
# The pinned kubelet, kubeadm and kubectl (and what the track adds to them), the kubelet's
# settings, the kubelet enabled; kubeadm starts it.
set -euo pipefail

read -r -a kubernetes_packages <<<"${KUBERNETES_PACKAGES}"
if ! rpm -q "${kubernetes_packages[@]}" >/dev/null 2>&1; then
  step "installing ${KUBERNETES_PACKAGES}"
  yum install -y --disableexcludes=kubernetes "${kubernetes_packages[@]}" ||
    fail "yum install ${KUBERNETES_PACKAGES} failed"
  rpm -q "${kubernetes_packages[@]}" >/dev/null ||
    fail "not all of ${KUBERNETES_PACKAGES} are installed (is a newer version already there?)"
fi

if write_file /etc/sysconfig/kubelet "${KUBELET_SYSCONFIG}"; then
  step "kubelet settings written to /etc/sysconfig/kubelet"
  if systemctl is-active --quiet kubelet; then
    systemctl restart kubelet
  fi
fi
if ! systemctl is-enabled --quiet kubelet; then
  step "enabling kubelet"
  systemctl enable kubelet >/dev/null 2>&1
fi

step "host prepared"
