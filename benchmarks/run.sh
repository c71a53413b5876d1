#!/usr/bin/env bash
# Builds the benchmark harness in Release and runs it; arguments go to the harness
# (--quick for a smoke run, --duration SECONDS, --output FILE, --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build benchmarks/SmdSs.Benchmarks -c Release -nologo -v quiet >&2  # stdout is for the results
dotnet run --project benchmarks/SmdSs.Benchmarks -c Release --no-build -- "$@"
