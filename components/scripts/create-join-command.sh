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
# kubeadm 1.13 prints the command on one line; newer kubeadm continues it with a backslash
# (kubernetes/kubernetes cmd/kubeadm/app/cmd/util/join.go): one line of words either way.
join_command=""
while IFS= read -r line; do
  if [[ -z "${join_command}" && "${line}" != "kubeadm join "* ]]; then
    continue
  fi
  join_command+=" ${line%\\}"
  [[ "${line}" == *\\ ]] || break
done <<<"${printed}"
[[ -n "${join_command}" ]] ||
  fail "kubeadm token create printed no join command: $(redact <<<"$(tail -n 3 <<<"${printed}")")"
read -r -a words <<<"${join_command}"
join_command="${words[*]}"
printf '%s\n' "${join_command}"
