# shellcheck shell=bash disable=SC2034
# Sourced by every stub in tests/stubs (mounted read-only at /.stubs inside the sandbox).
#
# A stub stands in for one CentOS 7 (or AlmaLinux 9) tool. It appends its argv to
# /stub-state/calls and keeps the state the real tool would change (rpm database, systemd units,
# kernel settings, network links) under /stub-state, or writes the files the real tool writes in
# the sandboxed tree (kubeadm).
# /stub-cluster is shared by every host of one test: it plays the API server and etcd.
# A test makes a step fail by creating /stub-state/fail/<name> (see `failing`).

STATE=/stub-state
CLUSTER=/stub-cluster
TOOL=$(basename "$0")
# centos7 or el9: the platform the host plays (tests/sandbox.py writes it).
PLATFORM=$(cat "$STATE/platform" 2>/dev/null || echo centos7)

# Every call, NUL-separated: argument count, tool, arguments (parsed by tests/sandbox.py).
record() {
  {
    printf '%s\0%s\0' "$#" "$TOOL"
    if (($#)); then printf '%s\0' "$@"; fi
  } >>"$STATE/calls"
}

# failing NAME [WORDS...]: true when the test asked step NAME to fail. A flag file with content
# fails only calls whose WORDS contain that content (e.g. a package name).
failing() {
  local flag="$STATE/fail/$1"
  shift
  [[ -f $flag ]] || return 1
  local pattern
  pattern=$(<"$flag")
  [[ -z $pattern || " $* " == *"$pattern"* ]]
}

unsupported() {
  echo "stub ${TOOL}: unsupported call: ${TOOL} $*" >&2
  exit 97
}

# --- rpm database: one "name version release arch" line per installed package ---------------

# The installed package matching SPEC (name, name-version, name-version-release or with .arch).
installed_match() {
  [[ -f $STATE/rpmdb ]] || return 1
  awk -v spec="$1" '{
    nv = $1 "-" $2; nvr = nv "-" $3; nvra = nvr "." $4
    if (spec == $1 || spec == nv || spec == nvr || spec == nvra) { print nvra; found = 1; exit }
  } END { exit !found }' "$STATE/rpmdb"
}

installed_version() { # name -> "version-release" of the installed package
  [[ -f $STATE/rpmdb ]] || return 1
  awk -v name="$1" '$1 == name { print $2 "-" $3; found = 1; exit } END { exit !found }' \
    "$STATE/rpmdb"
}

require_package() { # a tool exists only once its package is installed
  if ! installed_version "$1" >/dev/null; then
    echo "bash: ${TOOL}: command not found" >&2
    exit 127
  fi
}

# --- systemd units: /stub-state/units/<name>/{enabled,active} --------------------------------

unit_name() {
  local unit=$1
  [[ $unit == *.* ]] || unit="$unit.service"
  printf '%s\n' "$unit"
}
unit_known() { [[ -d $STATE/units/$(unit_name "$1") ]]; }
unit_active() { [[ -f $STATE/units/$(unit_name "$1")/active ]]; }
unit_enabled() { [[ -f $STATE/units/$(unit_name "$1")/enabled ]]; }
set_unit() { # set_unit UNIT enabled|active on|off
  local dir
  dir="$STATE/units/$(unit_name "$1")"
  mkdir -p "$dir"
  if [[ $3 == on ]]; then : >"$dir/$2"; else rm -f "$dir/$2"; fi
}

# --- kernel: sysctls in /stub-state/sysctl/<key>, modules in /stub-state/modules/<name> -------

sysctl_path() { printf '%s/sysctl/%s\n' "$STATE" "$1"; }
sysctl_exists() { # net.bridge.* exists only while br_netfilter is loaded
  if [[ $1 == net.bridge.* ]]; then
    [[ -f $STATE/modules/br_netfilter ]]
  else
    return 0
  fi
}
sysctl_set() {
  mkdir -p "$STATE/sysctl"
  printf '%s\n' "$2" >"$(sysctl_path "$1")"
}
sysctl_get() {
  local path
  path=$(sysctl_path "$1")
  if [[ -f $path ]]; then cat "$path"; else echo 0; fi
}
swap_active() { [[ -n "$(awk 'NR > 1' /proc/swaps)" ]]; }

# --- iptables: the ruleset iptables-save prints, in /stub-state/iptables ---------------------

iptables_rules() {
  if [[ -f $STATE/iptables ]]; then cat "$STATE/iptables"; fi
}
