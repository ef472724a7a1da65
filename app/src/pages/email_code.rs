//! Signing in with a code sent by email: one page, two plain forms (ask for a code, then
//! type it), like the recovery pages: the same with JavaScript off, nothing added to the
//! WASM bundle. The link in the mail opens the second form filled in; only its button
//! signs in, so a mail scanner opening links uses nothing up.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[cfg(feature = "ssr")]
use crate::ssr::{back_to_form, backend, request};
use crate::{
    error::AppError,
    forms::{Field, QueryError, encode_query_value},
    model::{SIGN_IN_CODE_REQUESTED, Viewer},
};

/// Where the sign-in page's "Email me a code" leads, and the mail's link.
pub const EMAIL_CODE_PAGE: &str = "/login/email-code";

/// The page's address with `login` (and `next`, when there is one) carried along.
fn page_for(login: Option<&str>, next: &str, sent: bool) -> String {
    let mut query = Vec::new();
    if sent {
        query.push("sent=1".to_owned());
    }
    if let Some(login) = login {
        query.push(format!("login={}", encode_query_value(login.trim())));
    }
    if !next.trim().is_empty() {
        query.push(format!("next={}", encode_query_value(next.trim())));
    }
    if query.is_empty() {
        EMAIL_CODE_PAGE.to_owned()
    } else {
        format!("{EMAIL_CODE_PAGE}?{}", query.join("&"))
    }
}

#[server(endpoint = "email_code/start")]
pub async fn request_email_code(login: String, next: Option<String>) -> Result<(), AppError> {
    let request = request()?;
    let outcome = backend()?
        .request_sign_in_code(&request, login.clone())
        .await;
    if outcome.is_ok() {
        // `next` goes on as given: the sign-in checks it, as every `next`.
        let next = next.unwrap_or_default();
        leptos_axum::redirect(&page_for(Some(&login), &next, true));
        return Ok(());
    }
    back_to_form(outcome)
}

/// `None` when the account has a second factor: the browser goes on to the code page.
#[server(endpoint = "email_code/finish")]
pub async fn sign_in_with_email_code(
    login: String,
    code: String,
    next: Option<String>,
) -> Result<Option<Viewer>, AppError> {
    let backend = backend()?;
    let request = request()?;
    match backend.sign_in_with_email_code(&request, login, code).await {
        Ok(signed_in) => Ok(crate::ssr::begin_session(
            signed_in,
            next.as_deref(),
            backend.cookie_policy(),
        )),
        Err(error) => back_to_form(Err(error)),
    }
}

#[component]
pub fn EmailCodePage() -> impl IntoView {
    let query = use_query_map().read_untracked();
    let next = query.get("next").unwrap_or_default();
    let login = query.get("login");
    let code = query.get("code");
    let sent = query.get("sent").is_some();
    let asked = sent || code.is_some();
    let start = ServerAction::<RequestEmailCode>::new();
    let finish = ServerAction::<SignInWithEmailCode>::new();
    let again = page_for(login.as_deref(), &next, false);
    let back = if next.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?next={}", encode_query_value(&next))
    };
    view! {
        <section class="card narrow" aria-labelledby="email-code-title">
            <h1 id="email-code-title">"Sign in with a code"</h1>
            {sent.then(|| view! { <p class="notice" role="status">{SIGN_IN_CODE_REQUESTED}</p> })}
            <QueryError/>
            {if asked {
                view! {
                    <ActionForm action=finish attr:id="email-code-finish">
                        <input type="hidden" name="next" value=next.clone()/>
                        <Field name="login" label="Username or email" autocomplete="username"
                            required=true value=login.clone()/>
                        <Field name="code" label="Code from the mail" autocomplete="one-time-code"
                            required=true value=code/>
                        <button type="submit">"Sign in"</button>
                    </ActionForm>
                    <p>"No mail? " <a href=again>"Send a new code"</a></p>
                }.into_any()
            } else {
                view! {
                    <p class="hint">
                        "Give your username or your email address. If the account has a verified "
                        "address, we mail it an 8-digit code that signs you in for the next 10 minutes."
                    </p>
                    <ActionForm action=start attr:id="email-code-start">
                        <input type="hidden" name="next" value=next.clone()/>
                        <Field name="login" label="Username or email" autocomplete="username"
                            required=true value=login/>
                        <button type="submit">"Email me a code"</button>
                    </ActionForm>
                }.into_any()
            }}
            <p><a href=back>"Sign in another way"</a></p>
        </section>
    }
}
