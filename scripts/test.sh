#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the Debian packages it needs (Samba AD DC,
# LDAP tools, Prometheus' promtool, Alertmanager) when missing, then runs every test (unit, integration against
# real Samba DCs on loopback addresses, promtool), then formatting and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# install-deps reports on stderr what it installed (or that every package was there); the report is shown now and
# again at the end, where it is not lost above the test output. tests/deps.rs checks its list against what the
# build and the tests run.
deps_report=$(bash scripts/install-deps.sh 2>&1) || { printf '%s\n' "$deps_report" >&2; exit 1; }
printf '%s\n' "$deps_report" >&2
trap 'grep "^install-deps:" <<<"$deps_report" >&2 || true' EXIT
# Integration tests start Samba DCs on 127.0.0.10 and up; each test binary runs its tests in parallel threads.
# With Kerberos (cargo feature gssapi): tests/kerberos.rs binds with a keytab; the build without it is linted too.
cargo test --locked --features gssapi --all-targets --no-fail-fast
cargo test --locked --features gssapi --doc
cargo fmt --all -- --check
cargo clippy --locked --features gssapi --all-targets -- -D warnings
cargo clippy --locked --all-targets -- -D warnings
