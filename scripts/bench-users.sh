#!/usr/bin/env bash
# Benchmarks the per-user scan (probe ad_users) against bare ldapsearch on a local Samba AD DC seeded with N users
# (default 10000), REPS runs each (default 3), then full against incremental cycles of ad_users and the memory of the
# process that holds their state: see examples/bench_users.rs; results in docs/benchmarks.md.
# As root (the Samba rig binds ports below 1024). Release build. Run nothing heavy alongside: the figures are times.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# /usr/bin/time -v gives each client's CPU and peak RSS (without it they are sampled from /proc, less exactly). Decided
# by package status, as install-deps.sh does.
if ! dpkg-query -W -f='${Status}' time 2>/dev/null | grep -q 'install ok installed'; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null; }
  else
    echo "bench-users: Debian package 'time' missing and not root: peak RSS and CPU are sampled from /proc" >&2
  fi
fi
# One cargo invocation for both (built separately, the library compiled twice: the example's dev-dependencies change
# the features of shared dependencies); the example finds the exporter next to its own directory.
cargo build --locked --release --bin writeback_exporter --example bench_users
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/release/examples/bench_users" "$@"
