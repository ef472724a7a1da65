//! Signing in with another provider: the "Continue with …" links, `/login/with/{id}`
//! (which sends the browser to the provider) and `/login/with/{id}/callback` (where the
//! provider sends it back). Both are pages that redirect, so they work the same with
//! JavaScript on or off; a refusal is a page that says what happened, with its status.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};

use crate::{error::AppError, model::ProviderButton};

pub const PROVIDER_PAGES: &str = "/login/with/";

/// Sends the browser to provider `provider`'s sign-in, keeping the sealed sign-in in a
/// cookie for the callback. `next` is where to go once signed in (checked then).
#[server(endpoint = "provider/start")]
pub async fn provider_start(provider: String, next: Option<String>) -> Result<(), AppError> {
    use crate::ssr::{answer, backend, request, set_provider_flow_cookie};
    let backend = backend()?;
    let started = backend
        .begin_provider_sign_in(&request()?, &provider, next.as_deref())
        .await;
    if let Ok(start) = &started {
        set_provider_flow_cookie(
            start.flow.clone(),
            start.max_age_secs,
            backend.cookie_policy(),
        );
        leptos_axum::redirect(&start.location);
    }
    answer(started.map(drop))
}

/// The provider's answer (`query` as the browser brought it): signed in and on to
/// `next`, or to the second step. The sealed sign-in is spent either way.
#[server(endpoint = "provider/callback")]
pub async fn provider_callback(provider: String, query: String) -> Result<(), AppError> {
    use crate::ssr::{
        answer, backend, begin_session, clear_provider_flow_cookie, presented_provider_flow,
        request,
    };
    let backend = backend()?;
    let request = request()?;
    let flow = presented_provider_flow(&request);
    let finished = backend
        .finish_provider_sign_in(&request, &provider, &query, flow.as_deref())
        .await;
    let policy = backend.cookie_policy();
    clear_provider_flow_cookie(policy);
    answer(finished.map(|(signed_in, next)| {
        begin_session(signed_in, next.as_deref(), policy);
    }))
}

/// Where a "Continue with …" link leads.
pub fn provider_start_link(id: &str, next: &str) -> String {
    if next.is_empty() {
        format!("{PROVIDER_PAGES}{id}")
    } else {
        format!(
            "{PROVIDER_PAGES}{id}?next={}",
            crate::forms::encode_query_value(next)
        )
    }
}

/// "Continue with …" for each configured provider (nothing when there are none). Plain
/// links, marked external: the router leaves them to the browser, which follows the
/// redirect to the provider.
#[component]
pub fn ProviderButtons(next: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let providers: Vec<ProviderButton> = crate::ssr::backend()
        .map(|backend| backend.sign_in_providers())
        .unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let providers: Vec<ProviderButton> = Vec::new();
    (!providers.is_empty()).then(|| {
        view! {
            <div class="providers">
                <p class="divider">"or"</p>
                {providers
                    .into_iter()
                    .map(|provider| {
                        view! {
                            <p>
                                <a class="button-link provider" rel="external"
                                    href=provider_start_link(&provider.id, &next)>
                                    "Continue with " {provider.name}
                                </a>
                            </p>
                        }
                    })
                    .collect_view()}
            </div>
        }
    })
}

/// `/login/with/{id}`: on to the provider, or why not.
#[component]
pub fn ProviderStartPage() -> impl IntoView {
    let provider = use_params_map()
        .read_untracked()
        .get("provider")
        .unwrap_or_default();
    let next = use_query_map().read_untracked().get("next");
    let started = Resource::new(
        move || (provider.clone(), next.clone()),
        |(provider, next)| provider_start(provider, next),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match started.await {
                    Ok(()) => view! {
                        <section class="card narrow">
                            <p>"On to the other provider…"</p>
                        </section>
                    }
                    .into_any(),
                    Err(error) => view! { <Refused error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/login/with/{id}/callback`: signed in and on, or why not.
#[component]
pub fn ProviderCallbackPage() -> impl IntoView {
    let provider = use_params_map()
        .read_untracked()
        .get("provider")
        .unwrap_or_default();
    let query = use_location()
        .search
        .get_untracked()
        .trim_start_matches('?')
        .to_owned();
    let finished = Resource::new(
        move || (provider.clone(), query.clone()),
        |(provider, query)| provider_callback(provider, query),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match finished.await {
                    Ok(()) => view! {
                        <section class="card narrow">
                            <p><a href="/dashboard">"Continue"</a></p>
                        </section>
                    }
                    .into_any(),
                    Err(error) => view! { <Refused error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A refused sign-in: what happened, in the message the core chose (it names the
/// provider), with the error's status on the page.
#[component]
fn Refused(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(error.status()),
    ) {
        response.set_status(status);
    }
    view! {
        <section class="card narrow" aria-labelledby="provider-refused-title">
            <h1 id="provider-refused-title">"Sign-in not completed"</h1>
            <p class="form-error" role="alert" data-code=error.code.as_str()>{error.message}</p>
            <p><a href="/login">"Back to sign in"</a></p>
        </section>
    }
}
