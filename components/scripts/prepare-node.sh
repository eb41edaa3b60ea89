#!/usr/bin/env bash
# Prepare a host for kubeadm: hostname, /etc/hosts, firewalld, SELinux, swap, kernel modules and
# sysctls, the platform's own files and yum repositories. The container runtime and the
# Kubernetes packages follow (runtime-*.sh, install-kubernetes.sh). Every step checks before it
# acts, so a second run changes nothing.
set -euo pipefail

if command -v cloud-init >/dev/null 2>&1; then
  # `cloud-init status --wait` polls without end (cloudinit/cmd/status.py in 19.4): bound it.
  # It exits 2 for a boot that finished with warnings (cloud-init 23.4 and later): go on.
  step "waiting for cloud-init to finish (at most ${CLOUD_INIT_TIMEOUT_SECONDS}s)"
  status=0
  timeout "${CLOUD_INIT_TIMEOUT_SECONDS}" cloud-init status --wait >/dev/null || status=$?
  if ((status == 124)); then
    fail "cloud-init did not finish within ${CLOUD_INIT_TIMEOUT_SECONDS}s (see /var/log/cloud-init.log)"
  elif ((status != 0)); then
    warn "cloud-init finished with errors or warnings (see /var/log/cloud-init.log)"
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
  step "keeping swap (the kubelet is told to run with it)"
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

step "kernel modules and bridge/forwarding sysctls"
write_file /etc/modules-load.d/kubeadm-libvirt.conf "${MODULES_CONF}" || true
while read -r module; do
  modprobe "${module}"
done <<<"${MODULES_CONF}"
write_file /etc/sysctl.d/90-kubeadm-libvirt.conf "${SYSCTL_CONF}" || true
sysctl --system >/dev/null
for key in net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward; do
  [[ "$(sysctl -n "$key")" == "1" ]] || fail "sysctl $key is not 1"
done

if [[ -n "${HOST_FILES}" ]]; then
  step "the platform's own files"
  while read -r path mode action unit encoded; do
    content=$(base64 -d <<<"${encoded}") || fail "cannot decode the content of ${path}"
    if write_file "${path}" "${content}" "${mode}" && [[ "${action}" != "-" ]]; then
      step "${action} ${unit} for ${path}"
      systemctl "${action}" "${unit}" || fail "systemctl ${action} ${unit} failed"
    fi
  done <<<"${HOST_FILES}"
fi

step "yum repositories"
repos_changed=false
while read -r name encoded; do
  content=$(base64 -d <<<"${encoded}") || fail "cannot decode the content of ${name}"
  write_file "/etc/yum.repos.d/${name}" "${content}" && repos_changed=true
done <<<"${REPO_FILES}"
if [[ "${repos_changed}" == "true" ]]; then
  yum clean all >/dev/null
fi
if [[ -n "${RPM_KEYS}" ]]; then
  # Imported on every run: a key extended rather than rotated is never fetched again by yum.
  # The repository's URLs are mirrors tried in order, so a mirror that is down is passed over;
  # only when no mirror gives the key does the run stop.
  imported=0
  while read -r key; do
    if rpm --import "${key}" >/dev/null 2>&1; then
      imported=$((imported + 1))
    else
      warn "rpm --import ${key} failed: that mirror is passed over"
    fi
  done <<<"${RPM_KEYS}"
  ((imported > 0)) || fail "rpm --import failed for every key: ${RPM_KEYS//$'\n'/ }"
fi
