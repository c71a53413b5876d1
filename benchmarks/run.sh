#!/usr/bin/env bash
# Builds the benchmark harness in Release and runs it; arguments go to the harness
# (--cluster, --increments or --all, --quick for a smoke run, --duration SECONDS, --output FILE,
# --cluster-output FILE, --increments-output FILE, --help).
#
# --cluster / --increments / --all (the benchmarks against Redis) also: install redis-server with
# apt-get when it is missing, start one on a free loopback port with persistence off, and hand
# the harness a scratch directory; --cluster / --all build samples/WebFarm in Release too. On
# exit, also on failure or Ctrl+C, redis-server and any WebFarm or increment worker process the
# harness left behind are killed (by the pid files it writes) and the scratch directory is deleted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

redis=false
webfarm=false
for arg in "$@"; do
  case "$arg" in
    --cluster | --all) redis=true; webfarm=true ;;
    --increments) redis=true ;;
    --help | -h) redis=false; webfarm=false; break ;;
  esac
done

dotnet build benchmarks/SmdSs.Benchmarks -c Release -nologo -v quiet >&2  # stdout is for the results
if [[ $redis == false ]]; then
  exec dotnet run --project benchmarks/SmdSs.Benchmarks -c Release --no-build -- "$@"
fi

if [[ $webfarm == true ]]; then
  dotnet build samples/WebFarm -c Release -nologo -v quiet >&2
fi

if ! command -v redis-server >/dev/null; then
  echo "redis-server not found; installing it with apt-get" >&2
  sudo=""
  if [[ $EUID -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get install -y redis-server >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y redis-server >&2; }
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/smdss-cluster-bench.XXXXXX")"
redis_pid=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $redis_pid ]]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  # WebFarm and increment worker processes the harness did not get to stop (it writes one file
  # per pid and removes it after the kill).
  for pid_file in "$work"/pids/*; do
    [[ -e $pid_file ]] || continue
    pid="$(basename "$pid_file")"
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq 'WebFarm\.dll|--increment-worker'; then
      echo "killing leftover benchmark process $pid" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

redis_ping() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'PING\r\n' >&3
    IFS= read -r -t 1 reply <&3
    [[ $reply == +PONG* ]]
  ) 2>/dev/null
}

start_redis() {
  local port ready
  for _ in 1 2 3; do
    port="$(free_port)"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      >"$work/redis.log" 2>&1 &
    redis_pid=$!
    ready=false
    for _ in $(seq 1 100); do
      if redis_ping "$port"; then ready=true; break; fi
      if ! kill -0 "$redis_pid" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if [[ $ready == true ]]; then
      redis_port=$port
      return 0
    fi
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
    echo "redis-server did not start on port $port:" >&2
    cat "$work/redis.log" >&2
  done
  return 1
}

redis_port=""
start_redis
echo "redis-server (pid $redis_pid) on 127.0.0.1:$redis_port; scratch directory $work" >&2

dotnet run --project benchmarks/SmdSs.Benchmarks -c Release --no-build -- "$@" \
  --redis "127.0.0.1:$redis_port" --work-dir "$work"
