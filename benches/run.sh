#!/usr/bin/env bash
# Runs every benchmark (wsmachine and its peers, same run, same bytes) and
# prints the summary tables; they are also written to target/bench-summary.md.
# Extra arguments go to criterion, e.g. `bash benches/run.sh --measurement-time 5`.
# Takes about 10 minutes on 2 cores with the default settings.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf "${CARGO_TARGET_DIR:-target}/criterion"
cargo bench -p wsmachine-benches --bench mask --bench frames --bench utf8 --bench handshake --bench messages --bench output --bench copies -- "$@"
python3 benches/summarize.py
