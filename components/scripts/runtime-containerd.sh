#!/usr/bin/env bash
# containerd for the current track: the pinned containerd.io (and crictl) and its whole config.toml
# (CRI on, the systemd cgroup driver, kubeadm's pause image), hosts.toml per registry,
# /etc/crictl.yaml.
# containerd restarts only when config.toml changed; hosts.toml is read on every pull.
set -euo pipefail

# containerd.io and crictl, the CRI's client this script asks (cri-tools comes from the
# Kubernetes repository, which excludes it from updates).
read -r -a runtime_packages <<<"${RUNTIME_PACKAGES}"
if ! rpm -q "${runtime_packages[@]}" >/dev/null 2>&1; then
  step "installing ${RUNTIME_PACKAGES}"
  yum install -y --disableexcludes=kubernetes "${runtime_packages[@]}" ||
    fail "yum install ${RUNTIME_PACKAGES} failed"
  rpm -q "${runtime_packages[@]}" >/dev/null ||
    fail "not all of ${RUNTIME_PACKAGES} are installed (is a newer version already there?)"
fi

step "containerd registry hosts in ${CERTS_DIRECTORY}"
while read -r directory encoded; do
  content=$(base64 -d <<<"${encoded}") || fail "cannot decode hosts.toml of ${directory}"
  write_file "${CERTS_DIRECTORY}/${directory}/hosts.toml" "${content}" || true
done <<<"${REGISTRY_HOSTS}"
write_file /etc/crictl.yaml "${CRICTL_CONFIG}" || true

# The daemon's view: `containerd config dump` reads the file, not the daemon; `crictl info` shows
# the CRI configuration containerd runs with (containerd/containerd@v2.3.4:
# cmd/containerd/command/config.go, internal/cri/server/status.go).
runtime_answers() {
  local info
  info=$(crictl info 2>/dev/null) || return 1
  grep -q '"SystemdCgroup": true' <<<"${info}"
}

# The sha256 of the config.toml containerd last (re)started with: a run stopped between writing
# the file and restarting is finished by the next one.
applied=/var/lib/kubeadm-libvirt/containerd-config.sha256
step "containerd config.toml (CRI, systemd cgroups, sandbox image)"
write_file /etc/containerd/config.toml "${CONTAINERD_CONFIG}" || true
wanted=$(sha256sum /etc/containerd/config.toml) || fail "cannot read /etc/containerd/config.toml"
wanted=${wanted%% *}
if [[ ! -f "${applied}" || "$(<"${applied}")" != "${wanted}" ]]; then
  if systemctl is-active --quiet containerd; then
    step "restarting containerd for the new config.toml"
    systemctl restart containerd || fail "containerd did not restart with the new config.toml"
  else
    step "starting containerd"
    systemctl start containerd || fail "containerd did not start with the new config.toml"
  fi
  write_file "${applied}" "${wanted}" 0600 || true
elif ! systemctl is-active --quiet containerd; then
  step "starting containerd"
  systemctl start containerd || fail "containerd did not start"
fi
if ! systemctl is-enabled --quiet containerd; then
  systemctl enable containerd >/dev/null 2>&1 || fail "systemctl enable containerd failed"
fi
runtime_answers ||
  fail "containerd does not serve the CRI with the systemd cgroup driver (crictl info)"
