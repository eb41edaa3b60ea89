# Helpers shared by every host script; scripts.py puts this text in front of each script body.
# shellcheck shell=bash

step() { echo "==> [${NODE_NAME}] $*"; }

fail() {
  echo "ERROR [${NODE_NAME}]: $*" >&2
  exit 1
}

# write_file PATH CONTENT [MODE]: atomically replace PATH when its content differs.
# Returns 0 when the file changed, 1 when it already had this content.
write_file() {
  local path=$1 content=$2 mode=${3:-0644} tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "${path}.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 1
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  return 0
}
