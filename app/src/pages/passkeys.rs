//! Passkeys in the browser. The ceremonies need `navigator.credentials`, so they run in a
//! small script, `/passkeys.js`, rather than in the WASM bundle (which would need the
//! WebAuthn bindings for a few calls): it calls the server functions below and never
//! sees a token — the session cookies are set here. Listing and removing passkeys are
//! plain forms and work with JavaScript off; buttons that need a passkey show only where
//! the browser can make one.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    error::AppError,
    forms::QueryError,
    model::{PasskeyView, Viewer},
    pages::account::{ConfirmItIsYou, reauthentication_asked},
    time::When,
};

#[cfg(feature = "ssr")]
use crate::{model::ErrorCode, ssr};

#[cfg(feature = "ssr")]
fn no_ceremony() -> AppError {
    AppError::new(
        ErrorCode::InvalidCeremony,
        ErrorCode::InvalidCeremony.message(),
    )
}

/// The options for `navigator.credentials.create`, as JSON.
#[server(endpoint = "passkey/register/start")]
pub async fn begin_passkey_registration() -> Result<String, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .begin_passkey_registration(&request, ssr::presented(&request).access.as_deref())
        .await
        .map(|(options, id, max_age)| {
            ssr::set_ceremony_cookie(id, max_age, backend.cookie_policy());
            options
        });
    ssr::answer(outcome)
}

#[server(endpoint = "passkey/register/finish")]
pub async fn finish_passkey_registration(name: String, credential: String) -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = match ssr::presented_ceremony(&request) {
        Some(ceremony) => {
            backend
                .finish_passkey_registration(
                    &request,
                    ssr::presented(&request).access.as_deref(),
                    &ceremony,
                    credential,
                    name,
                )
                .await
        }
        None => Err(no_ceremony()),
    };
    ssr::clear_ceremony_cookie(backend.cookie_policy());
    ssr::answer(outcome)
}

/// The options for `navigator.credentials.get`, as JSON.
#[server(endpoint = "passkey/sign_in/start")]
pub async fn begin_passkey_sign_in() -> Result<String, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .begin_passkey_sign_in(&request)
        .await
        .map(|(options, id, max_age)| {
            ssr::set_ceremony_cookie(id, max_age, backend.cookie_policy());
            options
        });
    ssr::answer(outcome)
}

/// Signs in and answers where to go next (the script goes there).
#[server(endpoint = "passkey/sign_in/finish")]
pub async fn finish_passkey_sign_in(
    credential: String,
    next: Option<String>,
) -> Result<String, AppError> {
    sign_in_by_ceremony(next, |backend, request, ceremony| async move {
        backend
            .finish_passkey_sign_in(&request, &ceremony, credential)
            .await
    })
    .await
}

/// The finish of a ceremony that signs someone in (a passkey sign-in, a passkey
/// sign-up): the ceremony's cookie is spent whatever the outcome, the session's cookies
/// are set on success, and the answer is where to go next.
#[cfg(feature = "ssr")]
async fn sign_in_by_ceremony<Finished>(
    next: Option<String>,
    finish: impl FnOnce(crate::backend::SharedBackend, http::request::Parts, String) -> Finished,
) -> Result<String, AppError>
where
    Finished: std::future::Future<Output = Result<crate::backend::IssuedSession, AppError>>,
{
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let policy = backend.cookie_policy();
    let outcome = match ssr::presented_ceremony(&request) {
        Some(ceremony) => finish(backend, request, ceremony).await,
        None => Err(no_ceremony()),
    };
    ssr::clear_ceremony_cookie(policy);
    let outcome = outcome.map(|issued| {
        ssr::set_session_cookies(&issued, policy);
        crate::next_path::safe_next(next.as_deref(), &ssr::return_hosts())
    });
    ssr::answer(outcome)
}

/// The options for `navigator.credentials.create` for a new account, as JSON; the name
/// and address are checked as a password sign-up checks them.
#[server(endpoint = "passkey/sign_up/start")]
pub async fn begin_passkey_signup(
    username: String,
    email: Option<String>,
) -> Result<String, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .begin_passkey_signup(&request, username, email)
        .await
        .map(|(options, id, max_age)| {
            ssr::set_ceremony_cookie(id, max_age, backend.cookie_policy());
            options
        });
    ssr::answer(outcome)
}

/// Makes the account, signs it in, and answers where to go next.
#[server(endpoint = "passkey/sign_up/finish")]
pub async fn finish_passkey_signup(
    credential: String,
    next: Option<String>,
) -> Result<String, AppError> {
    sign_in_by_ceremony(next, |backend, request, ceremony| async move {
        backend
            .finish_passkey_signup(&request, &ceremony, credential)
            .await
    })
    .await
}

