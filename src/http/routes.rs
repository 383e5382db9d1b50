//! The endpoints (README, docs/configuration.md). Handlers only read the cache (but `/explain`, bounded: see
//! [`explain`]); a reload is asked of the app by message.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::sync::oneshot;

pub use super::state::{AppState, ReloadRequest};
use super::{explain, landing};
use crate::check::Report;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn router(state: AppState, telemetry_path: &str) -> Router {
    let metrics_path: Arc<str> = Arc::from(telemetry_path);
    Router::new()
        .route("/", get(move |state| landing_page(state, metrics_path.clone())))
        .route(telemetry_path, get(metrics))
        .route("/probe", get(probe))
        .route("/explain", get(explain::explain))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render_all(&state.store);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

#[derive(Deserialize)]
struct ProbeQuery {
    target: Option<String>,
}

async fn probe(State(state): State<AppState>, Query(query): Query<ProbeQuery>) -> Response {
    let Some(target) = query.target.filter(|t| !t.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "the target parameter is missing\n").into_response();
    };
    let config = state.config.borrow().clone();
    if config.target(&target).is_none() {
        return (StatusCode::NOT_FOUND, "unknown target\n").into_response();
    }
    let body = state.metrics.render_target(&state.store, &target);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.store.all_ran() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Not ready: some probes have not run yet\n").into_response()
    }
}

async fn reload(State(state): State<AppState>) -> Response {
    if !state.lifecycle {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response();
    }
    let (reply, answer) = oneshot::channel();
    if state.reload.send(reply).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match answer.await {
        Ok(Ok(())) => (StatusCode::OK, "configuration reloaded\n").into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

async fn landing_page(State(state): State<AppState>, telemetry_path: Arc<str>) -> Html<String> {
    let config = state.config.borrow().clone();
    let report = Report::from_store(&state.store, &config);
    Html(landing::render(&report, &config, &telemetry_path))
}
