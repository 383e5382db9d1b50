#!/usr/bin/env bash
# Installs the Debian packages the lab and the test suite need, deciding by package status (dpkg-query), never by
# looking for files that another package may also ship (libclang-cpp, pulled in by Samba, ships a libclang*.so that
# bindgen cannot use). Idempotent: installs nothing when every package is installed. Prints what it installed.
# Needs root for apt-get. `--list` prints the package list and exits (tests/deps.rs checks it against what the
# build and the tests call).
set -euo pipefail

# One package a line: name, then why. Keep in step with what the build (pkg-config, bindgen) and the tests run.
packages=(
  samba                   # the AD DC the tests and the lab start (samba, samba-tool)
  samba-ad-dc             # the AD DC services of Samba
  samba-ad-provision      # samba-tool domain provision's data files
  winbind                 # the AD DC's winbindd
  python3-samba           # seed.py: samba.samdb, ldb
  ldb-tools               # ldbsearch / ldbmodify on the template DC
  ldap-utils              # ldapsearch, ldapmodify: bench baseline and test fixtures
  krb5-user               # kinit, klist: the Kerberos bind tests
  libkrb5-dev             # gssapi feature: MIT Kerberos headers and krb5-gssapi.pc for libgssapi-sys
  libclang-dev            # gssapi feature: bindgen in libgssapi-sys loads libclang.so
  pkg-config              # gssapi feature: libgssapi-sys finds the Kerberos libraries
  prometheus              # promtool (rules, metrics) and the Prometheus server of the dashboard test
  prometheus-alertmanager # the lab's Alertmanager, amtool for the inhibit rules
  openssl                 # test CA and certificates
  curl                    # the lab's readiness checks
  systemd                 # systemd-analyze verify on the packaged unit
  python3                 # dashboards/generate.py and seed.py (Debian's, with python3-samba)
  chromium                # tests/browser.rs: the landing page in headless Chromium (DOM, layout, screenshot)
)

names=()
for entry in "${packages[@]}"; do names+=("${entry%% *}"); done

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${names[@]}"
  exit 0
fi

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

need=()
for pkg in "${names[@]}"; do installed "$pkg" || need+=("$pkg"); done

if [ ${#need[@]} -eq 0 ]; then
  echo "install-deps: all ${#names[@]} Debian packages already installed" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing Debian packages: ${need[*]}; run as root (apt-get) or install them first" >&2
  exit 1
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages must not start system services (samba, prometheus) of their own: the lab and the tests start their own
# instances on loopback addresses. policy-rc.d is the Debian mechanism for that; it is removed afterwards.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for pkg in "${need[@]}"; do
  installed "$pkg" || { echo "install-deps: $pkg is still not installed after apt-get" >&2; exit 1; }
done
echo "install-deps: installed ${need[*]}" >&2
