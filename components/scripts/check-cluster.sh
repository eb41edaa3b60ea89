#!/usr/bin/env bash
# On the master: every node Ready, every kube-system pod Running, flannel running on every node,
# and the app answering 200 through the master's and a worker's address. Things that settle get
# a bounded number of tries; then every problem is named.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf

problems=()
look() {
  problems=()
  local nodes pods flannel url code node
  # kubectl 1.13: JSONPath with range and filters (no `kubectl wait --all` before 1.14).
  nodes=$(kubectl get nodes -o \
    'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    2>&1) || problems+=("cannot list nodes: ${nodes}")
  for node in ${NODES}; do
    grep -qx "${node} True" <<<"${nodes}" || problems+=("node ${node} is not Ready")
  done
  pods=$(kubectl -n kube-system get pods -o \
    'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.spec.nodeName}{"\n"}{end}' \
    2>&1) || problems+=("cannot list kube-system pods: ${pods}")
  while read -r pod phase node; do
    [[ -z "${pod}" || "${phase}" == Running ]] || problems+=("kube-system pod ${pod} on ${node} is ${phase}")
  done <<<"${pods}"
  flannel=$(kubectl -n "${FLANNEL_NAMESPACE}" get pods -l app=flannel -o \
    'jsonpath={range .items[*]}{.spec.nodeName}{" "}{.status.phase}{"\n"}{end}' 2>&1) ||
    problems+=("cannot list flannel pods: ${flannel}")
  for node in ${NODES}; do
    grep -qx "${node} Running" <<<"${flannel}" || problems+=("flannel is not running on ${node}")
  done
  for url in ${APP_URLS}; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${url}" || true)
    [[ "${code}" == 200 ]] || problems+=("the app answered ${code:-nothing} at ${url}, not 200")
  done
}

step "checking nodes, kube-system pods, flannel and the app"
for attempt in $(seq 1 "${ATTEMPTS}"); do
  look
  if ((${#problems[@]} == 0)); then
    step "ok: nodes ${NODES// /, } Ready; kube-system pods Running; flannel on every node"
    for url in ${APP_URLS}; do step "ok: the app answers 200 at ${url}"; done
    exit 0
  fi
  if ((attempt < ATTEMPTS)); then sleep 5; fi
done
for problem in "${problems[@]}"; do echo "problem: ${problem}" >&2; done
fail "the cluster is not in its end state: ${problems[0]}"
