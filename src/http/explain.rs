//! `GET /explain?target=NAME&user=USER`: the one endpoint that reads the directory on request (docs/explain.md).
//! At most [`IN_FLIGHT`] explanations run at once and a further request gets 429, so the page cannot be used to
//! load the domain controllers; each one is bounded by the probe timeout.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::state::{AppState, IN_FLIGHT};
use crate::base::escape_html;
use crate::explain::{self, ExplainError, Explanation, Related};
use crate::snapshot::Store;

#[derive(Deserialize)]
pub struct ExplainQuery {
    target: Option<String>,
    user: Option<String>,
}

pub async fn explain(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<ExplainQuery>) -> Response {
    let json = wants_json(&headers);
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (Some(target), Some(user)) = (given(query.target), given(query.user)) else {
        return failure(json, StatusCode::BAD_REQUEST, "bad_query", "give both target and user");
    };
    let config = state.config.borrow().clone();
    let Some(target) = config.target(&target) else {
        return failure(json, StatusCode::NOT_FOUND, "unknown_target", "unknown target");
    };
    let Ok(_permit) = state.explain_slots.0.clone().try_acquire_owned() else {
        let mut response = failure(
            json,
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            &format!("{IN_FLIGHT} explanations are already running: try again when they are done"),
        );
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    };
    let related = related(&state.store, &target.name);
    match explain::on_demand(target, config.timeout(), &user, related).await {
        Ok(explanation) if json => json_response(StatusCode::OK, &explanation),
        Ok(explanation) => Html(page(&target.name, &user, Some(&explanation), None)).into_response(),
        Err(e) => {
            let status = match &e {
                ExplainError::Query(_) => StatusCode::BAD_REQUEST,
                ExplainError::NotFound { .. } => StatusCode::NOT_FOUND,
                ExplainError::Ambiguous { .. } => StatusCode::CONFLICT,
                ExplainError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                ExplainError::Ldap(_) | ExplainError::Directory(_) => StatusCode::BAD_GATEWAY,
            };
            if json {
                failure(true, status, e.reason(), &e.to_string())
            } else {
                (status, Html(page(&target.name, &user, None, Some(&e.to_string())))).into_response()
            }
        }
    }
}

/// The target's Group Policy results as the last `ad_gpo` run left them: an explanation reads no SYSVOL.
fn related(store: &Store, target: &str) -> Related {
    let state = store.snapshot().into_iter().find(|(t, p, _)| t == target && p.as_str() == "ad_gpo");
    match state {
        None => Related::unavailable("probe ad_gpo does not run for this target"),
        Some((_, _, s)) => match (&s.output, &s.last_run) {
            (Some(output), _) => Related::from_checks(&output.checks),
            (None, Some(run)) => Related::unavailable(format!(
                "the last ad_gpo run failed: {}",
                run.error.as_deref().unwrap_or("no detail")
            )),
            (None, None) => Related::unavailable("probe ad_gpo has not run yet"),
        },
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("application/json")))
}

fn failure(json: bool, status: StatusCode, reason: &str, message: &str) -> Response {
    if json {
        json_response(status, &serde_json::json!({"error": message, "reason": reason}))
    } else {
        (status, format!("{message}\n")).into_response()
    }
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode the answer: {e}\n")).into_response(),
    }
}

/// A whole page: the form again (filled in), then the explanation or the error.
fn page(target: &str, user: &str, explanation: Option<&Explanation>, error: Option<&str>) -> String {
    let (target, user) = (escape_html(target), escape_html(user));
    let body = match (explanation, error) {
        (Some(e), _) => explain::render::html(e),
        (None, Some(error)) => format!("<p class=\"error\">{}</p>", escape_html(error)),
        (None, None) => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Explain {user} ({target}): writeback_exporter</title><style>{STYLE}</style></head><body>\
         <p><a href=\"./\">&larr; all checks</a></p><h1>Why {user}?</h1>\
         <form method=\"get\" action=\"explain\"><input type=\"hidden\" name=\"target\" value=\"{target}\">\
         <label>User (sAMAccountName, UPN or DN) <input name=\"user\" value=\"{user}\" size=\"40\"></label> \
         <button type=\"submit\">Explain</button></form>{body}</body></html>\n"
    )
}

/// Long values (DNs, SDDL) wrap instead of widening the page.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:75em;padding:0 1em;\
    overflow-wrap:anywhere}table{border-collapse:collapse;width:100%;table-layout:fixed}\
    td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
    code,pre{white-space:pre-wrap;overflow-wrap:anywhere}.ready{color:#1a7f37}.not_ready,.error{color:#b42318}\
    .cannot_judge{color:#9a6700}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_only_when_asked() {
        let mut headers = HeaderMap::new();
        assert!(!wants_json(&headers));
        headers.insert(header::ACCEPT, "text/html, application/json;q=0.9".parse().unwrap());
        assert!(wants_json(&headers));
        headers.insert(header::ACCEPT, "text/html".parse().unwrap());
        assert!(!wants_json(&headers));
    }

    #[test]
    fn the_page_escapes_what_it_was_asked() {
        let html = page("corp\"><script>", "<script>alert(1)</script>", None, Some("no user <b>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("no user &lt;b&gt;"));
    }
}
