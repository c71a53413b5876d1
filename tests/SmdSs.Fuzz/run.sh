#!/usr/bin/env bash
# Coverage-guided fuzzing (SharpFuzz + AFL++) of every parser of bytes from outside: frames,
# sealed frame bodies, every message decoder, the handshake and the slice-file reader.
#
#   bash tests/SmdSs.Fuzz/run.sh [SECONDS] [--keep]
#
# Runs afl-fuzz for SECONDS (default 60) from the corpus in tests/SmdSs.Fuzz/corpus, prints the
# executions and paths found, and fails when an input crashed the harness (an exception other
# than the documented refusal) or hung (over 10 s): those inputs are copied to
# tests/SmdSs.Fuzz/crashes, to be fixed and kept as tests. --keep adds the new corpus entries the run found to the corpus.
# Needs afl-fuzz (Debian: apt-get install afl++) and the sharpfuzz tool (dotnet tool restore).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seconds="${1:-60}"
keep=false
[[ "${2:-}" == "--keep" ]] && keep=true

work="$(mktemp -d "${TMPDIR:-/tmp}/smdss-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

dotnet tool restore >/dev/null
dotnet publish tests/SmdSs.Fuzz -c Release -o "$work/bin" -nologo -v quiet >&2
# Instruments the harness's own copy of the library: the build output elsewhere stays as it is.
dotnet sharpfuzz "$work/bin/SmdSs.Embedded.dll" >/dev/null

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_TieredPGO=0
afl-fuzz -i tests/SmdSs.Fuzz/corpus -o "$work/findings" -V "$seconds" -t 10000 -m none -- dotnet "$work/bin/SmdSs.Fuzz.dll" >"$work/afl.log" 2>&1 || {
  tail -30 "$work/afl.log" >&2
  echo "afl-fuzz failed" >&2
  exit 1
}

stats="$work/findings/default/fuzzer_stats"
execs="$(awk -F' *: *' '$1=="execs_done"{print $2}' "$stats")"
paths="$(awk -F' *: *' '$1=="corpus_count"{print $2}' "$stats")"
# Crashes (an exception escaped a parser) and hangs (an input took over 10 s) both fail the run.
crashes=("$work/findings/default/crashes"/id:* "$work/findings/default/hangs"/id:*)
found=0
for crash in "${crashes[@]}"; do [[ -e "$crash" ]] && found=$((found + 1)); done
echo "fuzzing: ${seconds} s, ${execs} executions, ${paths} corpus entries, ${found} crashes or hangs"

if $keep; then
  for entry in "$work/findings/default/queue"/id:*; do
    cp "$entry" "tests/SmdSs.Fuzz/corpus/$(sha1sum "$entry" | cut -c1-16)"
  done
fi

if [[ $found -gt 0 ]]; then
  mkdir -p tests/SmdSs.Fuzz/crashes
  for crash in "${crashes[@]}"; do
    [[ -e "$crash" ]] && cp "$crash" "tests/SmdSs.Fuzz/crashes/$(sha1sum "$crash" | cut -c1-16)"
  done
  echo "crashing inputs copied to tests/SmdSs.Fuzz/crashes; replay one with: dotnet run --project tests/SmdSs.Fuzz -- FILE" >&2
  exit 1
fi
