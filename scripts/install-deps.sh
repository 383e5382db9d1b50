#!/usr/bin/env bash
# Installs the Debian packages the lab and the test suite need (Samba AD DC, LDAP tools, Prometheus with promtool,
# Alertmanager, systemd-analyze for the unit file, python3 for the dashboard generator). Idempotent: does nothing
# when every tool is already present. Needs root for apt-get.
set -euo pipefail

need=()
command -v samba >/dev/null 2>&1 || need+=(samba samba-ad-dc samba-ad-provision winbind)
command -v samba-tool >/dev/null 2>&1 || need+=(samba-ad-provision)
command -v ldbsearch >/dev/null 2>&1 || need+=(ldb-tools)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
command -v kinit >/dev/null 2>&1 || need+=(krb5-user)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
/usr/bin/python3 -c 'import samba.samdb' >/dev/null 2>&1 || need+=(python3-samba)

if [ ${#need[@]} -eq 0 ]; then
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
