#!/usr/bin/env bash
# index.sh — scalar index figures (bench/index_bench.c, see bench/README.md "Scalar indexes"): builds
# build/libframelake.a, compiles the bench against it and runs it. Settings from the environment:
#   ROWS [1000000]  FRAGMENT_ROWS [1048576]  OUT [bench/out/index: the scratch table]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/common.sh
make -j2 --no-print-directory build/libframelake.a >/dev/null
mkdir -p bench/out
fl_cc bench/out/index_bench bench/index_bench.c
exec bench/out/index_bench
