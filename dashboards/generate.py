#!/usr/bin/env python3
"""Writes dashboards/writeback.json, the Grafana dashboard of writeback_exporter.

Run `python3 dashboards/generate.py [OUTPUT]` after changing a panel and commit both files. The output is stable: panel ids
and grid positions follow the order below, keys keep their insertion order. tests/dashboard.rs runs every query of
the JSON against a real Prometheus scraping the real exporter, so a panel that would show "No data" fails the tests.
"""

import json
import pathlib
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
# Every selector honours the job and instance variables (the scrape job and the exporter, or with /probe scraping
# the probed target), then target and domain.
JI = 'job=~"$job", instance=~"$instance"'
T = JI + ', target=~"$target"'
TD = T + ', domain=~"$domain"'

OK_FAIL = [
    {
        "type": "value",
        "options": {
            "0": {"text": "FAIL", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        },
    }
]
RED_GREEN = {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]}
GREEN_RED_ABOVE_0 = {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]}


class Layout:
    """Places panels left to right in rows of 24 columns and numbers them."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_height = 0

    def row(self, title, description):
        self._newline()
        self.panels.append({"type": "row", "title": title, "description": description, "collapsed": False,
                            "gridPos": self._pos(24, 1), "panels": []})
        self.y += 1

    def add(self, panel, w, h):
        if self.x + w > 24:
            self._newline()
        panel["gridPos"] = self._pos(w, h)
        self.x += w
        self.row_height = max(self.row_height, h)
        self.panels.append(panel)

    def _pos(self, w, h):
        return {"h": h, "w": w, "x": self.x, "y": self.y}

    def _newline(self):
        if self.x or self.row_height:
            self.y += max(self.row_height, 1)
        self.x = 0
        self.row_height = 0

    def numbered(self):
        for i, p in enumerate(self.panels, start=1):
            p["id"] = i
        return self.panels


def target(expr, legend="__auto", ref="A", instant=False, fmt="time_series"):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend, "range": not instant, "instant": instant}
    if fmt != "time_series":
        t["format"] = fmt
    return t


def panel(kind, title, description, targets, unit, **extra):
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    p.update(extra)
    return p


def check_stat(title, description, expr):
    """A readiness stat: 1 = OK (green), 0 = FAIL (red)."""
    p = panel("stat", title, description, [target(expr, legend=title, instant=True)], "none")
    p["fieldConfig"]["defaults"].update({"mappings": OK_FAIL, "thresholds": RED_GREEN, "color": {"mode": "thresholds"}})
    p["options"] = {
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "center",
        "textMode": "value",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    return p


def value_stat(title, description, expr, unit, thresholds):
    p = panel("stat", title, description, [target(expr, legend=title, instant=True)], unit)
    p["fieldConfig"]["defaults"].update({"thresholds": thresholds, "color": {"mode": "thresholds"}})
    p["options"] = {
        "colorMode": "value",
        "graphMode": "none",
        "textMode": "value",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    return p


def timeseries(title, description, targets, unit, stacked=False):
    p = panel("timeseries", title, description, targets, unit)
    p["fieldConfig"]["defaults"]["custom"] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 20 if stacked else 0,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
    }
    p["options"] = {"legend": {"displayMode": "table", "placement": "right", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}}
    return p


def table(title, description, targets, unit, hide=("Time",), rename=None, overrides=None, matrix_label=None):
    """An instant table. Several queries are merged on their common labels; with `matrix_label` one query's
    series become one column per value of that label (rows: the other labels)."""
    p = panel("table", title, description, targets, unit)
    transformations = []
    if matrix_label:
        # labelsToFields works on series labels: the query must return time series (instant), not a table.
        for t in targets:
            t.pop("format", None)
        transformations.append({"id": "labelsToFields", "options": {"mode": "columns", "valueLabel": matrix_label}})
    transformations.append({"id": "merge", "options": {}})
    transformations.append({
        "id": "organize",
        "options": {"excludeByName": {h: True for h in hide}, "indexByName": {}, "renameByName": rename or {}},
    })
    p["transformations"] = transformations
    p["fieldConfig"]["overrides"] = overrides or []
    p["options"] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    return p


def colored(names, mappings=OK_FAIL, thresholds=RED_GREEN, unit=None):
    """Overrides that colour the cells of the named columns (0/1 checks by default)."""
    out = []
    for name in names:
        props = [
            {"id": "mappings", "value": mappings},
            {"id": "thresholds", "value": thresholds},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ]
        if unit:
            props.append({"id": "unit", "value": unit})
        out.append({"matcher": {"id": "byName", "options": name}, "properties": props})
    return out


def unit_override(name, unit):
    return {"matcher": {"id": "byName", "options": name}, "properties": [{"id": "unit", "value": unit}]}


def table_target(expr, ref):
    return target(expr, ref=ref, instant=True, fmt="table")


def build():
    L = Layout()

    L.row("Readiness", "One stat per check: green OK, red FAIL; no value when the probe behind it has not succeeded.")
    checks = [
        ("Exporter scraped", "Prometheus scrapes writeback_exporter (the selected jobs and instances). Alert: "
         "WritebackExporterDown.", f"min(up{{{JI}}})"),
        ("Config reloaded", "The exporter's last configuration (re)load succeeded; after a failed one it keeps "
         "running the previous configuration and would not start with the file as it is. Alert: "
         "WritebackConfigReloadFailed.", f"min(writeback_exporter_config_last_reload_successful{{{JI}}})"),
        ("Probes succeeding", "Every probe of the selected targets succeeded in its last run; a failed probe's metrics "
         "are absent, so the checks it feeds show no value. Alert: WritebackProbeFailing.",
         f"min(writeback_probe_success{{{T}}})"),
        ("DCs answering", "Every domain controller accepted the bind and answered the rootDSE. Alert: "
         "WritebackDomainControllerDown.", f"min(writeback_ad_dc_up{{{TD}}})"),
        ("Policy hints control", "Every DC offers LDAP_SERVER_POLICY_HINTS_OID (1.2.840.113556.1.4.2066), which Entra "
         "Connect needs for writeback (event 6329 otherwise). Alert: WritebackDCPolicyHintsMissing.",
         f"min(writeback_ad_dc_policy_hints_supported{{{TD}}})"),
        ("Domain min password age 0", "The domain's minPwdAge is 0; otherwise users who changed their password "
         "recently cannot reset it through writeback (event 33008). Alert: WritebackMinPasswordAgeNotZero.",
         f"max(writeback_ad_domain_min_password_age_seconds{{{TD}}}) == bool 0"),
        ("PSOs min age 0", "Every fine-grained password policy has a minimum age of 0; FAIL also when the Password "
         "Settings Container cannot be read (unknown). Alerts: WritebackPSOMinPasswordAgeNotZero, "
         "WritebackPSOUnreadable.",
         f"(max(writeback_ad_pso_min_password_age_seconds{{{TD}}}) == bool 0) "
         f"or (min(writeback_ad_pso_readable{{{TD}}}) == bool 1)"),
        ("Scope permissions", "In every scope, on every DC, a new user would give each connector account all four "
         "rights (Reset Password, Change Password, Write lockoutTime, Write pwdLastSet). Alert: "
         "WritebackScopePermissionMissing.", f"min(writeback_ad_scope_permission{{{TD}}})"),
        ("Unexpire Password", "Each connector account holds Unexpire Password on the domain root. Alert: "
         "WritebackUnexpirePasswordMissing.", f"min(writeback_ad_domain_unexpire_password{{{TD}}})"),
        ("GPO min password age 0", "No Group Policy object linked at the domain root or the Domain Controllers OU "
         "sets a minimum password age above 0 in its GptTmpl.inf (the domain's minPwdAge follows the winning GPO at "
         "the next refresh). Alert: WritebackGPOMinPasswordAgeNotZero.",
         f"max(writeback_ad_gpo_min_password_age_seconds{{{TD}}}) == bool 0"),
        ("RestrictRemoteSAM allows connector", "Every GPO that sets \"Network access: Restrict clients allowed to "
         "make remote calls to SAM\" grants each connector account remote SAM access (writeback fails with "
         "SSPR_0029 otherwise). Alert: WritebackRestrictRemoteSAMBlocksConnector.",
         f"min(writeback_ad_restrict_remote_sam_allows_connector{{{TD}}})"),
        ("Users ready", "No enabled user in scope is unready for a reason other than protected (adminCount=1). "
         "Alert: WritebackUsersNotReady.", f'sum(writeback_ad_users_not_ready{{{TD}, reason!="protected"}}) == bool 0'),
        ("Connector accounts usable", "Every connector account is enabled, not locked out, and its password has not "
         "expired. Alerts: WritebackConnectorAccountDisabled, WritebackConnectorAccountLocked, "
         "WritebackConnectorPasswordExpired.",
         f"min((writeback_ad_connector_account_enabled{{{TD}}} * (1 - writeback_ad_connector_account_locked{{{TD}}})) "
         f"* on (target, domain, account) (writeback_ad_connector_account_password_expiry_timestamp_seconds{{{TD}}} "
         f"> bool time()))"),
        ("Writeback licence", "A SKU that includes Entra ID P1 or P2 has enabled units. Alert: "
         "WritebackNoWritebackLicence.",
         f'sum(writeback_entra_license_units{{{T}, state="enabled"}} * on (target, sku) group_left '
         f"writeback_entra_license_sku_writeback_capable{{{T}}}) > bool 0"),
        ("Licence headroom", "The writeback-capable SKUs have unassigned enabled units. Alert: "
         "WritebackLicencesExhausted.",
         f'sum(writeback_entra_license_units{{{T}, state="enabled"}} * on (target, sku) group_left '
         f"writeback_entra_license_sku_writeback_capable{{{T}}}) > bool "
         f'sum(writeback_entra_license_units{{{T}, state="consumed"}} * on (target, sku) group_left '
         f"writeback_entra_license_sku_writeback_capable{{{T}}})"),
        ("Sync enabled", "The tenant reports onPremisesSyncEnabled true. Alert: WritebackSyncDisabled.",
         f"min(writeback_entra_sync_enabled{{{T}}})"),
        ("Sync fresh", "The tenant's last directory sync is less than 3 hours old. Alert: WritebackSyncStale.",
         f"max(time() - writeback_entra_last_sync_timestamp_seconds{{{T}}}) < bool 3 * 3600"),
        ("Connect version", "The Entra Connect server that last exported runs at least the configured minimum "
         "version. Alerts: WritebackConnectVersionUnsupported, WritebackConnectVersionRetired.",
         f"min(writeback_connect_version_supported{{{T}}})"),
        ("No SSPR failures (1h)", "No self-service reset, change or unlock failed in the last hour. Alert: "
         "WritebackSSPRFailures.",
         f'sum(increase(writeback_entra_sspr_events_total{{{T}, result="failure"}}[1h])) == bool 0'),
    ]
    for title, description, expr in checks:
        L.add(check_stat(title, description, expr), 3, 4)

    L.row("Active Directory permissions", "Probe ad_acl: the connector accounts' rights per scope and DC.")
    L.add(table(
        "Scope × permission matrix per DC",
        "writeback_ad_scope_permission: for each DC, scope and connector account, whether a user created directly "
        "in the scope would give the account each writeback right (schema default SD + the scope's inheritable "
        "ACEs). A red cell is a missing grant; DCs disagreeing on a row means replication has not caught up.",
        [table_target(f"writeback_ad_scope_permission{{{TD}}}", "A")],
        "none",
        hide=("Time", "__name__", "target"),
        matrix_label="permission",
        overrides=colored(["reset_password", "change_password", "write_lockout_time", "write_pwd_last_set"]),
    ), 24, 8)
    L.add(table(
        "Domain controllers",
        "Per DC: it answered the bind and the rootDSE (writeback_ad_dc_up), it offers the password policy hints "
        "control (writeback_ad_dc_policy_hints_supported), and each connector account holds Unexpire Password on "
        "the domain root as read there (writeback_ad_domain_unexpire_password).",
        [
            table_target(f"writeback_ad_dc_up{{{TD}}}", "A"),
            table_target(f"writeback_ad_dc_policy_hints_supported{{{TD}}}", "B"),
            table_target(f"writeback_ad_domain_unexpire_password{{{TD}}}", "C"),
        ],
        "none",
        hide=("Time", "target"),
        rename={"Value #A": "answers LDAP", "Value #B": "policy hints", "Value #C": "Unexpire Password"},
        overrides=colored(["answers LDAP", "policy hints", "Unexpire Password"]),
    ), 24, 6)

    L.row("Users", "Probe ad_users: every enabled user in scope, judged on its own DACL.")
    L.add(timeseries(
        "Users ready vs not ready by reason",
        "Enabled users in scope on whose own DACL the connector account holds all four rights (ready), and the "
        "others by first cause: protected (adminCount=1), inheritance_disabled, object_class (e.g. inetOrgPerson), "
        "denied, not_granted. `writeback_exporter check` names the first ten of each.",
        [
            target(f"sum(writeback_ad_users_ready{{{TD}}})", legend="ready", ref="A"),
            target(f"sum by (reason) (writeback_ad_users_not_ready{{{TD}}})", legend="{{reason}}", ref="B"),
        ],
        "short",
        stacked=True,
    ), 12, 8)
    L.add(timeseries(
        "Users missing each permission",
        "Users on which the connector account lacks each writeback right (writeback_ad_users_missing_permission), "
        "summed over scopes and accounts.",
        [target(f"sum by (permission) (writeback_ad_users_missing_permission{{{TD}}})", legend="{{permission}}")],
        "short",
    ), 12, 8)
    L.add(table(
        "Users per scope",
        "Per scope: enabled users, ready users (per connector account), AdminSDHolder-protected users and users "
        "whose DACL does not inherit.",
        [
            table_target(f"sum by (domain, scope) (writeback_ad_users{{{TD}}})", "A"),
            table_target(f"sum by (domain, scope) (writeback_ad_users_ready{{{TD}}})", "B"),
            table_target(f"sum by (domain, scope) (writeback_ad_users_protected{{{TD}}})", "C"),
            table_target(f"sum by (domain, scope) (writeback_ad_users_inheritance_disabled{{{TD}}})", "D"),
        ],
        "short",
        rename={"Value #A": "enabled users", "Value #B": "ready", "Value #C": "protected",
                "Value #D": "inheritance disabled"},
    ), 24, 6)

    L.row("Connector accounts", "Probe ad_connector: the AD DS connector accounts Entra Connect binds as.")
    L.add(table(
        "Connector account state",
        "Each connector account (configured, or every MSOL_* account): the Connect server named in its description, "
        "enabled, locked out, and the time until its password expires (negative: expired; +Inf: never expires).",
        [
            table_target(f"writeback_ad_connector_account_info{{{TD}}}", "A"),
            table_target(f"writeback_ad_connector_account_enabled{{{TD}}}", "B"),
            table_target(f"1 - writeback_ad_connector_account_locked{{{TD}}}", "C"),
            table_target(f"writeback_ad_connector_account_password_expiry_timestamp_seconds{{{TD}}} - time()", "D"),
            table_target(f"time() - writeback_ad_connector_account_password_last_set_timestamp_seconds{{{TD}}}", "E"),
        ],
        "none",
        hide=("Time", "target", "Value #A", "__name__"),
        rename={"Value #B": "enabled", "Value #C": "not locked", "Value #D": "password expires in",
                "Value #E": "password age"},
        overrides=colored(["enabled", "not locked"])
        + [unit_override("password expires in", "s"), unit_override("password age", "s")],
    ), 24, 6)

    L.row("Password policies", "Probe ad_policy: the domain policy and fine-grained policies (PSOs).")
    L.add(value_stat(
        "Domain minimum password age",
        "The domain's minPwdAge (writeback_ad_domain_min_password_age_seconds). Writeback needs 0: with a minimum "
        "age, a user who changed the password recently cannot reset it in the cloud (event 33008).",
        f"max(writeback_ad_domain_min_password_age_seconds{{{TD}}})", "s", GREEN_RED_ABOVE_0,
    ), 6, 6)
    L.add(table(
        "Domain password policy",
        "The rest of the domain password policy on the domain root: maximum age, minimum length, history, "
        "complexity and lockout threshold (0 = accounts never lock).",
        [
            table_target(f"writeback_ad_domain_max_password_age_seconds{{{TD}}}", "A"),
            table_target(f"writeback_ad_domain_min_password_length{{{TD}}}", "B"),
            table_target(f"writeback_ad_domain_password_history_length{{{TD}}}", "C"),
            table_target(f"writeback_ad_domain_password_complexity_enabled{{{TD}}}", "D"),
            table_target(f"writeback_ad_domain_lockout_threshold{{{TD}}}", "E"),
        ],
        "short",
        hide=("Time", "target"),
        rename={"Value #A": "max age", "Value #B": "min length", "Value #C": "history", "Value #D": "complexity",
                "Value #E": "lockout threshold"},
        overrides=[unit_override("max age", "s"), unit_override("complexity", "bool_yes_no")],
    ), 10, 6)
    L.add(table(
        "Fine-grained password policies (PSOs)",
        "Each Password Settings Object: its minimum age (writeback wants 0) and precedence (lower wins). Empty when "
        "the container cannot be read: see the readiness stat PSOs min age 0 and writeback_ad_pso_readable.",
        [
            table_target(f"writeback_ad_pso_min_password_age_seconds{{{TD}}}", "A"),
            table_target(f"writeback_ad_pso_precedence{{{TD}}}", "B"),
        ],
        "short",
        hide=("Time", "target"),
        rename={"Value #A": "min age", "Value #B": "precedence"},
        overrides=[{"matcher": {"id": "byName", "options": "min age"}, "properties": [
            {"id": "unit", "value": "s"},
            {"id": "thresholds", "value": GREEN_RED_ABOVE_0},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ]}],
    ), 8, 6)

    L.row("Group Policy", "Probe ad_gpo: the GPOs linked at the domain root and the Domain Controllers OU, and "
          "their security templates read from SYSVOL.")
    L.add(table(
        "Linked GPOs",
        "Each GPO with an enabled link at the domain root (account policies) or the Domain Controllers OU "
        "(RestrictRemoteSAM), with its link order (1 wins; writeback_ad_gpo_info, writeback_ad_gpo_link_order).",
        [
            table_target(f"writeback_ad_gpo_info{{{TD}}}", "A"),
            table_target(f"writeback_ad_gpo_link_order{{{TD}}}", "B"),
        ],
        "short",
        hide=("Time", "target", "Value #A"),
        rename={"Value #B": "link order"},
    ), 10, 6)
    L.add(table(
        "Minimum password age per GPO",
        "MinimumPasswordAge as each GPO's GptTmpl.inf sets it (writeback_ad_gpo_min_password_age_seconds); GPOs "
        "that do not set it are not listed. Writeback needs 0 in the winning domain-linked GPO.",
        [table_target(f"writeback_ad_gpo_min_password_age_seconds{{{TD}}}", "A")],
        "s",
        hide=("Time", "target"),
        rename={"Value": "minimum age"},
        overrides=[{"matcher": {"id": "byName", "options": "minimum age"}, "properties": [
            {"id": "thresholds", "value": GREEN_RED_ABOVE_0},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ]}],
    ), 7, 6)
    L.add(table(
        "GPO vs domain drift",
        "1 when the winning domain-linked GPO sets a value the domain object does not hold yet "
        "(writeback_ad_gpo_password_policy_drift): the GPO was changed and not yet applied (gpupdate /force on "
        "the PDC emulator, or the next refresh).",
        [table_target(f"writeback_ad_gpo_password_policy_drift{{{TD}}}", "A")],
        "none",
        hide=("Time", "target"),
        rename={"Value": "drift"},
        overrides=colored(["drift"], mappings=[{"type": "value", "options": {
            "0": {"text": "in step", "color": "green", "index": 0},
            "1": {"text": "DRIFT", "color": "orange", "index": 1},
        }}], thresholds=GREEN_RED_ABOVE_0),
    ), 7, 6)
    L.add(table(
        "RestrictRemoteSAM per GPO and connector account",
        "For each GPO that sets RestrictRemoteSAM, whether its SDDL grants each connector account remote SAM "
        "access (READ_CONTROL; writeback_ad_restrict_remote_sam_allows_connector). FAIL blocks password writeback "
        "with SSPR_0029: add the account, or a group it is in, to the policy's allowed list.",
        [table_target(f"writeback_ad_restrict_remote_sam_allows_connector{{{TD}}}", "A")],
        "none",
        hide=("Time", "target"),
        rename={"Value": "allows the connector"},
        overrides=colored(["allows the connector"]),
    ), 24, 5)

    L.row("Microsoft Entra licences", "Probe entra_licenses: subscribed SKUs from Microsoft Graph.")
    L.add(table(
        "Licence units by SKU and state",
        "Each subscribed SKU's prepaid units by state (enabled, warning, suspended, locked_out) and consumed units, "
        "and whether the SKU includes Entra ID P1/P2 (matched by service plan id), which writeback needs.",
        [
            table_target(f"sum by (sku, state) (writeback_entra_license_units{{{T}}})", "A"),
        ],
        "short",
        hide=("Time",),
        matrix_label="state",
    ), 14, 8)
    L.add(table(
        "Writeback-capable SKUs",
        "1 when the SKU includes Entra ID P1 or P2 (service plan AAD_PREMIUM or AAD_PREMIUM_P2, by id).",
        [table_target(f"writeback_entra_license_sku_writeback_capable{{{T}}}", "A")],
        "none",
        hide=("Time", "__name__"),
        rename={"Value": "P1/P2"},
        overrides=colored(["P1/P2"], mappings=[{"type": "value", "options": {
            "0": {"text": "no", "index": 0}, "1": {"text": "yes", "color": "green", "index": 1}}}],
            thresholds={"mode": "absolute", "steps": [{"color": "transparent", "value": None},
                                                      {"color": "green", "value": 1}]}),
    ), 10, 8)
    L.add(timeseries(
        "Writeback-capable units: enabled vs consumed",
        "Units of the SKUs that include Entra ID P1/P2: enabled and consumed over time. When consumed reaches "
        "enabled, new users cannot be licensed for SSPR writeback.",
        [target(f'sum by (state) (writeback_entra_license_units{{{T}, state=~"enabled|consumed|warning|suspended"}} '
                f"* on (target, sku) group_left writeback_entra_license_sku_writeback_capable{{{T}}})",
                legend="{{state}}")],
        "short",
    ), 24, 7)

    L.row("Entra Connect and synchronisation", "Probe entra_sync: the tenant's sync state and the Connect server.")
    L.add(table(
        "Entra Connect server and version",
        "The Connect server that last exported (beta onPremisesSynchronization), its version, and whether the "
        "version is at least the configured minimum (default 2.5.79.0). Versions at or below 1.0.8641.0 lost "
        "writeback in 2018.",
        [
            table_target(f"writeback_connect_info{{{T}}}", "A"),
            table_target(f"writeback_connect_version_supported{{{T}}}", "B"),
        ],
        "none",
        hide=("Time", "__name__", "Value #A"),
        rename={"Value #B": "supported"},
        overrides=colored(["supported"]),
    ), 10, 6)
    L.add(value_stat(
        "Time since last sync",
        "now - onPremisesLastSyncDateTime of the tenant. Connect syncs every 30 minutes; over 3 hours is stale.",
        f"max(time() - writeback_entra_last_sync_timestamp_seconds{{{T}}})", "s",
        {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 3600},
                                       {"color": "red", "value": 10800}]},
    ), 6, 6)
    L.add(value_stat(
        "Time since last password sync",
        "now - onPremisesLastPasswordSyncDateTime (password hash sync), when the tenant reports it.",
        f"max(time() - writeback_entra_last_password_sync_timestamp_seconds{{{T}}})", "s",
        {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 3600},
                                       {"color": "red", "value": 10800}]},
    ), 6, 6)
    flag = check_stat(
        "Writeback flag",
        "features.passwordWritebackEnabled of the beta API: informational only (Microsoft documents it as not in "
        "use); never alert on it alone.",
        f"min(writeback_entra_password_writeback_feature_enabled{{{T}}})",
    )
    flag["fieldConfig"]["defaults"]["mappings"] = [{"type": "value", "options": {
        "0": {"text": "off", "color": "text", "index": 0}, "1": {"text": "on", "color": "text", "index": 1}}}]
    L.add(flag, 2, 6)

    L.row("Self-service password reset", "Probe entra_sspr: Self-service Password Management audit events.")
    L.add(timeseries(
        "SSPR events by activity and result",
        "Self-service Password Management audit events (resets, changes, unlocks...) counted by the exporter, per "
        "interval, by activity and result.",
        [target(f"sum by (activity, result) (increase(writeback_entra_sspr_events_total{{{T}}}[$__rate_interval]))",
                legend="{{activity}} {{result}}")],
        "short",
        stacked=True,
    ), 11, 8)
    L.add(value_stat(
        "SSPR failures in range",
        "Failed self-service events in the dashboard's time range; the audit log's resultReason says why.",
        f'sum(increase(writeback_entra_sspr_events_total{{{T}, result="failure"}}[$__range]))', "short",
        GREEN_RED_ABOVE_0,
    ), 5, 8)
    explained = panel(
        "bargauge", "SSPR failures explained, by cause",
        "Failed self-service resets, changes and unlocks in the dashboard's time range, judged on the AD side "
        "(writeback_entra_sspr_failures_explained_total): the writeback_ad_users_not_ready reasons, min_password_age "
        "and restrict_remote_sam are AD causes (alert WritebackSSPRFailuresExplainedByAD); ready means AD would have "
        "allowed it (look at Connect), not_found no such user, unknown not judged (over entra.sspr_explain_limit).",
        [target(f"sum by (cause) (increase(writeback_entra_sspr_failures_explained_total{{{T}}}[$__range]))",
                legend="{{cause}}", instant=True)],
        "short",
    )
    explained["fieldConfig"]["defaults"].update({"thresholds": GREEN_RED_ABOVE_0, "color": {"mode": "thresholds"}})
    explained["options"] = {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    L.add(explained, 8, 8)

    L.row("Probe health", "The exporter's own probes: success, duration, age of the last success, failures.")
    success = timeseries(
        "Probe success",
        "1 when the probe's last run succeeded (writeback_probe_success). A failing probe removes its metrics.",
        [target(f"writeback_probe_success{{{T}}}", legend="{{target}} {{probe}}")],
        "none",
    )
    success["type"] = "state-timeline"
    success["fieldConfig"]["defaults"] = {"unit": "none", "mappings": OK_FAIL, "thresholds": RED_GREEN,
                                          "color": {"mode": "thresholds"}}
    success["options"] = {"showValue": "never", "mergeValues": True, "rowHeight": 0.9,
                          "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False}}
    L.add(success, 12, 8)
    L.add(timeseries(
        "Probe duration",
        "Duration of each probe's last run (writeback_probe_duration_seconds).",
        [target(f"writeback_probe_duration_seconds{{{T}}}", legend="{{target}} {{probe}}")],
        "s",
    ), 12, 8)
    L.add(timeseries(
        "Time since last successful run",
        "now - writeback_probe_last_success_timestamp_seconds: grows past the probe's interval when it fails.",
        [target(f"time() - writeback_probe_last_success_timestamp_seconds{{{T}}}", legend="{{target}} {{probe}}")],
        "s",
    ), 12, 8)
    L.add(timeseries(
        "Probe failures by reason",
        "Failed runs per interval by probe and reason (timeout, connect, tls, auth, permission, throttled, protocol, "
        "config, other).",
        [target(f"sum by (probe, reason) (increase(writeback_probe_failures_total{{{T}}}[$__rate_interval]))",
                legend="{{probe}} {{reason}}")],
        "short",
    ), 12, 8)
    L.add(table(
        "Exporter",
        "The exporter's version and build (writeback_exporter_build_info) and whether its last configuration "
        "(re)load succeeded.",
        [
            table_target(f"writeback_exporter_build_info{{{JI}}}", "A"),
            table_target(f"writeback_exporter_config_last_reload_successful{{{JI}}}", "B"),
        ],
        "none",
        hide=("Time", "__name__", "Value #A", "job"),
        rename={"Value #B": "config loaded"},
        overrides=colored(["config loaded"]),
    ), 24, 4)

    def variable(name, label, query, all_value=".*"):
        """A multi-value query variable with "All". With `all_value` None, All stands for the values listed (a
        regex of them), not for any value: `up{job=~"$job"}` must not match every job Prometheus scrapes."""
        v = {
            "type": "query",
            "name": name,
            "label": label,
            "datasource": DS,
            "query": {"query": query, "refId": f"{name}-query"},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "allValue": all_value,
            "multi": True,
            "current": {},
            "sort": 1,
            "regex": "",
        }
        if all_value is None:
            del v["allValue"]
        return v

    return {
        "uid": "writeback-exporter",
        "title": "Entra password writeback",
        "description": "Whether Microsoft Entra password writeback can work against on-premises Active Directory: "
                       "writeback_exporter's checks, permissions, users, policies, licences, sync and SSPR.",
        "tags": ["writeback_exporter", "entra", "active-directory"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "",
        "links": [{
            "title": "Runbooks",
            "type": "link",
            "url": "https://github.com/writeback-exporter/writeback_exporter/blob/main/docs/runbooks.md",
            "targetBlank": True,
        }],
        "annotations": {"list": []},
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
             "current": {}, "hide": 0, "regex": ""},
            # The jobs that scrape the exporter's probe results (/metrics or /probe), then every instance of those
            # jobs: the exporters, and with /probe scraping the probed targets and the exporter's own scrape.
            variable("job", "Job", "label_values(writeback_probe_success, job)", all_value=None),
            variable("instance", "Instance", 'label_values(up{job=~"$job"}, instance)', all_value=None),
            variable("target", "Target", f"label_values(writeback_probe_success{{{JI}}}, target)"),
            variable("domain", "Domain", f"label_values(writeback_ad_dc_up{{{T}}}, domain)"),
        ]},
        "panels": L.numbered(),
    }


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("writeback.json")
    out.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
