#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the Debian packages it needs (Samba AD DC,
# LDAP tools, Prometheus' promtool, Alertmanager) when missing, then runs every test (unit, integration against
# real Samba DCs on loopback addresses, promtool), then formatting and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# Integration tests start Samba DCs on 127.0.0.10 and up; each test binary runs its tests in parallel threads.
# With Kerberos (cargo feature gssapi): tests/kerberos.rs binds with a keytab; the build without it is linted too.
cargo test --locked --features gssapi --all-targets --no-fail-fast
cargo test --locked --features gssapi --doc
cargo fmt --all -- --check
cargo clippy --locked --features gssapi --all-targets -- -D warnings
cargo clippy --locked --all-targets -- -D warnings
