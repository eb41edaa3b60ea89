#!/usr/bin/env bash
# Undo kubeadm init/join so the host could join a cluster again: kubeadm reset, then what reset
# leaves behind (CNI interfaces and state, kube-proxy/flannel iptables rules, kubeconfigs).
set -euo pipefail

problem=$(not_this_node)
if [[ -n "${problem}" ]]; then
  warn "not resetting: this host is no longer ${NODE_NAME} (${problem})"
  exit 0
fi

if [[ -n "${VIRTUAL_ADDRESS_POD}" && -f "${VIRTUAL_ADDRESS_POD}" ]]; then
  # kube-vip gives the virtual address up only when it is stopped gracefully; kubeadm reset
  # kills it (containerd's StopPodSandbox with no grace: containerd/containerd@v2.3.4:
  # internal/cri/server/sandbox_stop.go). So its Pod goes first, and the reset waits for it.
  step "stopping kube-vip"
  rm -f "${VIRTUAL_ADDRESS_POD}"
  for _ in $(seq 1 30); do
    running=$(crictl ps --name '^kube-vip$' -q 2>/dev/null || true)
    [[ -n "${running}" ]] || break
    sleep 2
  done
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

if [[ -n "${VIRTUAL_ADDRESS}" ]]; then
  addresses=$(ip -4 -o address show dev "${INTERFACE}" 2>/dev/null || true)
  if [[ "${addresses}" == *" ${VIRTUAL_ADDRESS}/32 "* ]]; then
    step "removing the virtual address ${VIRTUAL_ADDRESS} kube-vip left on ${INTERFACE}"
    ip address del "${VIRTUAL_ADDRESS}/32" dev "${INTERFACE}"
  fi
fi

user_home=$(home_of "${SSH_USER}")
rm -f /root/.kube/config ${user_home:+"${user_home}/.kube/config"}
step "host reset"
