//! Signing in with another provider: the "Continue with …" links, `/login/with/{id}`
//! (which sends the browser to the provider) and `/login/with/{id}/callback` (where the
//! provider sends it back). Both are pages that redirect, so they work the same with
//! JavaScript on or off; a refusal is a page that says what happened, with its status.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};

use crate::{
    error::AppError,
    model::{LinkedAccountsView, ProviderButton},
};

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
/// `next`, or to the second step; or, for a link asked for on `/account`, back there.
/// The sealed sign-in is spent either way.
#[server(endpoint = "provider/callback")]
pub async fn provider_callback(provider: String, query: String) -> Result<(), AppError> {
    use crate::{
        backend::ProviderFinish,
        ssr::{
            answer, backend, begin_session, clear_provider_flow_cookie, presented,
            presented_provider_flow, request,
        },
    };
    let backend = backend()?;
    let request = request()?;
    let flow = presented_provider_flow(&request);
    let finished = backend
        .finish_provider_sign_in(
            &request,
            presented(&request).access.as_deref(),
            &provider,
            &query,
            flow.as_deref(),
        )
        .await;
    let policy = backend.cookie_policy();
    clear_provider_flow_cookie(policy);
    answer(finished.map(|finish| match finish {
        ProviderFinish::SignedIn(signed_in, next) => {
            begin_session(*signed_in, next.as_deref(), policy);
        }
        ProviderFinish::Linked => leptos_axum::redirect(LINKED_PAGE),
    }))
}

/// Where a finished link goes: the account page, saying so.
pub const LINKED_PAGE: &str = "/account?linked=1#linked-title";

/// Starts linking an account at `provider` to the signed-in one: the browser goes to
/// the provider, the sealed link waits in the same cookie as a sign-in. Its password
/// field is `link_password` (other forms on `/account` have theirs; ids are unique).
#[server(endpoint = "account/providers/link")]
pub async fn link_provider(provider: String, link_password: String) -> Result<(), AppError> {
    use crate::ssr::{
        answer, backend, presented, redirect_form_error, request, set_provider_flow_cookie,
    };
    let backend = backend()?;
    let request = request()?;
    let started = backend
        .begin_provider_link(
            &request,
            presented(&request).access.as_deref(),
            &provider,
            link_password,
        )
        .await
        .map_err(|error| password_field_named(error, "link_password"));
    match &started {
        Ok(start) => {
            set_provider_flow_cookie(
                start.flow.clone(),
                start.max_age_secs,
                backend.cookie_policy(),
            );
            leptos_axum::redirect(&start.location);
        }
        Err(error) => redirect_form_error(&request, &providers_way_back(error), error),
    }
    answer(started.map(drop))
}

/// Unlinks one of the caller's accounts at another provider: `identity` is its provider
/// and subject, as the page's choice sends them (provider ids hold no space).
#[server(endpoint = "account/providers/unlink")]
pub async fn unlink_provider(identity: String, unlink_password: String) -> Result<(), AppError> {
    use crate::ssr::{answer, backend, presented, redirect_form_error, request};
    let request = request()?;
    let Some((provider, subject)) = identity.split_once(' ') else {
        let error = AppError {
            field: Some("identity".into()),
            ..AppError::new(
                crate::model::ErrorCode::InvalidInput,
                "Choose the linked account to unlink.",
            )
        };
        redirect_form_error(&request, PROVIDERS_SECTION, &error);
        return answer(Err(error));
    };
    let outcome = backend()?
        .unlink_provider(
            &request,
            presented(&request).access.as_deref(),
            provider,
            subject,
            unlink_password,
        )
        .await
        .map_err(|error| password_field_named(error, "unlink_password"));
    match &outcome {
        Ok(()) => leptos_axum::redirect("/account?unlinked=1#linked-title"),
        Err(error) => redirect_form_error(&request, &providers_way_back(error), error),
    }
    answer(outcome)
}

/// The account's accounts at other providers, and the providers to link.
#[server(endpoint = "account/providers")]
pub async fn own_linked_accounts() -> Result<LinkedAccountsView, AppError> {
    use crate::ssr::{answer, backend, presented, request};
    let request = request()?;
    answer(
        backend()?
            .linked_accounts(presented(&request).access.as_deref())
            .await,
    )
}

/// The core calls the password it checks `current_password`; these forms name theirs
/// otherwise (ids on `/account` are unique), and the message belongs beside it.
#[cfg(feature = "ssr")]
fn password_field_named(mut error: AppError, name: &str) -> AppError {
    if error.field.as_deref() == Some("current_password") {
        error.field = Some(name.to_owned());
    }
    error
}

/// A plain form's way back to `/account` when refused: the section's errors show there.
#[cfg(feature = "ssr")]
const PROVIDERS_SECTION: &str = "/account?section=providers";

