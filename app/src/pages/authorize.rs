//! `/oauth2/authorize`: the OpenID Connect authorization endpoint, as a page (and
//! `/oauth2/logout`, its RP-initiated logout). An app
//! sends its users here; Gatehouse signs them in with its own pages (everything they
//! do: second step, passkeys, lockout), asks whether the app may have what it asks for,
//! and sends them back with a code. The decisions are the core's; this page shows them.
//! Its consent form is an island (a server-function redirect may leave the site) and a
//! plain form post without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[cfg(feature = "ssr")]
use crate::model::ConsentDecision;
use crate::{
    error::AppError,
    model::{AuthorizeAnswer, ConsentView, EndSessionAnswer},
};

pub const AUTHORIZE_PAGE: &str = "/oauth2/authorize";

/// What the endpoint decides for the request in `query` (as the app sent it, without
/// the `?`), for this browser's session: renewed here first if only its refresh cookie
/// is left, so a user signed in yesterday is not asked for a password again.
#[server(endpoint = "oauth2/authorization")]
pub async fn authorization(query: String) -> Result<AuthorizeAnswer, AppError> {
    decide(query, ConsentDecision::Ask).await
}

/// The consent form: `decision` is the button pressed (`allow` or `deny`). On success
/// the browser goes back to the app.
///
/// It answers nothing but the redirect: the island that sends it then carries no
/// decoder for the page's types (the WASM budget).
#[server(endpoint = "oauth2/consent")]
pub async fn consent(query: String, decision: String) -> Result<(), AppError> {
    let decision = match decision.as_str() {
        "allow" => ConsentDecision::Allow,
        _ => ConsentDecision::Deny,
    };
    match decide(query.clone(), decision).await? {
        AuthorizeAnswer::Redirect(to) => leptos_axum::redirect(&to),
        // Signed out meanwhile, or the app changed: the page says what now.
        _ => leptos_axum::redirect(&format!("{AUTHORIZE_PAGE}?{query}")),
    }
    Ok(())
}

#[cfg(feature = "ssr")]
async fn decide(query: String, decision: ConsentDecision) -> Result<AuthorizeAnswer, AppError> {
    use crate::ssr::{answer, backend, request};
    let backend = backend()?;
    let request = request()?;
    let access = crate::ssr::live_access(&request, &backend).await?;
    answer(
        backend
            .authorize(&request, access.as_deref(), &query, decision)
            .await,
    )
}

#[component]
pub fn AuthorizePage() -> impl IntoView {
    let location = use_location();
    let query = location
        .search
        .get_untracked()
        .trim_start_matches('?')
        .to_owned();
    let answer = Resource::new(move || query.clone(), authorization);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let query = location.search.get_untracked().trim_start_matches('?').to_owned();
                match answer.await {
                    Ok(AuthorizeAnswer::Redirect(to)) => {
                        #[cfg(feature = "ssr")]
                        leptos_axum::redirect(&to);
                        view! {
                            <section class="card narrow">
                                <p><a href=to rel="external">"Continue"</a></p>
                            </section>
                        }
                        .into_any()
                    }
                    Ok(AuthorizeAnswer::Consent(consent)) => {
                        #[cfg(feature = "ssr")]
                        crate::ssr::allow_form_action_to(&consent.redirect_origin);
                        view! { <ConsentCard consent query/> }.into_any()
                    }
                    Ok(AuthorizeAnswer::Refused(why)) => {
                        #[cfg(feature = "ssr")]
                        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                            response.set_status(http::StatusCode::BAD_REQUEST);
                        }
                        view! {
                            <section class="card narrow" aria-labelledby="refused-title">
                                <h1 id="refused-title">"This sign-in request cannot go on"</h1>
                                <p class="form-error" role="alert">{why}</p>
                                <p>"Go back to the app and try again; if it keeps happening, tell whoever runs it."</p>
                            </section>
                        }
                        .into_any()
                    }
                    Err(error) => view! {
                        <section class="card narrow">
                            <p class="form-error" role="alert">{error.message}</p>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConsentCard(consent: ConsentView, query: String) -> impl IntoView {
    let ConsentView {
        client_name,
        redirect_host,
        asks_for,
        ..
    } = consent;
    view! {
        <section class="card narrow" aria-labelledby="consent-title">
            <h1 id="consent-title">{format!("Sign in to {client_name}?")}</h1>
            <p>{format!("{client_name} asks to:")}</p>
            <ul class="consent-list">
                {asks_for.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            </ul>
            <p class="hint-text">{format!("You will then go back to {redirect_host}.")}</p>
            <ConsentForm query/>
        </section>
    }
}

#[island]
fn ConsentForm(query: String) -> impl IntoView {
    let consent = ServerAction::<Consent>::new();
    view! {
        <ActionForm action=consent attr:class="inline">
            <input type="hidden" name="query" value=query/>
            <button type="submit" name="decision" value="allow">"Allow"</button>
            <button type="submit" name="decision" value="deny" class="secondary">"Deny"</button>
        </ActionForm>
    }
}

/// RP-initiated logout for `query` as the app sent it: with a valid `id_token_hint` the
/// app's session and this browser's end, and the browser goes back to the app.
#[server(endpoint = "oauth2/end-session")]
pub async fn end_session(query: String) -> Result<EndSessionAnswer, AppError> {
    use crate::ssr::{answer, backend, clear_session_cookies, presented, request};
    let backend = backend()?;
    let request = request()?;
    let access = presented(&request).access;
    let outcome = answer(
        backend
            .end_session(&request, access.as_deref(), &query)
            .await,
    )?;
    if matches!(outcome, EndSessionAnswer::SignedOut(_)) {
        clear_session_cookies(backend.cookie_policy());
    }
    Ok(outcome)
}

/// `/oauth2/logout`: the `end_session_endpoint`.
#[component]
pub fn EndSessionPage() -> impl IntoView {
    let location = use_location();
    let query = location
        .search
        .get_untracked()
        .trim_start_matches('?')
        .to_owned();
    let answer = Resource::new(move || query.clone(), end_session);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (to, refused) = match answer.await {
                    Ok(EndSessionAnswer::SignedOut(to)) => (Some(to), None),
                    Ok(EndSessionAnswer::Confirm) => (Some("/logout".to_owned()), None),
                    Ok(EndSessionAnswer::Refused(why)) => (None, Some(why)),
                    Err(error) => (None, Some(error.message)),
                };
                match (to, refused) {
                    (Some(to), _) => {
                        #[cfg(feature = "ssr")]
                        leptos_axum::redirect(&to);
                        view! {
                            <section class="card narrow">
                                <p><a href=to rel="external">"Continue"</a></p>
                            </section>
                        }
                        .into_any()
                    }
                    (None, why) => {
                        #[cfg(feature = "ssr")]
                        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                            response.set_status(http::StatusCode::BAD_REQUEST);
                        }
                        view! {
                            <section class="card narrow" aria-labelledby="end-refused-title">
                                <h1 id="end-refused-title">"This sign-out request cannot go on"</h1>
                                <p class="form-error" role="alert">{why}</p>
                                <p><a href="/logout">"Sign out of Gatehouse here"</a></p>
                            </section>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
