#!/usr/bin/env bash
# A fresh bootstrap token for one worker (or a master joined after the first, with the
# control-plane certificates uploaded under a fresh key), printed as its full `kubeadm join`
# command.
# The caller keeps the output secret and logs nothing. pulumi-command puts stdout and stderr into
# its error when a step fails, whatever its logging says, so nothing is printed until the join
# command is known to be whole, it is the last thing the script does, and every failure message
# has its tokens redacted.
set -euo pipefail
key_flags=()
certificate_key=""
if [[ "${CONTROL_PLANE}" == "true" ]]; then
  # A master joins with the control-plane certificates, uploaded now under a fresh key (the
  # upload is deleted after two hours: a master that joins later gets a new one). Neither the key
  # nor kubeadm's output that prints it goes anywhere but this variable.
  certificate_key=$(kubeadm certs certificate-key 2>/dev/null) ||
    fail "kubeadm certs certificate-key failed"
  if ! uploaded=$(kubeadm init phase upload-certs --upload-certs \
    --certificate-key "${certificate_key}" 2>&1); then
    fail "kubeadm init phase upload-certs failed: $(redact <<<"$(tail -n 3 <<<"${uploaded//"${certificate_key}"/[redacted]}")")"
  fi
  key_flags=(--certificate-key "${certificate_key}")
fi
if ! printed=$(kubeadm token create --ttl "${TOKEN_TTL}" --description "join ${WORKER_NAME}" \
  --print-join-command ${key_flags[@]+"${key_flags[@]}"} 2>&1); then
  fail "kubeadm token create failed: $(redact <<<"$(tail -n 3 <<<"${printed//"${certificate_key:-%%none%%}"/[redacted]}")")"
fi
# One line of words: kubeadm 1.13 prints one line; newer kubeadm joins its template's
# backslash-continued lines but keeps their spaces (kubernetes/kubernetes
# cmd/kubeadm/app/cmd/token.go RunCreateToken).
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
