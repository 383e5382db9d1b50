//! The probe registry: the one list of probe descriptors, and what derives from it (which probes a target runs,
//! their intervals, the per-cycle reuse of shared reads, the metric catalog), plus the per-target context probes
//! run on. The probes themselves live with their subject (`ad/`, `graph/`); each declares one descriptor.

mod context;
mod registry;

pub use context::TargetContext;
pub use registry::{metrics, names, probes_for, run_probe, Descriptor, Registered, PROBES};
