//! Probe `entra_licenses`: does the tenant own a licence that includes self-service password reset with
//! on-premises writeback? A SKU counts when it contains the Entra ID P1 or P2 service plan, by plan id, never by name.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use super::client::Endpoint;
use super::EntraContext;
use crate::base::{gauge, Check, MetricDef, Probe, ProbeError, ProbeOutput, Status};
use crate::config::EntraTarget;

// --- metrics served by this probe
pub static ENTRA_LICENSE_UNITS: MetricDef = gauge(
    "writeback_entra_license_units",
    &["sku", "state"],
    "Licence units of a subscribed SKU (skuPartNumber) by state: enabled, warning, suspended, locked_out (prepaidUnits) and consumed (consumedUnits).",
);
pub static ENTRA_LICENSE_SKU_WRITEBACK_CAPABLE: MetricDef = gauge(
    "writeback_entra_license_sku_writeback_capable",
    &["sku"],
    "1 if the SKU includes Entra ID P1 or P2 (service plan AAD_PREMIUM or AAD_PREMIUM_P2, matched by id), which SSPR with password writeback needs.",
);

/// Service plan `AAD_PREMIUM` (Entra ID P1).
pub const AAD_PREMIUM: &str = "41781fb2-bc02-4b7c-bd55-b576c07bb09d";
/// Service plan `AAD_PREMIUM_P2` (Entra ID P2).
pub const AAD_PREMIUM_P2: &str = "eec0eb4f-6444-4f95-aba0-50c24d67f998";

const SUBSCRIBED_SKUS: Endpoint = Endpoint {
    path: Cow::Borrowed("v1.0/subscribedSkus"),
    permission: "Organization.Read.All (or LicenseAssignment.Read.All)",
    audit: false,
};
/// A tenant has tens of SKUs; Graph returns them on one page today.
const MAX_PAGES: usize = 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    pub sku_part_number: String,
    #[serde(default)]
    pub capability_status: String,
    #[serde(default)]
    pub consumed_units: f64,
    #[serde(default)]
    pub prepaid_units: PrepaidUnits,
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PrepaidUnits {
    pub enabled: f64,
    pub suspended: f64,
    pub warning: f64,
    pub locked_out: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    pub service_plan_id: String,
}

/// Which Entra ID plan a SKU carries: `Some("P2")`, `Some("P1")` or `None` (no writeback).
pub fn entra_plan(sku: &SubscribedSku) -> Option<&'static str> {
    let has = |id: &str| sku.service_plans.iter().any(|p| p.service_plan_id.trim().eq_ignore_ascii_case(id));
    if has(AAD_PREMIUM_P2) {
        Some("P2")
    } else if has(AAD_PREMIUM) {
        Some("P1")
    } else {
        None
    }
}