/// A passkey as the second step, for the step-up ticket in its cookie.
#[server(endpoint = "passkey/step_up/start")]
pub async fn begin_step_up_passkey() -> Result<String, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome =
        match ssr::presented_step_up(&request) {
            Some(ticket) => backend.begin_step_up_passkey(&request, &ticket).await.map(
                |(options, id, max_age)| {
                    ssr::set_ceremony_cookie(id, max_age, backend.cookie_policy());
                    options
                },
            ),
            None => Err(AppError::new(
                ErrorCode::InvalidStepUp,
                ErrorCode::InvalidStepUp.message(),
            )),
        };
    ssr::answer(outcome)
}

/// Completes the sign-in and answers where to go next.
#[server(endpoint = "passkey/step_up/finish")]
pub async fn finish_step_up_passkey(
    credential: String,
    next: Option<String>,
) -> Result<String, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let policy = backend.cookie_policy();
    let outcome = match (
        ssr::presented_step_up(&request),
        ssr::presented_ceremony(&request),
    ) {
        (Some(ticket), Some(ceremony)) => {
            backend
                .complete_sign_in_with_passkey(&request, &ticket, &ceremony, credential)
                .await
        }
        (None, _) => Err(AppError::new(
            ErrorCode::InvalidStepUp,
            ErrorCode::InvalidStepUp.message(),
        )),
        (Some(_), None) => Err(no_ceremony()),
    };
    ssr::clear_ceremony_cookie(policy);
    let outcome = outcome.map(|issued| {
        ssr::clear_step_up_cookie(policy);
        ssr::set_session_cookies(&issued, policy);
        crate::next_path::safe_next(next.as_deref(), &ssr::return_hosts())
    });
    ssr::answer(outcome)
}

/// "Confirm it is you" with a passkey: the options for `navigator.credentials.get`.
#[server(endpoint = "passkey/reauthenticate/start")]
pub async fn begin_passkey_reauthentication() -> Result<String, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .begin_reauthentication_with_passkey(&request, ssr::presented(&request).access.as_deref())
        .await
        .map(|(options, id, max_age)| {
            ssr::set_ceremony_cookie(id, max_age, backend.cookie_policy());
            options
        });
    ssr::answer(outcome)
}

#[server(endpoint = "passkey/reauthenticate/finish")]
pub async fn finish_passkey_reauthentication(credential: String) -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = match ssr::presented_ceremony(&request) {
        Some(ceremony) => {
            backend
                .reauthenticate_with_passkey(
                    &request,
                    ssr::presented(&request).access.as_deref(),
                    &ceremony,
                    credential,
                )
                .await
        }
        None => Err(no_ceremony()),
    };
    ssr::clear_ceremony_cookie(backend.cookie_policy());
    ssr::answer(outcome)
}

#[server(endpoint = "passkeys")]
pub async fn list_passkeys() -> Result<Vec<PasskeyView>, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    ssr::answer(
        backend
            .passkeys(ssr::presented(&request).access.as_deref())
            .await,
    )
}

#[server(endpoint = "passkey/rename")]
pub async fn rename_passkey(id: String, name: String) -> Result<PasskeyView, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .rename_passkey(
            &request,
            ssr::presented(&request).access.as_deref(),
            id,
            name,
        )
        .await;
    match &outcome {
        Ok(_) => leptos_axum::redirect("/account/passkeys?renamed=1"),
        Err(error) => ssr::redirect_form_error(&request, "/account/passkeys", error),
    }
    ssr::answer(outcome)
}

#[server(endpoint = "passkey/remove")]
pub async fn remove_passkey(id: String, current_password: String) -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .remove_passkey(
            &request,
            ssr::presented(&request).access.as_deref(),
            id,
            current_password,
        )
        .await;
    match &outcome {
        Ok(()) => leptos_axum::redirect("/account/passkeys?removed=1"),
        Err(error) => ssr::redirect_form_error(&request, "/account/passkeys", error),
    }
    ssr::answer(outcome)
}

/// A button that runs a passkey ceremony in `/passkeys.js` (`action`: `sign-in` on the
/// sign-in page, `step-up` on the code page), then goes on to `next`; shown only where
/// the browser can use passkeys.
#[component]
pub fn PasskeyButton(action: &'static str, label: &'static str, next: String) -> impl IntoView {
    view! {
        <div class="passkey-only" data-passkey-box="" data-next=next>
            <p class="divider">"or"</p>
            <button type="button" class="secondary" data-passkey-action=action>{label}</button>
            <p class="form-error" role="alert" data-passkey-message="" hidden=true></p>
        </div>
    }
}

