#!/usr/bin/env bash
# From this node: the private registry lists the app's image, at the address and port this
# node's Docker pulls through (registry API v2: GET /v2/<name>/tags/list).
set -euo pipefail
url="http://${REGISTRY_ENDPOINT}/v2/${APP_NAME}/tags/list"
step "registry ${REGISTRY_ENDPOINT} has ${APP_NAME}:${APP_TAG}"
answer=""
for attempt in $(seq 1 "${ATTEMPTS}"); do
  if answer=$(curl -fsS --max-time 5 "${url}" 2>&1) && grep -qF "\"${APP_TAG}\"" <<<"${answer}"; then
    step "ok: ${REGISTRY_ENDPOINT} lists ${APP_NAME}:${APP_TAG}"
    exit 0
  fi
  if ((attempt < ATTEMPTS)); then sleep 5; fi
done
fail "the registry at ${REGISTRY_ENDPOINT} does not list ${APP_NAME}:${APP_TAG} from this node (${url}: ${answer:-no answer})"
