//! The browser session: sign-up, login, logout, refresh and "who am I" as server
//! functions (their cookies are set by `ssr`), and the `Session` every page reads.
//! Every rule behind them lives in the auth core, reached through `AuthBackend`.

use leptos::prelude::*;

use crate::{error::AppError, model::Viewer};
#[cfg(feature = "ssr")]
use crate::{model::ErrorCode, next_path::with_next, ssr};

/// The signed-in user, from the session cookies. An expired access cookie is renewed
/// with the refresh cookie here, so a page rendered on the server is already signed in.
#[server(endpoint = "session")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let tokens = ssr::presented(&request);
    if tokens.access.is_some() {
        match backend.viewer(tokens.access.as_deref()).await {
            Ok(viewer) => return Ok(Some(viewer)),
            Err(error) if error.is_unauthenticated() => {}
            Err(error) => return ssr::answer(Err(error)),
        }
    }
    let Some(refresh) = tokens.refresh else {
        return Ok(None);
    };
    match backend.refresh(&request, &refresh).await {
        Ok(issued) => {
            ssr::set_session_cookies(&issued, backend.cookie_policy());
            Ok(Some(issued.viewer))
        }
        Err(error) if error.is_unauthenticated() => {
            ssr::clear_session_cookies(backend.cookie_policy());
            Ok(None)
        }
        Err(error) => ssr::answer(Err(error)),
    }
}

/// Renews the session: the refresh cookie is rotated and a new access cookie set.
#[server(endpoint = "refresh")]
pub async fn refresh_session() -> Result<Viewer, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let refresh = ssr::presented(&request)
        .refresh
        .ok_or_else(|| AppError::new(ErrorCode::InvalidRefreshToken, "You are not signed in."))?;
    match backend.refresh(&request, &refresh).await {
        Ok(issued) => {
            ssr::set_session_cookies(&issued, backend.cookie_policy());
            Ok(issued.viewer)
        }
        Err(error) => {
            if error.is_unauthenticated() {
                ssr::clear_session_cookies(backend.cookie_policy());
            }
            ssr::answer(Err(error))
        }
    }
}

/// `None` when the account has a second factor: the browser goes on to the code page.
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<Option<Viewer>, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    match backend.login(&request, username, password).await {
        Ok(signed_in) => Ok(ssr::begin_session(
            signed_in,
            next.as_deref(),
            backend.cookie_policy(),
        )),
        Err(error) => {
            ssr::redirect_form_error(
                &request,
                &with_next("/login", next.as_deref(), &ssr::return_hosts()),
                &error,
            );
            ssr::answer(Err(error))
        }
    }
}

#[server(endpoint = "signup")]
pub async fn signup(
    username: String,
    password: String,
    email: Option<String>,
) -> Result<Option<Viewer>, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = async {
        backend
            .signup(&request, username.clone(), password.clone(), email)
            .await?;
        backend.login(&request, username, password).await
    }
    .await;
    match outcome {
        Ok(signed_in) => Ok(ssr::begin_session(signed_in, None, backend.cookie_policy())),
        Err(error) => {
            ssr::redirect_form_error(&request, "/signup", &error);
            ssr::answer(Err(error))
        }
    }
}

/// Ends this browser's session; then, when `rd` is an app behind the forward-auth gate
/// (a host the sign-in may return to), to the sign-out page, which links back to it
/// (the islands router follows a redirect with `fetch`, which cannot cross to another
/// origin); else to the sign-in page.
#[server(endpoint = "logout")]
pub async fn logout(rd: Option<String>) -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let tokens = ssr::presented(&request);
    let outcome = backend.logout(&request, &tokens).await;
    ssr::clear_session_cookies(backend.cookie_policy());
    let app = rd
        .as_deref()
        .and_then(|rd| backend.return_hosts().allowed_url(rd.trim()));
    match app {
        Some(app) => leptos_axum::redirect(&format!(
            "/logout?rd={}",
            crate::forms::encode_query_value(app)
        )),
        None => leptos_axum::redirect("/login?signed_out=1"),
    }
    ssr::answer(outcome)
}

/// The signed-in user, and the sign-out action, for the pages the server renders.
#[derive(Clone, Copy)]
pub struct Session {
    pub logout: ServerAction<Logout>,
    pub viewer: Resource<Result<Option<Viewer>, AppError>>,
}

impl Session {
    pub fn provide() -> Session {
        // Blocking: the server sends no HTML until it knows who is signed in, so a
        // signed-in user never sees a flash of signed-out content.
        let viewer = Resource::new_blocking(|| (), |_| get_viewer());
        let session = Session {
            logout: ServerAction::<Logout>::new(),
            viewer,
        };
        provide_context(session);
        session
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}
