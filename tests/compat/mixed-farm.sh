#!/usr/bin/env bash
# A farm of the previous build with a node of this build: builds samples/WebFarm of this checkout
# and of an earlier commit (default 7bdc259, the last before the deterministic core's changes),
# starts two nodes of the earlier build and one of this build (sealed, a random secret), and checks
#  1. the node of this build joins: every node lists three Up and the maps agree;
#  2. it serves: 300 keys written through the old nodes read back through the new one, and 300
#     written through the new one read back through an old one;
#  3. an old node stopped and started again as this build on its own data directory (files of
#     the earlier build) rejoins with every key readable through it.
# Prints what it checked; exits non-zero on the first failure. Usage: tests/compat/mixed-farm.sh [COMMIT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
previous="${1:-7bdc259}"
work="$(mktemp -d "${TMPDIR:-/tmp}/smdss-mixed-farm.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git worktree remove --force "$work/previous" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

git worktree add --detach -f "$work/previous" "$previous" >/dev/null 2>&1
echo "building samples/WebFarm of $previous and of this checkout ($(git rev-parse --short HEAD))" >&2
dotnet build "$work/previous/samples/WebFarm" -c Release -nologo -v quiet >&2
dotnet build samples/WebFarm -c Release -nologo -v quiet >&2
old_dll="$work/previous/samples/WebFarm/bin/Release/net10.0/WebFarm.dll"
new_dll="samples/WebFarm/bin/Release/net10.0/WebFarm.dll"
export SmdSs__ClusterSecret="$(head -c 32 /dev/urandom | base64)"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A http cluster
for n in 0 1 2; do http[$n]=$(port); cluster[$n]=$(port); done

start() { # start NAME DLL
  local n=$1 dll=$2 friends=()
  [[ $n != 0 ]] && friends=(--SmdSs:Friends:0=127.0.0.1:${cluster[0]})
  dotnet "$dll" --urls "http://127.0.0.1:${http[$n]}" --SmdSs:Listen=127.0.0.1:${cluster[$n]} \
    --SmdSs:DataDirectory="$work/n$n" "${friends[@]}" >"$work/n$n.log" 2>&1 &
  pids[$n]=$!
}

wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then echo "FAILED: $what within the deadline" >&2; tail -20 "$work"/n*.log >&2; exit 1; fi
    sleep 0.5
  done
}

settled() { # every node: three nodes Up, the same map digests as node 0
  local first="" n status digests
  for n in 0 1 2; do
    status=$(curl -sf "http://127.0.0.1:${http[$n]}/smdss/status") || return 1
    [[ $(grep -o '"state":"Up"' <<<"$status" | wc -l) == 3 ]] || return 1
    digests=$(grep -oE '"(nodeMapDigest|sliceMapDigest)":"[^"]*"' <<<"$status" | tr -d '\n')
    [[ -z $first ]] && first=$digests
    [[ $digests == "$first" ]] || return 1
  done
}

put() { curl -sf -X PUT --data-binary "$3" "http://127.0.0.1:${http[$1]}/kv/$2" >/dev/null; }
get() { curl -sf "http://127.0.0.1:${http[$1]}/kv/$2"; }

all_read() { # all_read NODE PREFIX: every key PREFIX0..299 reads back its value through NODE
  local i
  for i in $(seq 0 299); do [[ $(get "$1" "$2$i" 2>/dev/null) == "value $2$i" ]] || return 1; done
}

start 0 "$old_dll"; start 1 "$old_dll"; start 2 "$new_dll"
wait_until 90 "three nodes (two of $previous, one of this build) Up with equal maps" settled
echo "joined: every node lists 3 Up, maps equal"

for i in $(seq 0 299); do put $((i % 2)) "old$i" "value old$i"; done
for i in $(seq 0 299); do put 2 "new$i" "value new$i"; done
wait_until 30 "keys written through the old nodes read through the new one" all_read 2 old
wait_until 30 "keys written through the new node read through an old one" all_read 1 new
echo "serves: 300 keys written through $previous nodes read through this build's, 300 the other way"

kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
start 0 "$new_dll"
wait_until 90 "the old node restarted as this build on its own files rejoined" settled
wait_until 30 "every key read through the restarted node" all_read 0 old
wait_until 30 "every key read through the restarted node" all_read 0 new
echo "upgraded: n0 restarted as this build on its $previous files, rejoined, all 600 keys readable through it"
