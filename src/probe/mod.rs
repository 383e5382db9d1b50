//! Probes: the background checks. Each probe is an async function from a target's config to a [`ProbeOutput`];
//! the registry maps probe names to those functions. Probes never see HTTP or the metrics registry.

mod error;
mod name;
mod output;
mod registry;

pub use error::{ProbeError, Reason};
pub use name::ProbeName;
pub use output::{Check, ProbeOutput, Sample, Status};
pub use registry::{probes_for, run_probe, TargetContext};