/// The section, and the password box by its name when it was the password.
#[cfg(feature = "ssr")]
fn providers_way_back(error: &AppError) -> String {
    super::account::section_way_back("providers", error)
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
    // Those added from the console are read from the store (or its memory): the page
    // waits for them (every route renders whole before it is sent).
    let providers = OnceResource::new(offered_providers());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    let providers = providers.await;
                    (!providers.is_empty()).then(|| {
                        view! {
                            <div class="providers">
                                <p class="divider">"or"</p>
                                {providers
                                    .into_iter()
                                    .map(|provider| {
                                        view! {
                                            <p>
                                                <a class="provider" rel="external"
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
                })
            }}
        </Suspense>
    }
}

async fn offered_providers() -> Vec<ProviderButton> {
    #[cfg(feature = "ssr")]
    if let Ok(backend) = crate::ssr::backend() {
        return backend.sign_in_providers().await;
    }
    Vec::new()
}

/// "Other providers" on `/account`: the linked accounts, a form to unlink one, and a
/// form to link another; nothing when no provider is configured and none is linked.
#[component]
pub fn LinkedAccountsSection(section_error: bool) -> impl IntoView {
    let accounts = Resource::new(|| (), |_| own_linked_accounts());
    let query = use_query_map().read_untracked();
    let notice = if query.get("linked").is_some() {
        Some("Linked: you can now sign in with that account too.")
    } else if query.get("unlinked").is_some() {
        Some("Unlinked: that account no longer signs in here.")
    } else {
        None
    };
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let accounts = accounts.await.unwrap_or_default();
                if accounts.linked.is_empty() && accounts.providers.is_empty() {
                    return None;
                }
                // Without JavaScript the link form's answer is a redirect to a provider:
                // this page's policy lets forms lead there.
                #[cfg(feature = "ssr")]
                if !accounts.link_origins.is_empty() {
                    crate::ssr::allow_form_action_to(&accounts.link_origins.join(" "));
                }
                Some(view! {
                    <h2 id="linked-title">"Other providers"</h2>
                    {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
                    {section_error.then(|| view! { <crate::forms::QueryError/> })}
                    <LinkedList accounts=accounts.clone()/>
                    {(!accounts.providers.is_empty()).then(|| view! {
                        <LinkProviderForm providers=accounts.providers.clone()
                            has_password=accounts.has_password/>
                    })}
                })
            })}
        </Suspense>
    }
}

/// The linked accounts, and a plain form that unlinks the one chosen.
#[component]
fn LinkedList(accounts: LinkedAccountsView) -> impl IntoView {
    if accounts.linked.is_empty() {
        return view! {
            <p class="hint" id="linked-accounts">"No account at another provider is linked yet."</p>
        }
        .into_any();
    }
    let unlink = ServerAction::<UnlinkProvider>::new();
    view! {
        <p class="hint">"Each signs in here. Unlinking needs your password, and the last way you can sign in stays."</p>
        <ActionForm action=unlink attr:id="unlink-form">
            <fieldset>
                <legend>"Linked accounts"</legend>
                <ul class="passkey-list" id="linked-accounts">
                    {accounts.linked.into_iter().enumerate().map(|(index, linked)| {
                        let id = format!("linked-{index}");
                        let shown = linked.email.clone().unwrap_or_else(|| linked.subject.clone());
                        view! {
                            <li class="field checkbox">
                                <input type="radio" id=id.clone() name="identity" required=true
                                    value=format!("{} {}", linked.provider, linked.subject)/>
                                <label for=id>
                                    <strong>{linked.provider_name}</strong> " — " {shown}
                                </label>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </fieldset>
            <super::account::PasswordToConfirm name="unlink_password"
                label="Your password, to unlink" has_password=accounts.has_password
                error=super::account::refused_section_field("providers", "unlink_password")/>
            <button type="submit" class="secondary">"Unlink the chosen account"</button>
        </ActionForm>
    }
    .into_any()
}

/// "Link X": a plain form post in every browser, whose answer sends the browser to the
/// provider; its refusals come back to the section, as the unlink form's do.
#[component]
fn LinkProviderForm(providers: Vec<ProviderButton>, has_password: bool) -> impl IntoView {
    let link = ServerAction::<LinkProvider>::new();
    let only = (providers.len() == 1).then(|| providers[0].clone());
    view! {
        <LeavesThisSite>
            <ActionForm action=link attr:id="link-form">
                {match only {
                    Some(provider) => view! {
                        <input type="hidden" name="provider" value=provider.id/>
                    }.into_any(),
                    None => view! {
                        <div class="field">
                            <label for="link-provider">"Provider"</label>
                            <select id="link-provider" name="provider">
                                {providers.iter().map(|provider| view! {
                                    <option value=provider.id.clone()>{provider.name.clone()}</option>
                                }).collect_view()}
                            </select>
                        </div>
                    }.into_any(),
                }}
                {if has_password {
                    view! {
                        <crate::forms::Field name="link_password" label="Your password, to link"
                            kind="password" autocomplete="current-password" required=true
                            error=super::account::refused_section_field("providers", "link_password")/>
                    }.into_any()
                } else {
                    view! { <input type="hidden" name="link_password" value=""/> }.into_any()
                }}
                <button type="submit">
                    {match providers.as_slice() {
                        [provider] => format!("Link {}", provider.name),
                        _ => "Link".to_owned(),
                    }}
                </button>
            </ActionForm>
        </LeavesThisSite>
    }
}

/// Keeps the submits of the forms inside from the islands router, which would post them
/// in a fetch that cannot follow a redirect to another site: the browser posts them
/// itself. The smallest island there is (the WASM budget is tight); its children are
/// server-rendered and never hydrated.
#[island]
fn LeavesThisSite(children: Children) -> impl IntoView {
    view! { <div on:submit=|event| event.stop_propagation()>{children()}</div> }
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
