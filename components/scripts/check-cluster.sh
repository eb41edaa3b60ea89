#!/usr/bin/env bash
# On the (first) master: every node Ready, every kube-system pod Running, flannel running on every
# node, the app answering 200 through the master's and a worker's address, and with more than one
# master the API through its virtual address and one voting etcd member per master. Things that
# settle get a bounded number of tries; then every problem is named.
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
  if [[ -n "${API_URL}" ]]; then
    # /livez is open to anyone (the system:public-info-viewer role); -k: the check is that the
    # virtual address answers, the kubeconfig pins the CA.
    code=$(curl -k -s -o /dev/null -w '%{http_code}' --max-time 5 "${API_URL}" || true)
    [[ "${code}" == 200 ]] || problems+=("the API answered ${code:-nothing} at ${API_URL}, not 200")
  fi
  if [[ -n "${ETCD_MEMBERS}" ]]; then
    local members voting=0 status learner
    members=$(etcdctl_here member list 2>&1) || problems+=("cannot list etcd members: ${members}")
    while IFS=, read -r _ status _ _ _ learner; do
      if [[ "${status# }" == started && "${learner# }" == false ]]; then voting=$((voting + 1)); fi
    done <<<"${members}"
    ((voting == ETCD_MEMBERS)) ||
      problems+=("etcd has ${voting} voting members, not ${ETCD_MEMBERS} (one per master)")
  fi
}

step "checking nodes, kube-system pods, flannel and the app"
for attempt in $(seq 1 "${ATTEMPTS}"); do
  look
  if ((${#problems[@]} == 0)); then
    step "ok: nodes ${NODES// /, } Ready; kube-system pods Running; flannel on every node"
    for url in ${APP_URLS}; do step "ok: the app answers 200 at ${url}"; done
    if [[ -n "${API_URL}" ]]; then step "ok: the API answers at ${API_URL}"; fi
    if [[ -n "${ETCD_MEMBERS}" ]]; then step "ok: etcd has ${ETCD_MEMBERS} voting members"; fi
    exit 0
  fi
  if ((attempt < ATTEMPTS)); then sleep 5; fi
done
for problem in "${problems[@]}"; do echo "problem: ${problem}" >&2; done
fail "the cluster is not in its end state: ${problems[0]}"
