#!/usr/bin/env bash
# Brings the exporter up against a local Samba AD DC: installs the Debian packages when missing (as root), then
# runs examples/lab.rs, which provisions the DC on a loopback address, writes target/lab/writeback_exporter.yml
# and serves the exporter on :9862 (or the address given as the first argument). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --locked --bin writeback_exporter
exec cargo run --locked --example lab -- "$@"
