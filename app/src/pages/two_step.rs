//! Two-step sign-in in the browser: the code page between a right password and the
//! session, and the page where a user sets up, confirms or removes an authenticator app.
//! All plain server-rendered forms: they work with JavaScript off and add no WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    error::AppError,
    forms::{Field, QueryError},
    model::{ErrorCode, TotpSetupView, TotpState, TwoStepView, Viewer},
    pages::account::{ConfirmItIsYou, reauthentication_asked},
};

#[cfg(feature = "ssr")]
use crate::{next_path::with_next, ssr};

/// The second step: the ticket comes from its HttpOnly cookie, never from the form.
#[server(endpoint = "second_factor")]
pub async fn complete_sign_in(code: String, next: Option<String>) -> Result<Viewer, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let policy = backend.cookie_policy();
    let outcome = match ssr::presented_step_up(&request) {
        Some(ticket) => backend.complete_sign_in(&request, &ticket, code).await,
        None => Err(AppError::new(
            ErrorCode::InvalidStepUp,
            ErrorCode::InvalidStepUp.message(),
        )),
    };
    match outcome {
        Ok(issued) => {
            ssr::clear_step_up_cookie(policy);
            ssr::set_session_cookies(&issued, policy);
            leptos_axum::redirect(&crate::next_path::safe_next(
                next.as_deref(),
                &ssr::return_hosts(),
            ));
            Ok(issued.viewer)
        }
        Err(error) => {
            let back = if error.code == ErrorCode::InvalidStepUp {
                ssr::clear_step_up_cookie(policy);
                with_next("/login", next.as_deref(), &ssr::return_hosts())
            } else {
                with_next("/login/code", next.as_deref(), &ssr::return_hosts())
            };
            ssr::redirect_form_error(&request, &back, &error);
            ssr::answer(Err(error))
        }
    }
}

/// Whether the sign-in waiting in this browser's step-up cookie can end with a passkey.
#[server(endpoint = "second_factor/passkey_offered")]
pub async fn passkey_offered() -> Result<bool, AppError> {
    let request = ssr::request()?;
    let Some(ticket) = ssr::presented_step_up(&request) else {
        return Ok(false);
    };
    ssr::answer(ssr::backend()?.step_up_offers_passkey(&ticket).await)
}

/// Only whether two-step sign-in is on, and the recovery codes left: what the account
/// page says, which needs no recent sign-in.
#[server(endpoint = "two_step/state")]
pub async fn two_step_state() -> Result<TwoStepView, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let access = ssr::presented(&request).access;
    ssr::answer(backend.two_step(access.as_deref()).await)
}

/// What the two-step page shows: the state, and what is shown only to a recent sign-in.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TwoStepPageView {
    status: TwoStepView,
    /// The set-up in progress, if any.
    setup: Option<TotpSetupView>,
    /// New recovery codes of a confirmed app, until their owner says they are saved.
    new_recovery_codes: Option<Vec<String>>,
}

#[server(endpoint = "two_step")]
pub async fn two_step_status() -> Result<TwoStepPageView, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let access = ssr::presented(&request).access;
    let outcome = match backend.two_step(access.as_deref()).await {
        Ok(status) => match status.totp {
            TotpState::Pending => {
                backend
                    .pending_totp(&request, access.as_deref())
                    .await
                    .map(|setup| TwoStepPageView {
                        status,
                        setup,
                        new_recovery_codes: None,
                    })
            }
            TotpState::On => backend
                .shown_recovery_codes(&request, access.as_deref())
                .await
                .map(|new_recovery_codes| TwoStepPageView {
                    status,
                    setup: None,
                    new_recovery_codes,
                }),
            TotpState::Off => Ok(TwoStepPageView {
                status,
                setup: None,
                new_recovery_codes: None,
            }),
        },
        Err(error) => Err(error),
    };
    ssr::answer(outcome)
}

#[server(endpoint = "two_step/begin")]
pub async fn begin_totp() -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .begin_totp(&request, ssr::presented(&request).access.as_deref())
        .await;
    finish(&request, outcome, "/account/two-step")
}

