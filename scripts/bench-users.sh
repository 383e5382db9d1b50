#!/usr/bin/env bash
# Benchmarks the per-user scan (probe ad_users) against bare ldapsearch on a local Samba AD DC seeded with N users
# (default 10000), REPS runs each (default 3): see examples/bench_users.rs; results in docs/benchmarks.md.
# As root (the Samba rig binds ports below 1024). Release build. Run nothing heavy alongside: the figures are times.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -x /usr/bin/time ]; then
  echo "bench-users: /usr/bin/time missing (Debian package 'time'): peak RSS and CPU are sampled from /proc" >&2
fi
cargo build --locked --release --bin writeback_exporter
exec cargo run --locked --release --example bench_users -- "$@"
