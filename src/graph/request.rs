//! The plumbing every Graph and token request shares: the time left in a run, waiting before a retry, and reading
//! a body with a size limit. Below both the token cache (`auth`) and the Graph client (`client`).

use std::time::Duration;

use tokio::time::Instant;

use super::GraphError;

/// No single request may take longer than this, however long the probe timeout.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What is left of the run's time, capped per request.
///
/// # Errors
/// [`GraphError::Timeout`] once the deadline has passed.
pub(super) fn remaining(deadline: Instant, what: &str) -> Result<Duration, GraphError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(GraphError::Timeout { what: what.to_string(), detail: "the run's time budget is used up".into() });
    }
    Ok(left.min(MAX_REQUEST_TIMEOUT))
}

/// Sleeps before a retry, unless the wait would end after the deadline.
///
/// # Errors
/// [`GraphError::Throttled`] when the wait does not fit.
pub(super) async fn wait_before_retry(
    delay: Duration,
    deadline: Instant,
    what: &str,
    status: u16,
) -> Result<(), GraphError> {
    if Instant::now() + delay >= deadline {
        let detail = format!("HTTP {status}, asked to wait {:.1} s, past this run's deadline", delay.as_secs_f64());
        return Err(GraphError::Throttled { what: what.to_string(), detail });
    }
    tracing::debug!(request = %what, status, wait_seconds = delay.as_secs_f64(), "throttled; retrying");
    tokio::time::sleep(delay).await;
    Ok(())
}

/// Reads a body, refusing one larger than `limit` (announced or actual) without buffering it.
///
/// # Errors
/// [`GraphError::Protocol`] for an oversized body; transport errors while reading.
pub(super) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    what: &str,
    host: &str,
) -> Result<Vec<u8>, GraphError> {
    let too_big = || GraphError::Protocol {
        what: what.to_string(),
        detail: format!("response body larger than the limit of {limit} bytes"),
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| GraphError::from_transport(what, host, &e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