#[server(endpoint = "two_step/confirm")]
pub async fn confirm_totp(code: String) -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .confirm_totp(&request, ssr::presented(&request).access.as_deref(), code)
        .await;
    finish(&request, outcome, "/account?two_step=on")
}

#[server(endpoint = "two_step/remove")]
pub async fn remove_two_step(current_password: String) -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .remove_second_factors(
            &request,
            ssr::presented(&request).access.as_deref(),
            current_password,
        )
        .await
        .map(|_| ());
    finish(&request, outcome, "/account?two_step=off")
}

#[server(endpoint = "two_step/new_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .regenerate_recovery_codes(&request, ssr::presented(&request).access.as_deref())
        .await;
    finish(&request, outcome, "/account/two-step")
}

#[server(endpoint = "two_step/recovery_codes_saved")]
pub async fn recovery_codes_saved() -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let outcome = backend
        .forget_shown_recovery_codes(ssr::presented(&request).access.as_deref())
        .await;
    finish(&request, outcome, "/account/two-step")
}

/// On success the browser goes to `then`; a failure comes back to the set-up page.
#[cfg(feature = "ssr")]
fn finish(
    request: &http::request::Parts,
    outcome: Result<(), AppError>,
    then: &str,
) -> Result<(), AppError> {
    match &outcome {
        Ok(()) => leptos_axum::redirect(then),
        Err(error) => ssr::redirect_form_error(request, "/account/two-step", error),
    }
    ssr::answer(outcome)
}

#[component]
pub fn CodePage() -> impl IntoView {
    let next = use_query_map()
        .read_untracked()
        .get("next")
        .unwrap_or_default();
    let complete = ServerAction::<CompleteSignIn>::new();
    let next_for_passkey = next.clone();
    view! {
        <section class="card narrow" aria-labelledby="code-title">
            <h1 id="code-title">"Two-step sign-in"</h1>
            <p>"Enter the six-digit code your authenticator app shows, or one of your recovery codes."</p>
            <QueryError/>
            <ActionForm action=complete>
                <input type="hidden" name="next" value=next.clone()/>
                <Field name="code" label="Code" autocomplete="one-time-code" required=true/>
                <button type="submit">"Continue"</button>
            </ActionForm>
            <PasskeyInstead next=next_for_passkey/>
            <p><a href="/login">"Start again"</a></p>
        </section>
    }
}

/// Offered only to an account that has a passkey: to anyone else it could only fail.
#[component]
fn PasskeyInstead(next: String) -> impl IntoView {
    let offered = Resource::new(|| (), |_| passkey_offered());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    matches!(offered.await, Ok(true)).then(|| view! {
                        <crate::pages::passkeys::PasskeyButton action="step-up" label="Use a passkey instead" next=next/>
                    })
                })
            }}
        </Suspense>
    }
}

#[component]
pub fn TwoStepPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|_viewer: Viewer| view! { <TwoStep/> }/> }
}

