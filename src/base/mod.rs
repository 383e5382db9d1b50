//! The bottom layer: the types every other layer shares (what a probe yields, why it failed, what a metric is, the
//! probe descriptor, the clock, server text made fit to store). It imports nothing of the crate, so any module may
//! use it without a back edge.

mod clock;
mod descriptor;
mod html;
mod judge;
mod metric;
mod output;
mod reason;
mod text;

pub use clock::unix_now;
pub use descriptor::{BoxRun, Need, Probe, ProbeError, ProbeName};
pub use html::escape_html;
pub use judge::{FailedUser, UserJudge, FAILURE_CAUSES, NO_AD_CAUSE};
pub use metric::{counter, gauge, Kind, MetricDef};
pub use output::{Check, ProbeOutput, Sample, Status};
pub use reason::{out_of_file_descriptors, Reason};
pub use text::{bounded, bounded_to, is_guid, redact, Scrub, MAX_SERVER_TEXT, REDACTED, TRUNCATED};
