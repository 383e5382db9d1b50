#!/usr/bin/env bash
# The lab in one command: installs the Debian packages when missing (as root), then runs examples/lab.rs, which
# starts a Samba AD DC and a fake Entra tenant seeded with realistic breakage, the exporter (127.0.0.1:9862, or the
# host:port given as an argument), Prometheus with alerts/writeback.rules.yml (127.0.0.1:9090) and Alertmanager
# (127.0.0.1:9093) with alerts/alertmanager-inhibit.yml, all on loopback, and prints the URLs. `--fast` caps every
# alert's `for` at 1 minute and probes more often, so that every alert of the scenario fires within minutes.
# Ctrl-C stops everything. See docs/lab.md.
#   scripts/lab.sh [--fast] [LISTEN]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# One cargo invocation for both: the exporter binary (for `writeback_exporter check` in another terminal) and the
# lab. Built separately (`cargo build --bin`, then `cargo run --example`) the library compiled twice, because the
# example's dev-dependencies change the features of shared dependencies.
cargo build --locked --bin writeback_exporter --example lab
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/debug/examples/lab" "$@"
