#!/usr/bin/env bash
# A fresh bootstrap token for one worker, printed as its full `kubeadm join` command.
# The caller keeps the output secret and logs nothing. pulumi-command puts stdout and stderr into
# its error when a step fails, whatever its logging says, so nothing is printed until the join
# command is known to be whole, it is the last thing the script does, and every failure message
# has its tokens redacted.
set -euo pipefail
if ! printed=$(kubeadm token create --ttl "${TOKEN_TTL}" --description "join ${WORKER_NAME}" \
  --print-join-command 2>&1); then
  fail "kubeadm token create failed: $(redact <<<"$(tail -n 3 <<<"${printed}")")"
fi
join_command=$(grep -m 1 '^kubeadm join ' <<<"${printed}" || true)
[[ -n "${join_command}" ]] ||
  fail "kubeadm token create printed no join command: $(redact <<<"$(tail -n 3 <<<"${printed}")")"
printf '%s\n' "${join_command}"
