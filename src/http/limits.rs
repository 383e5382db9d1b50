//! Connection bounds for `serve`: the cap on open connections, idle tracking and eviction of the longest-idle one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Default for `--web.max-connections`: far below the packaged `LimitNOFILE`, so probes keep file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Longer than the usual 1 minute scrape interval, so Prometheus keeps reusing its keep-alive connection.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// A client that has not finished the TLS handshake by then is dropped.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bounds on the connections `serve` keeps open.
///
/// Clones share one connection table: give every listener a clone of the same `Limits` and the cap holds
/// across all of them. `Limits::default()` is `Limits::new(DEFAULT_MAX_CONNECTIONS)`.
#[derive(Clone, Debug)]
pub struct Limits {
    max_connections: usize,
    idle_timeout: Duration,
    tls_handshake_timeout: Duration,
    table: Arc<ConnTable>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(DEFAULT_MAX_CONNECTIONS)
    }
}

impl Limits {
    /// At most `max_connections` open connections (at least 1), the default timeouts.
    pub fn new(max_connections: usize) -> Self {
        Limits {
            max_connections: max_connections.max(1),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            table: Arc::new(ConnTable::default()),
        }
    }

    /// A connection with no request in progress for this long is closed (HTTP/1 and HTTP/2 alike).
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    pub fn with_tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        self.tls_handshake_timeout
    }

    /// Connections currently counted against the cap (across every listener sharing this `Limits`).
    pub fn open_connections(&self) -> usize {
        self.table.lock().conns.len()
    }

    /// Registers a new connection. At the cap, the connection idle for the longest time is told to close and
    /// leaves the table at once; when every connection has a request in progress, `None`: refuse the new one.
    pub(crate) fn admit(&self) -> Option<ConnHandle> {
        let mut state = self.table.lock();
        if state.conns.len() >= self.max_connections && !state.evict_longest_idle() {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        let close = CancellationToken::new();
        state.conns.insert(id, Entry { in_flight: 0, idle_since: Instant::now(), close: close.clone() });
        Some(ConnHandle { table: self.table.clone(), id, close })
    }

    /// Closes the longest-idle connection, if any: used to get a file descriptor back after EMFILE.
    pub(crate) fn evict_longest_idle(&self) -> bool {
        self.table.lock().evict_longest_idle()
    }
}

#[derive(Debug, Default)]
struct ConnTable {
    state: Mutex<TableState>,
}

impl ConnTable {
    fn lock(&self) -> MutexGuard<'_, TableState> {
        // The critical sections below cannot panic half-way, so a poisoned table is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Default)]
struct TableState {
    next_id: u64,
    conns: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// Requests whose response has not been produced yet; a connection is evictable only at 0.
    in_flight: usize,
    /// When the last request finished (or the connection was accepted); the eviction order.
    idle_since: Instant,
    close: CancellationToken,
}

impl TableState {
    fn evict_longest_idle(&mut self) -> bool {
        let victim =
            self.conns.iter().filter(|(_, e)| e.in_flight == 0).min_by_key(|(_, e)| e.idle_since).map(|(id, _)| *id);
        match victim.and_then(|id| self.conns.remove(&id)) {
            Some(entry) => {
                entry.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// One admitted connection; leaves the table when dropped.
pub(crate) struct ConnHandle {
    table: Arc<ConnTable>,
    id: u64,
    close: CancellationToken,
}

impl ConnHandle {
    /// Cancelled when the connection was evicted to admit another one.
    pub(crate) fn evicted(&self) -> &CancellationToken {
        &self.close
    }

    /// Marks a request in progress until the returned guard is dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        if let Some(e) = self.table.lock().conns.get_mut(&self.id) {
            e.in_flight += 1;
        }
        RequestGuard { conn: self.clone() }
    }

    /// When the connection becomes idle-expired: `None` while a request is in progress.
    pub(crate) fn idle_deadline(&self, idle_timeout: Duration) -> Option<Instant> {
        let state = self.table.lock();
        match state.conns.get(&self.id) {
            Some(e) if e.in_flight > 0 => None,
            Some(e) => Some(e.idle_since + idle_timeout),
            // Already evicted: the eviction token ends the connection.
            None => None,
        }
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        self.table.lock().conns.remove(&self.id);
    }
}

pub(crate) struct RequestGuard {
    conn: Arc<ConnHandle>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(e) = self.conn.table.lock().conns.get_mut(&self.conn.id) {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let limits = Limits::new(2);
        let first = Arc::new(limits.admit().unwrap());
        let second = Arc::new(limits.admit().unwrap());
        // `first` becomes busy, so `second` (idle since accept) is the one to go.
        let busy = first.request_started();
        let third = limits.admit().expect("an idle connection is evicted");
        assert!(second.evicted().is_cancelled());
        assert!(!first.evicted().is_cancelled());
        assert_eq!(limits.open_connections(), 2);
        // Now `first` is busy and `third` idle: `third` goes next.
        let fourth = limits.admit().unwrap();
        assert!(third.evicted().is_cancelled());
        drop(fourth);
        let third_again = Arc::new(limits.admit().unwrap());
        let _busy2 = third_again.request_started();
        assert!(limits.admit().is_none(), "every connection is busy: refuse the new one");
        drop(busy);
        assert!(limits.admit().is_some(), "first finished its request and can be evicted");
        assert!(first.evicted().is_cancelled());
    }

    #[test]
    fn idle_deadline_follows_requests() {
        let limits = Limits::new(4);
        let conn = Arc::new(limits.admit().unwrap());
        let t = Duration::from_secs(5);
        let before = conn.idle_deadline(t).unwrap();
        let guard = conn.request_started();
        assert_eq!(conn.idle_deadline(t), None);
        drop(guard);
        assert!(conn.idle_deadline(t).unwrap() >= before);
        drop(conn);
        assert_eq!(limits.open_connections(), 0);
    }
}
