//! The bounded `reason` label of `writeback_probe_failures_total`: every error of every layer maps to one of these.

/// The fixed `reason` label values (docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Timeout,
    Connect,
    Tls,
    Auth,
    Permission,
    Throttled,
    Protocol,
    Config,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::Timeout,
        Reason::Connect,
        Reason::Tls,
        Reason::Auth,
        Reason::Permission,
        Reason::Throttled,
        Reason::Protocol,
        Reason::Config,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Connect => "connect",
            Reason::Tls => "tls",
            Reason::Auth => "auth",
            Reason::Permission => "permission",
            Reason::Throttled => "throttled",
            Reason::Protocol => "protocol",
            Reason::Config => "config",
            Reason::Other => "other",
        }
    }
}

/// True for EMFILE and ENFILE: the process (or the system) ran out of file descriptors. That is the exporter's own
/// state, not the network's or the configuration's, so every layer reports it as reason `other` with "too many open
/// files".
pub fn out_of_file_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23))
}
