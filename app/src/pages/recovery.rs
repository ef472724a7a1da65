//! Getting back in by email: "forgot your password?", choosing a new one from a mailed
//! link, and confirming an address from a mailed link.
//!
//! These forms are plain server-rendered forms, not islands: they work the same with
//! JavaScript off, with it on the islands router posts them and patches in the page the
//! server answers with, and they add nothing to the WASM bundle. Every outcome comes back
//! as a redirect to a page that says it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[cfg(feature = "ssr")]
use crate::ssr::{back_to_form, backend, request};
use crate::{
    error::AppError,
    forms::{Checkbox, Field, QueryError},
    model::RESET_REQUESTED,
};

#[server(endpoint = "forgot")]
pub async fn forgot_password(login: String) -> Result<(), AppError> {
    let request = request()?;
    let outcome = backend()?.forgot_password(&request, login).await;
    if outcome.is_ok() {
        leptos_axum::redirect("/forgot-password?sent=1");
        return Ok(());
    }
    back_to_form(outcome)
}

/// Every passkey and the authenticator app go too unless `keep_factors` is ticked:
/// whoever forced the reset may have added their own.
#[server(endpoint = "reset")]
pub async fn reset_password(
    token: String,
    new_password: String,
    keep_factors: Option<String>,
) -> Result<(), AppError> {
    let request = request()?;
    let outcome = backend()?
        .reset_password(&request, token, new_password, keep_factors.is_none())
        .await;
    if outcome.is_ok() {
        leptos_axum::redirect("/login?reset=1");
        return Ok(());
    }
    back_to_form(outcome)
}

#[server(endpoint = "verify")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    let request = request()?;
    let outcome = backend()?.verify_email(&request, token).await.map(|_| ());
    if outcome.is_ok() {
        leptos_axum::redirect("/verify-email?verified=1");
        return Ok(());
    }
    back_to_form(outcome)
}

fn query_flag(name: &str) -> bool {
    use_query_map().read_untracked().get(name).is_some()
}

fn query_token() -> String {
    use_query_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default()
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let forgot = ServerAction::<ForgotPassword>::new();
    view! {
        <section class="card narrow" aria-labelledby="forgot-title">
            <h1 id="forgot-title">"Forgot your password?"</h1>
            {query_flag("sent").then(|| view! { <p class="notice" role="status">{RESET_REQUESTED}</p> })}
            <QueryError/>
            <p class="hint">
                "Give your username or your email address. If the account has a verified address, "
                "we mail it a link to choose a new password."
            </p>
            <ActionForm action=forgot>
                <Field name="login" label="Username or email" autocomplete="username" required=true/>
                <button type="submit">"Send me a link"</button>
            </ActionForm>
            <p><a href="/login">"Back to sign in"</a></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let reset = ServerAction::<ResetPassword>::new();
    view! {
        <section class="card narrow" aria-labelledby="reset-title">
            <h1 id="reset-title">"Choose a new password"</h1>
            <QueryError/>
            <ActionForm action=reset>
                <input type="hidden" name="token" value=query_token()/>
                <Field name="new_password" label="New password" kind="password"
                    autocomplete="new-password" required=true/>
                <p class="hint">"At least 8 characters, and not one of the most common passwords. \
                    Choosing it signs you out on every device and removes your passkeys and \
                    authenticator app, in case someone else added theirs."</p>
                <Checkbox id="keep_factors" name="keep_factors" label="Keep my passkeys and authenticator app"/>
                <button type="submit">"Set the new password"</button>
            </ActionForm>
            <p>"Link not working? " <a href="/forgot-password">"Ask for a new one"</a></p>
        </section>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let verify = ServerAction::<VerifyEmail>::new();
    // Opening the link only shows this page; the button confirms. Mail scanners that
    // fetch every link in a message then use up nothing.
    view! {
        <section class="card narrow" aria-labelledby="verify-title">
            <h1 id="verify-title">"Confirm your email address"</h1>
            {if query_flag("verified") {
                view! {
                    <p class="notice" role="status">"Your email address is verified."</p>
                    <p><a href="/account">"Go to your account"</a></p>
                }.into_any()
            } else {
                view! {
                    <QueryError/>
                    <ActionForm action=verify>
                        <input type="hidden" name="token" value=query_token()/>
                        <button type="submit">"Confirm my address"</button>
                    </ActionForm>
                }.into_any()
            }}
        </section>
    }
}
