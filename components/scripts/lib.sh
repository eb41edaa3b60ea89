# Helpers shared by every host script; scripts.py puts this text in front of each script body.
# shellcheck shell=bash

step() { echo "==> [${NODE_NAME}] $*"; }

fail() {
  echo "ERROR [${NODE_NAME}]: $*" >&2
  exit 1
}

warn() { echo "warning [${NODE_NAME}]: $*" >&2; }

# write_file PATH CONTENT [MODE]: atomically replace PATH when its content differs, and give it
# MODE (0644 unless said) either way. Returns 0 when the content changed, 1 when it was equal.
write_file() {
  local path=$1 content=$2 mode=${3:-0644} tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "${path}.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    return 1
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  return 0
}

# redact: stdin with every bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}, kubeadm's format) replaced
# by [redacted].
redact() { sed -E 's/[A-Za-z0-9]{6}\.[A-Za-z0-9]{16}/[redacted]/g'; }

# redacted_tail FILE [SECRET...]: the last 30 lines of a kubeadm log, redacted, with each SECRET
# itself replaced by [redacted] too.
redacted_tail() {
  local text secret
  text=$(tail -n 30 "$1")
  for secret in "${@:2}"; do
    if [[ -n $secret ]]; then text=${text//"$secret"/[redacted]}; fi
  done
  redact <<<"$text"
}

# etcdctl_here ARGS...: etcdctl inside this master's etcd container, through the CRI (no API
# needed), with kubeadm's health-check client certificate (kubeadm's constants: pki/etcd/;
# etcd's image has etcdctl: etcd-io/etcd@v3.6.14:Dockerfile).
etcdctl_here() {
  local container
  container=$(crictl ps --name '^etcd$' -q) || return 1
  [[ -n $container ]] || { echo "no etcd container runs on this host" >&2; return 1; }
  crictl exec "$container" etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt \
    --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
    --key=/etc/kubernetes/pki/etcd/healthcheck-client.key "$@"
}

# kubelet_client_cn: the CN of the kubelet's client certificate, if the host has one: a
# worker's TLS bootstrap writes /var/lib/kubelet/pki/kubelet-client-current.pem; kubeadm init
# embeds the master's in /etc/kubernetes/kubelet.conf. Subject O=system:nodes,
# CN=system:node:<node name>.
kubelet_client_cn() {
  local pem=/var/lib/kubelet/pki/kubelet-client-current.pem data subject
  command -v openssl >/dev/null 2>&1 || return 0
  if [[ -f $pem ]]; then
    subject=$(openssl x509 -noout -subject -in "$pem" 2>/dev/null) || return 0
  elif [[ -f /etc/kubernetes/kubelet.conf ]]; then
    data=$(sed -n -E 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' \
      /etc/kubernetes/kubelet.conf) || return 0
    data=${data%%$'\n'*}
    [[ -n $data ]] || return 0
    pem=$(base64 -d <<<"$data" 2>/dev/null) || return 0
    subject=$(openssl x509 -noout -subject 2>/dev/null <<<"$pem") || return 0
  else
    return 0
  fi
  # OpenSSL 1.0.2 (CentOS 7) prints "subject= /O=system:nodes/CN=...", 1.1+ "CN = ...".
  sed -n -E 's#.*CN ?= ?([^,/]+).*#\1#p' <<<"$subject"
}

# home_of USER: the user's home directory, or nothing when there is no such user.
home_of() {
  local entry fields
  entry=$(getent passwd "$1") || return 0
  IFS=: read -r -a fields <<<"$entry"
  printf '%s\n' "${fields[5]-}"
}

# not_this_node: empty when this host is still the node NODE_NAME, else why not. Destructive
# steps run with the connection stored when they were created, and by then the address may
# belong to another node: they check this first and leave such a host alone.
not_this_node() {
  local name cn
  name=$(hostname)
  if [[ "${name}" != "${NODE_NAME}" ]]; then
    echo "its hostname is ${name}"
    return 0
  fi
  cn=$(kubelet_client_cn)
  if [[ -n "${cn}" && "${cn}" != "system:node:${NODE_NAME}" ]]; then
    echo "its kubelet's client certificate is for ${cn}"
  fi
}