#[component]
pub fn PasskeysPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|_viewer: Viewer| view! { <Passkeys/> }/> }
}

#[component]
fn Passkeys() -> impl IntoView {
    let query = use_query_map().read_untracked();
    let notice = if query.get("added").is_some() {
        Some("Your passkey has been added. You can sign in with it now.")
    } else if query.get("renamed").is_some() {
        Some("The passkey has its new name.")
    } else if query.get("removed").is_some() {
        Some("The passkey has been removed, and your other devices are signed out.")
    } else {
        None
    };
    let passkeys = Resource::new(|| (), |_| list_passkeys());
    let ways = Resource::new(|| (), |_| crate::pages::account::own_sign_in_ways());
    view! {
        <section class="card narrow" aria-labelledby="passkeys-title">
            <h1 id="passkeys-title">"Passkeys"</h1>
            <p>"A passkey signs you in with your device's screen lock or a security key: no password, and nothing a phishing site could use."</p>
            {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
            <QueryError/>
            {reauthentication_asked().then(|| view! { <ConfirmItIsYou/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let has_password = ways.await.map_or(true, |ways| ways.password.ready);
                    match passkeys.await {
                        Ok(list) if list.is_empty() => view! { <p id="passkey-list">"No passkeys yet."</p> }.into_any(),
                        Ok(list) => view! { <PasskeyList passkeys=list has_password/> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <div class="passkey-only" data-passkey-box="">
                <h2>"Add a passkey"</h2>
                <div class="field">
                    <label for="passkey-name">"Name (to tell it apart later)"</label>
                    <input id="passkey-name" name="name" type="text" maxlength="64" placeholder="Laptop"/>
                </div>
                <button type="button" data-passkey-action="register">"Add a passkey"</button>
                <p class="form-error" role="alert" data-passkey-message="" hidden=true></p>
            </div>
            <p class="no-passkeys hint">"Adding a passkey needs JavaScript and a browser that supports passkeys."</p>
            <p><a href="/account">"Back to your account"</a></p>
        </section>
    }
}

/// An account without a password removes a passkey on a recent sign-in alone (and never
/// its last way in): its forms ask for nothing.
#[component]
fn PasskeyList(passkeys: Vec<PasskeyView>, has_password: bool) -> impl IntoView {
    let remove = ServerAction::<RemovePasskey>::new();
    let rename = ServerAction::<RenamePasskey>::new();
    let rows = passkeys
        .into_iter()
        .enumerate()
        .map(|(index, passkey)| {
            let password_id = format!("remove-passkey-{index}");
            let name_id = format!("rename-passkey-{index}");
            let (rename_label, remove_label) = (
                format!("New name for {}", passkey.name),
                format!("Your password, to remove {}", passkey.name),
            );
            let (rename_id, remove_id) = (passkey.id.clone(), passkey.id);
            let name = passkey.name;
            let remove_named = format!("Remove {name}");
            let used = match passkey.last_used_at {
                Some(unix) => view! { <When unix/> }.into_any(),
                None => "never".into_any(),
            };
            view! {
                <li class="passkey">
                    <strong class="passkey-name">{name.clone()}</strong>
                    " — added " <When unix=passkey.created_at/> ", last used " {used}
                    <ActionForm action=rename attr:class="inline-form">
                        <input type="hidden" name="id" value=rename_id/>
                        <label for=name_id.clone()>{rename_label}</label>
                        <input id=name_id name="name" type="text" maxlength="64"
                            value=name required=true/>
                        <button type="submit" class="secondary">"Rename"</button>
                    </ActionForm>
                    <ActionForm action=remove attr:class="inline-form">
                        <input type="hidden" name="id" value=remove_id/>
                        {if has_password {
                            view! {
                                <label for=password_id.clone()>{remove_label}</label>
                                <input id=password_id name="current_password" type="password"
                                    autocomplete="current-password" required=true/>
                                <button type="submit" class="secondary">"Remove"</button>
                            }
                            .into_any()
                        } else {
                            view! {
                                <input type="hidden" name="current_password" value=""/>
                                <button type="submit" class="secondary"
                                    aria-label=remove_named>"Remove"</button>
                            }
                            .into_any()
                        }}
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="passkey-list" id="passkey-list">{rows}</ul> }
}
