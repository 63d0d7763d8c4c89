#!/usr/bin/env bash
# bench.sh: every figure of deploy/bench/README.md, the Go benchmarks then
# the whole-process measurement.
#
# usage: deploy/bench/bench.sh [SECONDS]   (measure.sh's seconds per phase; default 60)
#
# The state-file benchmarks write where TMPDIR points: on the disk by
# default; TMPDIR=/dev/shm shows the cost without the disk's fsync.
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -run='^$' -bench=. -benchmem -count=1 ./twitter/bot ./device
deploy/bench/measure.sh "${1:-60}"
