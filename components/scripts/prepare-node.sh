#!/usr/bin/env bash
# Prepare a CentOS 7 host for kubeadm: hostname, /etc/hosts, firewalld, SELinux, swap, kernel
# modules and sysctls, yum repositories, pinned Docker with daemon.json, pinned kubelet/kubeadm/
# kubectl. Every step checks before it acts, so a second run changes nothing.
set -euo pipefail

if command -v cloud-init >/dev/null 2>&1; then
  # `cloud-init status --wait` polls without end (cloudinit/cmd/status.py in 19.4): bound it.
  step "waiting for cloud-init to finish (at most ${CLOUD_INIT_TIMEOUT_SECONDS}s)"
  status=0
  timeout "${CLOUD_INIT_TIMEOUT_SECONDS}" cloud-init status --wait >/dev/null || status=$?
  if ((status == 124)); then
    fail "cloud-init did not finish within ${CLOUD_INIT_TIMEOUT_SECONDS}s (see /var/log/cloud-init.log)"
  elif ((status != 0)); then
    warn "cloud-init finished with errors (see /var/log/cloud-init.log)"
  fi
fi

step "hostname ${NODE_NAME}"
if [[ "$(hostname)" != "${NODE_NAME}" ]]; then
  hostnamectl set-hostname "${NODE_NAME}"
fi

step "/etc/hosts entries for every node"
hosts_without_block=$(sed '/^# BEGIN kubeadm-libvirt$/,/^# END kubeadm-libvirt$/d' /etc/hosts)
write_file /etc/hosts "${hosts_without_block}
# BEGIN kubeadm-libvirt
${HOSTS_ENTRIES}
# END kubeadm-libvirt" || true

if rpm -q firewalld >/dev/null 2>&1; then
  if systemctl is-enabled --quiet firewalld || systemctl is-active --quiet firewalld; then
    step "stopping and disabling firewalld"
    systemctl disable --now firewalld
  fi
fi

if command -v getenforce >/dev/null 2>&1 && [[ "$(getenforce)" == "Enforcing" ]]; then
  step "SELinux permissive now"
  setenforce 0
fi
if [[ -f /etc/selinux/config ]]; then
  selinux_config=$(sed -E 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config)
  if write_file /etc/selinux/config "${selinux_config}"; then
    step "SELinux permissive after reboot"
  fi
fi

if [[ "${KEEP_SWAP}" == "true" ]]; then
  step "keeping swap (kubelet runs with --fail-swap-on=false)"
else
  if [[ -n "$(awk 'NR > 1' /proc/swaps)" ]]; then
    step "turning swap off"
    swapoff -a
  fi
  fstab=$(sed -E 's/^([^#].*[[:space:]]swap[[:space:]].*)$/#\1/' /etc/fstab)
  if write_file /etc/fstab "${fstab}"; then
    step "swap commented out in /etc/fstab"
  fi
fi

step "br_netfilter and bridge/forwarding sysctls"
write_file /etc/modules-load.d/kubeadm-libvirt.conf "${MODULES_CONF}" || true
modprobe br_netfilter
write_file /etc/sysctl.d/90-kubeadm-libvirt.conf "${SYSCTL_CONF}" || true
sysctl --system >/dev/null
for key in net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward; do
  [[ "$(sysctl -n "$key")" == "1" ]] || fail "sysctl $key is not 1"
done

step "yum repositories (CentOS 7 vault, docker-ce, kubernetes)"
repos_changed=false
write_file /etc/yum.repos.d/CentOS-Base.repo "${CENTOS_BASE_REPO}" && repos_changed=true
write_file /etc/yum.repos.d/docker-ce.repo "${DOCKER_CE_REPO}" && repos_changed=true
write_file /etc/yum.repos.d/kubernetes.repo "${KUBERNETES_REPO}" && repos_changed=true
if [[ "${repos_changed}" == "true" ]]; then
  yum clean all >/dev/null
fi

if ! rpm -q "${DOCKER_PACKAGE}" >/dev/null 2>&1; then
  step "installing ${DOCKER_PACKAGE}"
  yum install -y --setopt=obsoletes=0 "${DOCKER_PACKAGE}" || fail "yum install ${DOCKER_PACKAGE} failed"
fi

docker_lists_insecure_registry() {
  local info
  info=$(docker info 2>/dev/null) || return 1
  grep -qF -- "${INSECURE_REGISTRY}" <<<"${info}"
}

step "Docker daemon.json (registry mirrors, insecure registry ${INSECURE_REGISTRY})"
if write_file /etc/docker/daemon.json "${DAEMON_JSON}"; then
  step "restarting Docker for the new daemon.json"
  systemctl enable docker >/dev/null 2>&1
  systemctl restart docker || fail "Docker did not restart with the new daemon.json"
elif ! systemctl is-active --quiet docker; then
  step "starting Docker"
  systemctl enable --now docker || fail "Docker did not start"
elif ! docker_lists_insecure_registry; then
  # daemon.json is current but dockerd runs with an older one (a run stopped before restarting).
  step "restarting Docker: it still runs with an older daemon.json"
  systemctl restart docker || fail "Docker did not restart with the new daemon.json"
fi
docker_lists_insecure_registry ||
  fail "docker info does not list the insecure registry ${INSECURE_REGISTRY}"

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
