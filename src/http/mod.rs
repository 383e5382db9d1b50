//! HTTP edge: serves the cached metrics, the landing page and the lifecycle endpoints.

pub mod auth;
mod explain;
mod failures;
mod landing;
pub mod limits;
pub mod routes;
pub mod serve;
mod state;
pub mod web_config;