/// The probe: subscribed SKUs with Entra ID P1/P2, enabled and not exhausted.
pub static PROBE: Probe<EntraContext, EntraTarget> = Probe {
    name: "entra_licenses",
    metrics: &[&ENTRA_LICENSE_UNITS, &ENTRA_LICENSE_SKU_WRITEBACK_CAPABLE],
    needs: &[],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// Token and Graph failures (403 names Organization.Read.All).
pub async fn run(ctx: &EntraContext) -> Result<ProbeOutput, ProbeError> {
    let listing = ctx.run().list::<SubscribedSku>(&SUBSCRIBED_SKUS, &[], MAX_PAGES).await?;
    if !listing.complete {
        return Err(ProbeError::Other(format!("subscribedSkus has more than {MAX_PAGES} pages")));
    }
    Ok(output(&listing.items))
}

/// One SKU's units; SKUs that share a part number (rare) are added up so that series stay unique.
#[derive(Debug, Default)]
struct Totals {
    plan: Option<&'static str>,
    units: PrepaidUnits,
    consumed: f64,
    statuses: Vec<String>,
}

/// Samples and the licence check, from the `subscribedSkus` items (pure, for tests).
pub fn output(skus: &[SubscribedSku]) -> ProbeOutput {
    let mut totals: BTreeMap<&str, Totals> = BTreeMap::new();
    for sku in skus {
        let t = totals.entry(sku.sku_part_number.as_str()).or_default();
        t.plan = t.plan.max(entra_plan(sku));
        t.units.enabled += sku.prepaid_units.enabled;
        t.units.warning += sku.prepaid_units.warning;
        t.units.suspended += sku.prepaid_units.suspended;
        t.units.locked_out += sku.prepaid_units.locked_out;
        t.consumed += sku.consumed_units;
        t.statuses.push(sku.capability_status.clone());
    }
    let mut out = ProbeOutput::default();
    for (sku, t) in &totals {
        for (state, value) in [
            ("enabled", t.units.enabled),
            ("warning", t.units.warning),
            ("suspended", t.units.suspended),
            ("locked_out", t.units.locked_out),
            ("consumed", t.consumed),
        ] {
            out.sample(&ENTRA_LICENSE_UNITS, &[sku, state], value);
        }
        out.sample(&ENTRA_LICENSE_SKU_WRITEBACK_CAPABLE, &[sku], f64::from(u8::from(t.plan.is_some())));
    }
    out.checks.push(check(&totals));
    out
}

fn check(totals: &BTreeMap<&str, Totals>) -> Check {
    let capable: Vec<(&&str, &Totals)> = totals.iter().filter(|(_, t)| t.plan.is_some()).collect();
    let enabled: f64 = capable.iter().map(|(_, t)| t.units.enabled).sum();
    let consumed: f64 = capable.iter().map(|(_, t)| t.consumed).sum();
    let degraded: Vec<String> = capable
        .iter()
        .flat_map(|(sku, t)| {
            t.statuses
                .iter()
                .filter(|s| matches!(s.as_str(), "Warning" | "Suspended" | "LockedOut"))
                .map(move |s| format!("{sku} is {s}"))
        })
        .collect();
    let counts: Vec<String> = capable
        .iter()
        .map(|(sku, t)| {
            let plan = if t.plan == Some("P2") { "Entra ID P1+P2" } else { "Entra ID P1" };
            format!("{sku} ({plan}; {} enabled, {} consumed)", t.units.enabled, t.consumed)
        })
        .collect();
    let others: Vec<&str> = totals.iter().filter(|(_, t)| t.plan.is_none()).map(|(sku, _)| *sku).collect();
    let mut observed = if counts.is_empty() {
        "no SKU includes Entra ID P1 or P2".to_string()
    } else {
        format!("counts for writeback: {}", counts.join(", "))
    };
    if !others.is_empty() {
        observed.push_str(&format!(
            "; does not count (no AAD_PREMIUM or AAD_PREMIUM_P2 service plan): {}",
            others.join(", ")
        ));
    }
    let status = if enabled <= 0.0 {
        Status::Fail
    } else if consumed >= enabled || !degraded.is_empty() {
        Status::Warn
    } else {
        Status::Pass
    };
    if !degraded.is_empty() {
        observed.push_str(&format!("; {}", degraded.join(", ")));
    }
    let remediation = match status {
        Status::Pass => None,
        Status::Fail => Some(
            "Self-service password reset with on-premises writeback needs Entra ID P1 or P2 for the users who \
             reset: buy Entra ID P1/P2 or a suite that includes it (Enterprise Mobility + Security E3/E5, Microsoft \
             365 E3/E5/A3/A5/F1/F3, Microsoft 365 Business Premium). Office 365 plans alone (ENTERPRISEPACK is \
             Office 365 E3) and Microsoft 365 Business Standard do not include it."
                .to_string(),
        ),
        Status::Warn => Some(format!(
            "Every writeback-capable licence is assigned ({consumed} of {enabled}) or a capable subscription is \
             not in good standing: users without an Entra ID P1/P2 licence may be refused writeback. Add licences \
             or renew the subscription in the Microsoft 365 admin center (Billing > Your products)."
        )),
    };
    Check {
        id: "entra_license_writeback_capable",
        subject: "tenant".to_string(),
        title: "A licence with SSPR writeback (Entra ID P1/P2) has enabled units".to_string(),
        status,
        observed,
        remediation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(name: &str, plans: &[&str], enabled: f64, consumed: f64, status: &str) -> SubscribedSku {
        SubscribedSku {
            sku_part_number: name.to_string(),
            capability_status: status.to_string(),
            consumed_units: consumed,
            prepaid_units: PrepaidUnits { enabled, ..PrepaidUnits::default() },
            service_plans: plans.iter().map(|id| ServicePlan { service_plan_id: id.to_string() }).collect(),
        }
    }

    const EXCHANGE: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";

    #[test]
    fn classifies_by_service_plan_id_not_name() {
        let cases = [
            (sku("SPE_E5", &[EXCHANGE, AAD_PREMIUM, AAD_PREMIUM_P2], 1.0, 0.0, "Enabled"), Some("P2")),
            (sku("EMS", &[AAD_PREMIUM], 1.0, 0.0, "Enabled"), Some("P1")),
            (sku("IDENTITY_THREAT_PROTECTION", &[AAD_PREMIUM_P2], 1.0, 0.0, "Enabled"), Some("P2")),
            (sku("weird", &["41781FB2-BC02-4B7C-BD55-B576C07BB09D"], 1.0, 0.0, "Enabled"), Some("P1")),
            // A name that says "premium" proves nothing without the plan.
            (sku("AAD_PREMIUM", &[EXCHANGE], 1.0, 0.0, "Enabled"), None),
            (sku("ENTERPRISEPACK", &[EXCHANGE], 1.0, 0.0, "Enabled"), None),
        ];
        for (s, want) in cases {
            assert_eq!(entra_plan(&s), want, "{}", s.sku_part_number);
        }
    }

    #[test]
    fn check_fails_warns_and_passes() {
        let office = sku("ENTERPRISEPACK", &[EXCHANGE], 50.0, 10.0, "Enabled");
        let only_office = output(std::slice::from_ref(&office));
        let c = &only_office.checks[0];
        assert_eq!(c.status, Status::Fail);
        assert!(c.observed.contains("does not count (no AAD_PREMIUM or AAD_PREMIUM_P2 service plan): ENTERPRISEPACK"));
        assert!(c.remediation.as_deref().is_some_and(|r| r.contains("ENTERPRISEPACK is Office 365 E3")));

        let full = sku("AAD_PREMIUM", &[AAD_PREMIUM], 10.0, 10.0, "Enabled");
        assert_eq!(output(&[office.clone(), full]).checks[0].status, Status::Warn);
        let warning = sku("EMS", &[AAD_PREMIUM], 10.0, 1.0, "Warning");
        let c = &output(&[warning]).checks[0];
        assert_eq!(c.status, Status::Warn);
        assert!(c.observed.contains("EMS is Warning"), "{}", c.observed);

        let fine = sku("SPE_E3", &[AAD_PREMIUM], 100.0, 20.0, "Enabled");
        let out = output(&[office, fine]);
        assert_eq!(out.checks[0].status, Status::Pass);
        assert!(out.checks[0]
            .observed
            .starts_with("counts for writeback: SPE_E3 (Entra ID P1; 100 enabled, 20 consumed)"));
        assert_eq!(out.samples.len(), 12, "5 unit states + capable, per SKU");
    }

    #[test]
    fn duplicate_part_numbers_are_added_up() {
        let a = sku("EMS", &[AAD_PREMIUM], 10.0, 1.0, "Enabled");
        let b = sku("EMS", &[], 5.0, 2.0, "Enabled");
        let out = output(&[a, b]);
        let enabled = out.samples.iter().find(|s| s.labels == ["EMS", "enabled"]).map(|s| s.value);
        assert_eq!(enabled, Some(15.0));
        assert_eq!(out.samples.len(), 6);
    }
}
