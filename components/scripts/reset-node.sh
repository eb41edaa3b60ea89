#!/usr/bin/env bash
# Undo kubeadm init/join so the host could join a cluster again: kubeadm reset, then what reset
# leaves behind (CNI interfaces and state, kube-proxy/flannel iptables rules, kubeconfigs).
set -euo pipefail

problem=$(not_this_node)
if [[ -n "${problem}" ]]; then
  warn "not resetting: this host is no longer ${NODE_NAME} (${problem})"
  exit 0
fi

# The kubelet RPM owns an empty /etc/kubernetes/manifests: only what kubeadm wrote counts.
kubeadm_files=$(find /etc/kubernetes -mindepth 1 -type f -print -quit 2>/dev/null || true)
if [[ -n "${kubeadm_files}" || -n "$(ls -A /var/lib/etcd 2>/dev/null)" ]]; then
  step "kubeadm reset"
  kubeadm reset -f >/dev/null 2>&1 || fail "kubeadm reset failed"
fi

for link in cni0 flannel.1; do
  if ip link show "${link}" >/dev/null 2>&1; then
    step "deleting interface ${link}"
    ip link delete "${link}"
  fi
done
rm -rf /var/lib/cni /etc/cni/net.d

rules=$(iptables-save)
kept=$(grep -v -F -e 'KUBE-' -e 'CNI-' -e 'FLANNEL' -e "${POD_NETWORK_CIDR}" <<<"${rules}" || true)
if [[ "${kept}" != "${rules}" ]]; then
  step "removing kube-proxy and flannel iptables rules"
  iptables-restore <<<"${kept}"
fi

user_home=$(home_of "${SSH_USER}")
rm -f /root/.kube/config ${user_home:+"${user_home}/.kube/config"}
step "host reset"
