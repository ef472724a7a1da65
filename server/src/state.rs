use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{auth::AuthService, config::Config};

/// The one state handed to the REST router and to the Leptos routes, so server
/// functions and REST handlers reach the same auth core.
/// Cloned by every extractor of every request, so each part is behind an `Arc`: cloning
/// `LeptosOptions` itself (a dozen strings) was 7 % of a protected request's CPU.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: Arc<LeptosOptions>,
    pub auth: Arc<AuthService>,
    pub config: Arc<Config>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        (*state.leptos_options).clone()
    }
}
