#!/usr/bin/env bash
# Docker for the tutorial's track: the pinned docker-ce and daemon.json with the private registry
# trusted and the mirrors, Docker restarted only when daemon.json changed.
set -euo pipefail

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
