#!/usr/bin/env python3
"""Writes alerts/writeback.rules.yml, the Prometheus alert rules of writeback_exporter.

    python3 alerts/generate.py [--job NAME] [--selector MATCHERS] [--runbook-url-base URL] [--max-for DURATION]
                               [OUTPUT]

Without options it writes the committed file (tests/alerts.rs checks that the two are equal): edit the rules here,
run the generator, commit both. OUTPUT defaults to alerts/writeback.rules.yml; `-` writes to standard output.
alerts/README.md describes the options. Standard library only: the YAML is written as text in a fixed layout, the
strings quoted when they hold a template (`{{ ... }}`) or could not be plain YAML scalars.
"""

import argparse
import json
import pathlib
import re
import shlex
import sys

DEFAULT_JOB = "writeback_exporter"
DEFAULT_RUNBOOK_URL_BASE = "https://github.com/writeback-exporter/writeback_exporter/blob/main/docs/runbooks.md"

HEADER = """\
# Alert rules for writeback_exporter. Every alert has a runbook section in docs/runbooks.md (its anchor is the
# alert name in lower case) and unit tests in alerts/tests/. This first set covers the metrics the exporter serves
# today (probe health, configuration reloads, DCs, the domain password policy, permissions, connector accounts,
# licences, sync, Group Policy).
"""

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def seconds(duration):
    """Seconds of a Prometheus duration (`90s`, `1h30m`)."""
    parts = DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * UNITS[u] for n, u in parts)


