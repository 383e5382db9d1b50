//! What a metric is: name, type, labels and HELP text. Each probe module defines the metrics it serves and lists
//! them in its descriptor; the catalog of every metric is the union of those lists.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

#[derive(Debug, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Label names after `target`, which every probe metric carries first.
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const fn gauge(name: &'static str, labels: &'static [&'static str], help: &'static str) -> MetricDef {
    MetricDef { name, kind: Kind::Gauge, labels, help }
}

pub const fn counter(name: &'static str, labels: &'static [&'static str], help: &'static str) -> MetricDef {
    MetricDef { name, kind: Kind::Counter, labels, help }
}
