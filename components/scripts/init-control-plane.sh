#!/usr/bin/env bash
# kubeadm init on the master, once: /etc/kubernetes/admin.conf marks a finished init.
# kubeadm's own output holds a bootstrap token, so it goes to a root-only log, not to Pulumi.
set -euo pipefail

if [[ -f /etc/kubernetes/admin.conf ]]; then
  step "control plane already initialised"
else
  step "kubeadm init ${KUBERNETES_VERSION} (images from ${IMAGE_REPOSITORY}; takes a few minutes)"
  install -m 0600 /dev/null /var/log/kubeadm-init.log
  init_flags=(
    "--apiserver-advertise-address=${ADVERTISE_ADDRESS}"
    --image-repository "${IMAGE_REPOSITORY}"
    --kubernetes-version "${KUBERNETES_VERSION}"
    "--pod-network-cidr=${POD_NETWORK_CIDR}"
    "--service-cidr=${SERVICE_CIDR}"
    --node-name "${NODE_NAME}"
  )
  if [[ -n "${IGNORE_PREFLIGHT_ERRORS}" ]]; then
    init_flags+=("--ignore-preflight-errors=${IGNORE_PREFLIGHT_ERRORS}")
  fi
  if ! kubeadm init "${init_flags[@]}" >/var/log/kubeadm-init.log 2>&1; then
    grep -v -e '--token' -e 'discovery-token' /var/log/kubeadm-init.log | tail -n 30 >&2 || true
    # A failed init may have written admin.conf (the marker above), manifests and etcd data and
    # left the kubelet running: undo it, or a rerun would skip the init or fail its preflight.
    kubeadm reset -f >>/var/log/kubeadm-init.log 2>&1 || true
    fail "kubeadm init failed (full log: /var/log/kubeadm-init.log, journalctl -u kubelet)"
  fi
fi

step "kubeconfig for root and ${SSH_USER}"
user_home=$(getent passwd "${SSH_USER}" | cut -d: -f6)
[[ -n "${user_home}" ]] || fail "user ${SSH_USER} does not exist"
for home in /root "${user_home}"; do
  owner=$(stat -c %U:%G "${home}")
  if ! cmp -s /etc/kubernetes/admin.conf "${home}/.kube/config"; then
    install -d -m 0700 -o "${owner%%:*}" -g "${owner##*:}" "${home}/.kube"
    install -m 0600 -o "${owner%%:*}" -g "${owner##*:}" /etc/kubernetes/admin.conf "${home}/.kube/config"
  fi
done

step "control plane ready"