def human(duration):
    """`10m` -> `10 minutes`, in the largest unit that divides it."""
    total = seconds(duration)
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if total >= size and total % size == 0 or size == 1:
            n = int(total // size)
            return f"{n} {name}" + ("" if n == 1 else "s")
    raise AssertionError("unreachable")


class Options:
    """What a user may change; the defaults give the committed file."""

    def __init__(self, job=DEFAULT_JOB, selector="", runbook_url_base=DEFAULT_RUNBOOK_URL_BASE, max_for=None):
        self.job = job
        self.selector = selector.strip().strip(",").strip()
        self.runbook_url_base = runbook_url_base.rstrip("#")
        self.max_for = max_for

    def s(self, metric, *matchers):
        """A series selector of one of the exporter's metrics, restricted by --selector."""
        all_matchers = ([self.selector] if self.selector else []) + list(matchers)
        return metric + ("{" + ", ".join(all_matchers) + "}" if all_matchers else "")

    def job_matcher(self):
        """The selector's own matcher on `job`, if any (`job="x"`, `job=~"x|y"`)."""
        m = re.search(r'(?:^|,)\s*(job\s*(?:=~|!~|!=|=)\s*"[^"]*")', self.selector)
        return m.group(1) if m else None

    def up(self):
        """`up` of the exporter's scrape job: --job, or the selector's job matcher."""
        return self.s("up") if self.job_matcher() else self.s("up", f'job="{self.job}"')

    def job_text(self):
        """The job in words, for descriptions."""
        m = self.job_matcher()
        if m is None:
            return self.job
        exact = re.fullmatch(r'job\s*=\s*"([^"]*)"', m)
        return exact.group(1) if exact else m

    def duration(self, authored):
        """The authored `for`, capped at --max-for."""
        if self.max_for is not None and seconds(authored) > seconds(self.max_for):
            return self.max_for
        return authored


def rules(o):
    """Every alert: (name, expression, for, severity, summary, description). `{for}` in a description becomes
    the `for` written to the file, in words."""
    s = o.s
    licence_capable = "* on (target, sku) group_left " + s("writeback_entra_license_sku_writeback_capable")
    expiry = s("writeback_ad_connector_account_password_expiry_timestamp_seconds")
    permission = s("writeback_ad_scope_permission")
    enabled = s("writeback_entra_license_units", 'state="enabled"')
    consumed = s("writeback_entra_license_units", 'state="consumed"')
    troubled = s("writeback_entra_license_units", 'state=~"suspended|warning|locked_out"')
    not_ready = s("writeback_ad_users_not_ready", 'reason!="protected"')
    return [
        ("WritebackExporterDown",
         f"{o.up()} == 0 or absent({o.up()})", "5m", "critical",
         "writeback_exporter is not being scraped",
         f"Prometheus cannot scrape writeback_exporter (job {o.job_text()}); no writeback check is running."),
        ("WritebackProbeFailing",
         f"{s('writeback_probe_success')} == 0", "15m", "warning",
         "Probe {{ $labels.probe }} of target {{ $labels.target }} is failing",
         "The last run of probe {{ $labels.probe }} for target {{ $labels.target }} failed; its metrics are absent, "
         "so the checks it feeds cannot alert. See writeback_probe_failures_total for the reason."),
        ("WritebackConfigReloadFailed",
         f"{s('writeback_exporter_config_last_reload_successful')} == 0", "10m", "warning",
         "writeback_exporter {{ $labels.instance }} rejected its new configuration",
         "The last configuration reload of writeback_exporter {{ $labels.instance }} (SIGHUP or POST /-/reload) "
         "failed and none has succeeded since, for {for}: it keeps running the previous configuration and would "
         "not start with the file as it is now. Its log names the error."),
        ("WritebackDomainControllerDown",
         f"{s('writeback_ad_dc_up')} == 0", "10m", "warning",
         "DC {{ $labels.dc }} of {{ $labels.domain }} does not answer LDAP",
         "Domain controller {{ $labels.dc }} ({{ $labels.domain }}, target {{ $labels.target }}) refused the bind "
         "or the rootDSE read for {for}."),
        ("WritebackDCPolicyHintsMissing",
         f"{s('writeback_ad_dc_policy_hints_supported')} == 0", "15m", "warning",
         "DC {{ $labels.dc }} lacks the LDAP password policy hints control",
         "Domain controller {{ $labels.dc }} ({{ $labels.domain }}) does not offer LDAP_SERVER_POLICY_HINTS_OID; "
         "Entra Connect writeback through it fails with event 6329."),
        ("WritebackMinPasswordAgeNotZero",
         f"{s('writeback_ad_domain_min_password_age_seconds')} > 0", "5m", "critical",
         "Minimum password age of {{ $labels.domain }} is not 0",
         "Domain {{ $labels.domain }} enforces a minimum password age of {{ $value | humanizeDuration }}: users "
         "who changed their password within that time cannot reset it through writeback (event 33008)."),
        ("WritebackScopePermissionMissing",
         f"{permission} == 0", "15m", "critical",
         "{{ $labels.account }} lacks {{ $labels.permission }} in {{ $labels.scope }}",
         "A user created in {{ $labels.scope }} ({{ $labels.domain }}) would not give the connector account "
         "{{ $labels.account }} the right {{ $labels.permission }}, as read on {{ $labels.dc }}: password "
         "writeback fails for such users (event 33004)."),
        ("WritebackScopePermissionDCsDisagree",
         f"max without (dc) ({permission}) != min without (dc) ({permission})", "2h", "warning",
         "DCs disagree on {{ $labels.permission }} for {{ $labels.account }} in {{ $labels.scope }}",
         "For more than {for}, some domain controllers of {{ $labels.domain }} grant {{ $labels.account }} the "
         "right {{ $labels.permission }} in {{ $labels.scope }} and others do not: a permission change has not "
         "replicated."),
        ("WritebackUsersNotReady",
         f"{not_ready} > 0", "30m", "warning",
         "{{ $value }} users in {{ $labels.scope }} are not ready for writeback ({{ $labels.reason }})",
         "{{ $value }} enabled users under {{ $labels.scope }} ({{ $labels.domain }}) would fail password writeback "
         "through {{ $labels.account }}; first cause: {{ $labels.reason }}. writeback_exporter check lists the "
         "first ten."),
        ("WritebackUnexpirePasswordMissing",
         f"{s('writeback_ad_domain_unexpire_password')} == 0", "15m", "warning",
         "{{ $labels.account }} lacks Unexpire Password on {{ $labels.domain }}",
         "The connector account {{ $labels.account }} does not hold Unexpire Password on the root of "
         "{{ $labels.domain }} (read on {{ $labels.dc }}): writeback of a password set to expire-at-next-logon "
         "fails."),
        ("WritebackConnectorAccountDisabled",
         f"{s('writeback_ad_connector_account_enabled')} == 0", "10m", "warning",
         "Connector account {{ $labels.account }} is disabled",
         "The connector account {{ $labels.account }} of {{ $labels.domain }} is disabled (event 33005 on the "
         "Connect server if it is the active one)."),
        ("WritebackConnectorAccountLocked",
         f"{s('writeback_ad_connector_account_locked')} == 1", "5m", "critical",
         "Connector account {{ $labels.account }} is locked out",
         "The connector account {{ $labels.account }} of {{ $labels.domain }} is locked out: writeback and "
         "synchronisation through it fail (event 33006)."),
        ("WritebackConnectorPasswordExpiring",
         f"{expiry} - time() < 14 * 86400 and {expiry} - time() > 0", "1h", "warning",
         "Password of connector account {{ $labels.account }} expires within 14 days",
         "The password of the connector account {{ $labels.account }} ({{ $labels.domain }}) expires in "
         "{{ $value | humanizeDuration }}."),
        ("WritebackConnectorPasswordExpired",
         f"{expiry} - time() <= 0", "5m", "critical",
         "Password of connector account {{ $labels.account }} has expired",
         "The password of the connector account {{ $labels.account }} ({{ $labels.domain }}) has expired: Entra "
         "Connect can no longer bind as it."),
        ("WritebackPSOMinPasswordAgeNotZero",
         f"{s('writeback_ad_pso_min_password_age_seconds')} > 0", "5m", "critical",
         "Fine-grained password policy {{ $labels.pso }} has a minimum password age",
         "The fine-grained password policy {{ $labels.pso }} of {{ $labels.domain }} enforces a minimum password "
         "age of {{ $value | humanizeDuration }}: the users it applies to cannot reset a recently changed password "
         "through writeback (event 33008)."),
        ("WritebackPSOUnreadable",
         f"{s('writeback_ad_pso_readable')} == 0", "1h", "info",
         "Fine-grained password policies of {{ $labels.domain }} cannot be read",
         "The monitoring account of target {{ $labels.target }} cannot read the Password Settings Container of "
         "{{ $labels.domain }}: a fine-grained policy with a minimum password age would go unnoticed."),
        ("WritebackNoWritebackLicence",
         f'sum by (target) ({enabled} {licence_capable}) == 0',
         "1h", "critical",
         "Tenant of target {{ $labels.target }} has no enabled Entra ID P1/P2 licence",
         "No SKU that includes Entra ID P1 or P2 has enabled units in the tenant of target {{ $labels.target }}: "
         "self-service password reset with on-premises writeback is not licensed (SSPR_0010)."),
        ("WritebackLicencesExhausted",
         f'sum by (target) ({consumed} {licence_capable}) >= '
         f'sum by (target) ({enabled} {licence_capable}) > 0',
         "1h", "warning",
         "Entra ID P1/P2 licences of target {{ $labels.target }} are all consumed",
         "Every enabled unit of the writeback-capable SKUs of target {{ $labels.target }} is assigned: new users "
         "cannot be licensed for SSPR writeback."),
        ("WritebackLicenceSuspended",
         f'{troubled} {licence_capable} > 0',
         "1h", "warning",
         "Writeback-capable SKU {{ $labels.sku }} has {{ $value }} units in state {{ $labels.state }}",
         "The SKU {{ $labels.sku }} (target {{ $labels.target }}) includes Entra ID P1/P2 and has {{ $value }} "
         "units in state {{ $labels.state }}: they stop counting when the grace period ends."),
        ("WritebackConnectVersionRetired",
         s("writeback_connect_info",
           r'version=~"1\\.0\\.([0-9]{1,3}|[0-7][0-9]{3}|8[0-5][0-9]{2}|86[0-3][0-9]|8640)\\..*|1\\.0\\.8641\\.0"'),
         "5m", "critical",
         "Entra Connect {{ $labels.version }} on {{ $labels.server }} lost password writeback",
         "Entra Connect {{ $labels.version }} on {{ $labels.server }} (target {{ $labels.target }}) is at or below "
         "1.0.8641.0: password writeback stopped working for these builds on 2018-11-07 (ACS retirement)."),
        ("WritebackConnectVersionUnsupported",
         f"{s('writeback_connect_version_supported')} == 0", "1h", "critical",
         "Entra Connect on {{ $labels.server }} is older than the supported minimum",
         "The Entra Connect server {{ $labels.server }} (target {{ $labels.target }}) runs a version below the "
         "configured minimum (default 2.5.79.0; older builds stopped synchronising after 2026-09-30)."),
        ("WritebackSyncDisabled",
         f"{s('writeback_entra_sync_enabled')} == 0", "15m", "critical",
         "Directory synchronisation is off for target {{ $labels.target }}",
         "The tenant of target {{ $labels.target }} reports onPremisesSyncEnabled false or null: there is no sync, "
         "hence no writeback."),
        ("WritebackSyncStale",
         f"time() - {s('writeback_entra_last_sync_timestamp_seconds')} > 3 * 3600", "15m", "critical",
         "Last directory sync of target {{ $labels.target }} is older than 3 hours",
         "The tenant of target {{ $labels.target }} last synchronised {{ $value | humanizeDuration }} ago; Entra "
         "Connect normally syncs every 30 minutes."),
        ("WritebackSSPRFailures",
         "sum by (target, activity) (increase("
         + s("writeback_entra_sspr_events_total", 'result="failure"',
             'activity=~"reset_password_self_service|change_password_self_service|unlock_user_account_self_service"')
         + "[1h])) > 0", "0m", "warning",
         "Self-service {{ $labels.activity }} failures for target {{ $labels.target }}",
         "{{ $value | humanize }} self-service events of {{ $labels.activity }} failed in the last hour (target "
         "{{ $labels.target }}); the audit log's resultReason says why."),
        # Every cause but the three that do not point at AD: ready (AD would have allowed it), not_found, unknown.
        ("WritebackSSPRFailuresExplainedByAD",
         "sum by (target, cause) (increase("
         + s("writeback_entra_sspr_failures_explained_total", 'cause!~"ready|not_found|unknown"')
         + "[1h])) > 0", "0m", "warning",
         "SSPR failures of target {{ $labels.target }} explained by AD: {{ $labels.cause }}",
         "{{ $value | humanize }} self-service resets, changes or unlocks of target {{ $labels.target }} failed in "
         "the last hour for a cause on the Active Directory side: {{ $labels.cause }}. The audit log names the "
         "users; writeback_exporter explain (or /explain) shows each one's verdict and fix."),
        ("WritebackGraphPermissionMissing",
         f"{s('writeback_entra_api_permission_missing')} == 1", "1h", "warning",
         "Graph refused {{ $labels.endpoint }} for target {{ $labels.target }}",
         "The app registration of target {{ $labels.target }} lacks the application permission for "
         "{{ $labels.endpoint }}: the checks that need it are unknown. See docs/entra-setup.md."),
        ("WritebackGPOMinPasswordAgeNotZero",
         f"{s('writeback_ad_gpo_min_password_age_seconds')} > 0", "5m", "warning",
         "GPO {{ $labels.gpo }} sets a minimum password age",
         "The Group Policy object {{ $labels.gpo }}, linked at the root of {{ $labels.domain }}, sets Minimum "
         "password age to {{ $value | humanizeDuration }} in its GptTmpl.inf: where it wins, the domain enforces "
         "it and users who changed their password recently cannot reset it through writeback (event 33008)."),
        ("WritebackGPOPolicyDrift",
         f"{s('writeback_ad_gpo_password_policy_drift')} == 1", "2h", "warning",
         "{{ $labels.setting }} of {{ $labels.domain }} differs from the winning GPO",
         "For more than {for} the domain object of {{ $labels.domain }} has held a {{ $labels.setting }} other "
         "than the one the winning domain-linked GPO sets: the GPO has not been applied (gpupdate /force on the "
         "PDC emulator) or SYSVOL does not replicate."),
        ("WritebackRestrictRemoteSAMBlocksConnector",
         f"{s('writeback_ad_restrict_remote_sam_allows_connector')} == 0", "15m", "critical",
         "RestrictRemoteSAM of GPO {{ $labels.gpo }} blocks {{ $labels.account }}",
         "The GPO {{ $labels.gpo }} ({{ $labels.domain }}) sets Network access: Restrict clients allowed to make "
         "remote calls to SAM without allowing the connector account {{ $labels.account }}: on the domain "
         "controllers it applies to, password writeback fails with SSPR_0029 (events 33004 and 6329)."),
    ]


PLAIN_FIRST = set("-?:,[]{}#&*!|>'\"%@`")


def scalar(text):
    """A YAML scalar: plain when that reads back as the same string, else double-quoted (JSON is valid YAML).
    Templates are always quoted."""
    plain = (
        text
        and text == text.strip()
        and "{{" not in text
        and text[0] not in PLAIN_FIRST
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and "\n" not in text
        and text.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "~")
        and not re.fullmatch(r"[-+.0-9eE]+", text)
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def render(o, argv=()):
    out = ["# Generated by alerts/generate.py: edit the generator, not this file (alerts/README.md).\n"]
    if argv:
        out.append("# Options: " + " ".join(argv) + "\n")
    out.append(HEADER)
    out.append("groups:\n  - name: writeback_exporter\n    rules:\n")
    blocks = []
    for name, expr, authored_for, severity, summary, description in rules(o):
        for_ = o.duration(authored_for)
        description = description.replace("{for}", human(for_))
        blocks.append(
            f"      - alert: {name}\n"
            f"        expr: {scalar(expr)}\n"
            f"        for: {for_}\n"
            f"        labels:\n"
            f"          severity: {severity}\n"
            f"        annotations:\n"
            f"          summary: {scalar(summary)}\n"
            f"          description: {scalar(description)}\n"
            f"          runbook_url: {scalar(o.runbook_url_base + '#' + name.lower())}\n"
        )
    out.append("\n".join(blocks))
    return "".join(out)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", default=DEFAULT_JOB,
                        help="the scrape job of the exporter: WritebackExporterDown watches up{job=\"JOB\"} "
                             "(default %(default)s)")
    parser.add_argument("--selector", default="",
                        help='label matchers added to every series selector, e.g. \'cluster="prod"\'; with a job '
                             'matcher (\'job="wb"\') every rule is restricted to that job and WritebackExporterDown '
                             'uses it instead of --job (default: none)')
    parser.add_argument("--runbook-url-base", default=DEFAULT_RUNBOOK_URL_BASE,
                        help="runbook_url is BASE#alertname in lower case (default %(default)s)")
    parser.add_argument("--max-for", metavar="DURATION",
                        help="cap every `for` at DURATION, e.g. 1m for the lab (default: the authored durations)")
    parser.add_argument("output", nargs="?", default=str(pathlib.Path(__file__).with_name("writeback.rules.yml")),
                        help="the file to write; - for standard output (default alerts/writeback.rules.yml)")
    args = parser.parse_args(argv)
    if args.max_for is not None:
        try:
            seconds(args.max_for)
        except ValueError as e:
            parser.error(str(e))
    if any(c in args.job for c in '"\\\n'):
        parser.error(f"--job {args.job!r}: a double quote, backslash or newline would break the PromQL string")
    if args.job != DEFAULT_JOB and Options(selector=args.selector).job_matcher():
        parser.error("give the job either with --job or as a matcher in --selector, not both")
    o = Options(job=args.job, selector=args.selector, runbook_url_base=args.runbook_url_base, max_for=args.max_for)
    # The options that differ from the defaults, recorded in the file so that it can be regenerated.
    options = []
    for flag, value, default in (("--job", args.job, DEFAULT_JOB), ("--selector", args.selector, ""),
                                 ("--runbook-url-base", args.runbook_url_base, DEFAULT_RUNBOOK_URL_BASE),
                                 ("--max-for", args.max_for, None)):
        if value != default:
            options += [flag, shlex.quote(value)]
    text = render(o, options)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        pathlib.Path(args.output).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
