#!/usr/bin/env bash
# The lab in one command: installs the Debian packages when missing (as root), then runs examples/lab.rs, which
# starts a Samba AD DC and a fake Entra tenant seeded with realistic breakage, the exporter (127.0.0.1:9862, or the
# host:port given as the first argument), Prometheus with alerts/writeback.rules.yml (127.0.0.1:9090) and
# Alertmanager (127.0.0.1:9093), all on loopback, and prints the URLs. Ctrl-C stops everything. See docs/lab.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --locked --bin writeback_exporter
exec cargo run --locked --example lab -- "$@"