#[component]
fn TwoStep() -> impl IntoView {
    let status = Resource::new(|| (), |_| two_step_status());
    let asked = reauthentication_asked();
    view! {
        <section class="card narrow" aria-labelledby="two-step-title">
            <h1 id="two-step-title">"Two-step sign-in"</h1>
            <QueryError/>
            {asked.then(|| view! { <ConfirmItIsYou/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(TwoStepPageView { setup: Some(setup), .. }) => {
                            view! { <Setup setup/> }.into_any()
                        }
                        Ok(TwoStepPageView { status, new_recovery_codes, .. })
                            if status.totp == TotpState::On =>
                        {
                            view! { <Enabled status new_recovery_codes/> }.into_any()
                        }
                        Ok(_) => view! { <Off/> }.into_any(),
                        // The set-up in progress shows its secret only to a recent sign-in.
                        Err(error) if error.code == ErrorCode::ReauthenticationRequired => {
                            (!asked).then(|| view! {
                                <p class="form-error" role="alert">{error.message}</p>
                                <ConfirmItIsYou/>
                            }).into_any()
                        }
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <p><a href="/account">"Back to your account"</a></p>
        </section>
    }
}

#[component]
fn Off() -> impl IntoView {
    let begin = ServerAction::<BeginTotp>::new();
    view! {
        <p id="two-step-status">"Off. With it on, signing in also asks for a code from an authenticator app on your phone."</p>
        <ActionForm action=begin>
            <button type="submit">"Set up an authenticator app"</button>
        </ActionForm>
    }
}

/// The secret is shown while set-up is pending only; the QR code is SVG made on the
/// server (no image service), and the recovery codes are shown here and never again.
#[component]
fn Setup(setup: TotpSetupView) -> impl IntoView {
    let confirm = ServerAction::<ConfirmTotp>::new();
    let codes = setup
        .recovery_codes
        .into_iter()
        .map(|code| view! { <li><code>{code}</code></li> })
        .collect_view();
    view! {
        <p id="two-step-status">"Not on yet: scan the code, save your recovery codes, then enter the code your app shows."</p>
        <h2>"1. Scan this with your authenticator app"</h2>
        <div class="qr" role="img" aria-label="QR code of the secret" inner_html=setup.qr_svg></div>
        <p>"Or type this secret: " <code id="totp-secret">{setup.secret}</code></p>
        <h2>"2. Save your recovery codes"</h2>
        <p class="hint">"Each one signs you in once if you lose your phone. They will not be shown again."</p>
        <ul class="recovery-codes" id="recovery-codes">{codes}</ul>
        <h2>"3. Enter the code from your app"</h2>
        <ActionForm action=confirm>
            <Field name="code" label="Six-digit code" autocomplete="one-time-code" required=true/>
            <button type="submit">"Turn on two-step sign-in"</button>
        </ActionForm>
    }
}

#[component]
fn Enabled(status: TwoStepView, new_recovery_codes: Option<Vec<String>>) -> impl IntoView {
    let remove = ServerAction::<RemoveTwoStep>::new();
    view! {
        <p id="two-step-status">
            "On: signing in asks for a code from your authenticator app. Recovery codes left: "
            <strong id="recovery-codes-left">{status.recovery_codes_left}</strong> "."
        </p>
        {match new_recovery_codes {
            Some(codes) => view! { <NewRecoveryCodes codes/> }.into_any(),
            None => view! { <MakeRecoveryCodes/> }.into_any(),
        }}
        <h2>"Turn it off"</h2>
        <p class="hint">"This removes the app and your recovery codes and signs you out on every other device."</p>
        <ActionForm action=remove>
            <Field name="current_password" label="Your password" kind="password"
                autocomplete="current-password" required=true/>
            <button type="submit" class="secondary">"Turn off two-step sign-in"</button>
        </ActionForm>
    }
}

#[component]
fn MakeRecoveryCodes() -> impl IntoView {
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    view! {
        <h2>"Recovery codes"</h2>
        <p class="hint">"Lost them, or used most of them? Make ten new ones: every earlier code stops working."</p>
        <ActionForm action=regenerate>
            <button type="submit" class="secondary">"Make new recovery codes"</button>
        </ActionForm>
    }
}

/// Shown until their owner says they are saved (kept sealed on the server meanwhile), so
/// that a reload or a form sent without JavaScript loses nothing.
#[component]
fn NewRecoveryCodes(codes: Vec<String>) -> impl IntoView {
    let saved = ServerAction::<RecoveryCodesSaved>::new();
    let codes = codes
        .into_iter()
        .map(|code| view! { <li><code>{code}</code></li> })
        .collect_view();
    view! {
        <h2>"Your new recovery codes"</h2>
        <p class="hint">"Each one signs you in once if you lose your phone. Your earlier codes no longer work."</p>
        <ul class="recovery-codes" id="new-recovery-codes">{codes}</ul>
        <ActionForm action=saved>
            <button type="submit">"I have saved them"</button>
        </ActionForm>
    }
}
