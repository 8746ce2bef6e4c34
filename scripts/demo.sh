#!/usr/bin/env bash
# The README's first command: on a fresh Debian bookworm machine (as root) it
# sets up, brings up a lab of three simulated hosts, applies a 3-server
# ZooKeeper ensemble to them and prints its status (leader and followers).
# Options go to `lab up`: --dir and --subnet put a second lab beside one that
# is already up, --zk-version picks the release.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

dir=/var/tmp/zkfleet-lab
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --dir) dir="${args[i + 1]:-}" ;;
    --dir=*) dir="${args[i]#--dir=}" ;;
  esac
done

bash "$root/scripts/setup.sh"
zkfleet() { node "$root/bin/zkfleet.js" "$@"; }
# Every lab's ensemble is called "lab": with the shared default journal, a run
# recorded against one lab's addresses makes apply refuse a later lab on other
# addresses (ensemble_elsewhere). Kept in the lab, the record goes with it.
export ZKFLEET_JOURNAL="${ZKFLEET_JOURNAL:-$dir/journal}"

zkfleet lab up --hosts 3 "$@"
# From here on the lab exists, whatever happens next: say how to remove it.
trap 'echo; echo "the run:     zkfleet runs --journal $ZKFLEET_JOURNAL"; echo "tear down:   zkfleet lab down --dir $dir"' EXIT

# apply exits 2 when it changed something, as it does on a new lab.
rc=0
zkfleet apply -i "$dir/inventory.yml" --yes || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 2 ] || exit "$rc"
zkfleet status -i "$dir/inventory.yml"
