//! The sign-in and sign-up pages. Their forms are islands: errors show in place without
//! a reload, and without JavaScript they are plain form posts.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    forms::{Field, FormErrors, query_error},
    session::{Login, Signup},
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map().read_untracked();
    // `rd` is what reverse proxies' forward-auth conventions call it.
    let next = query
        .get("next")
        .or_else(|| query.get("rd"))
        .unwrap_or_default();
    let needs_second_factor = query.get("second_factor").is_some();
    let notice = if needs_second_factor {
        Some(
            "The app you opened needs a sign-in with a second step or a passkey. \
             Sign in with one (turn two-step sign-in on from your account page first).",
        )
    } else if query.get("signed_out").is_some() {
        Some("You have signed out.")
    } else if query.get("reset").is_some() {
        Some("Your password has been changed and every session ended. Sign in with the new one.")
    } else if query.get("expired").is_some() {
        Some("Your session has ended. Please sign in again.")
    } else {
        None
    };
    view! {
        <GoOnWhenSignedIn next=next.clone() needs_second_factor/>
        <section class="card narrow" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in"</h1>
            {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
            <LoginForm next=next.clone() returned_error=query_error()/>
            <crate::pages::passkeys::PasskeyButton action="sign-in" label="Sign in with a passkey" next=next.clone()/>
            <crate::pages::providers::ProviderButtons next=next.clone()/>
            <p><a href=email_code_link(&next)>"Email me a code instead"</a></p>
            <p><a href="/forgot-password">"Forgot your password?"</a></p>
            <p>"New here? " <a href="/signup">"Create an account"</a></p>
        </section>
    }
}

fn email_code_link(next: &str) -> String {
    let page = crate::pages::email_code::EMAIL_CODE_PAGE;
    if next.is_empty() {
        page.to_owned()
    } else {
        format!("{page}?next={}", crate::forms::encode_query_value(next))
    }
}

/// A visitor already signed in who was sent here by an app behind the forward-auth gate
/// (its access cookie had expired: rendering this page renewed it) goes straight back,
/// unless the app asked for a stronger sign-in than the one held.
#[component]
fn GoOnWhenSignedIn(next: String, needs_second_factor: bool) -> impl IntoView {
    let session = crate::session::use_session();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    let signed_in = matches!(session.viewer.await, Ok(Some(_)));
                    // Only to an app's URL: a path here is this site's own sign-in form,
                    // shown as it always was.
                    #[cfg(feature = "ssr")]
                    if signed_in
                        && !needs_second_factor
                        && let Some(app) = crate::ssr::return_hosts().allowed_url(next.trim())
                    {
                        leptos_axum::redirect(app);
                    }
                    #[cfg(not(feature = "ssr"))]
                    let _ = (signed_in, next, needs_second_factor);
                })
            }}
        </Suspense>
    }
}

/// Signs in without leaving the page when it fails; on success the browser goes on to
/// `next` (or the dashboard). Without JavaScript it is a plain form post.
#[island]
fn LoginForm(next: String, returned_error: Option<String>) -> impl IntoView {
    // On success the server function's redirect (to `next`, checked on the server) moves
    // the browser on.
    let login = ServerAction::<Login>::new();
    let errors = FormErrors::new(login.value(), returned_error);
    view! {
        {errors.alert(true)}
        <ActionForm action=login>
            <input type="hidden" name="next" value=next/>
            <Field name="username" label="Username" autocomplete="username webauthn" required=true/>
            <Field name="password" label="Password" kind="password" autocomplete="current-password"
                required=true/>
            <button type="submit">"Sign in"</button>
        </ActionForm>
    }
}

/// `/logout?rd=…`: where an app behind the forward-auth gate links its "sign out". A
/// button, not the visit itself, signs out: a link on any page must not be able to end
/// someone's session. Signed out, it links back to `rd` if that is an app's URL.
#[component]
pub fn SignOutPage() -> impl IntoView {
    let query = use_query_map().read_untracked();
    let rd = query.get("rd").unwrap_or_default();
    let session = crate::session::use_session();
    view! {
        <section class="card narrow" aria-labelledby="logout-title">
            <h1 id="logout-title">"Sign out"</h1>
            <Suspense fallback=|| ()>
                {move || {
                    let rd = rd.clone();
                    #[cfg(feature = "ssr")]
                    let back = crate::ssr::return_hosts()
                        .allowed_url(rd.trim())
                        .map(str::to_owned);
                    #[cfg(not(feature = "ssr"))]
                    let back: Option<String> = None;
                    Suspend::new(async move {
                        match session.viewer.await {
                            Ok(Some(viewer)) => view! {
                                <p>"You are signed in as " <strong>{viewer.user.username}</strong>
                                    ". Signing out ends this session in every app behind Gatehouse."</p>
                                <ActionForm action=session.logout attr:data-sign-out="">
                                    <input type="hidden" name="rd" value=rd/>
                                    <button type="submit">"Sign out"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <p role="status">"You are signed out."</p>
                                {back.map(|back| view! {
                                    <p><a href=back rel="external">"Back to the app"</a></p>
                                })}
                                <p><a href="/login">"Sign in"</a></p>
                            }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    view! {
        <section class="card narrow" aria-labelledby="signup-title">
            <h1 id="signup-title">"Create an account"</h1>
            <SignupForm returned_error=query_error()/>
            <PasskeySignup/>
            <crate::pages::providers::ProviderButtons next=String::new()/>
            <p>"Already have an account? " <a href="/login">"Sign in"</a></p>
        </section>
    }
}

/// "Create an account with a passkey": the username and address typed above, no
/// password. The ceremony runs in `/passkeys.js`, so it shows only where the browser has
/// passkeys (and JavaScript).
#[component]
fn PasskeySignup() -> impl IntoView {
    view! {
        <div class="passkey-only" data-passkey-box="" data-next="/account">
            <p class="divider">"or"</p>
            <p class="hint-text">"Uses the username (and email) above, and no password: your device's screen lock signs you in."</p>
            <button type="button" class="secondary" data-passkey-action="sign-up">
                "Create an account with a passkey"
            </button>
            <p class="form-error" role="alert" data-passkey-message="" hidden=true></p>
        </div>
    }
}

/// Field errors show beside their fields; on success the browser goes to the dashboard.
#[island]
fn SignupForm(returned_error: Option<String>) -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    let errors = FormErrors::new(signup.value(), returned_error);
    view! {
        {errors.clone().alert(false)}
        <ActionForm action=signup>
            <Field name="username" label="Username" autocomplete="username" required=true
                error=errors.field("username")/>
            <p class="hint">"3 to 64 letters, digits, '.', '_' or '-'."</p>
            <Field name="password" label="Password" kind="password" autocomplete="new-password"
                required=true error=errors.field("password")/>
            <p class="hint">"At least 8 characters. A few unrelated words make a good one."</p>
            <Field name="email" label="Email (optional)" kind="email" autocomplete="email"
                error=errors.field("email")/>
            <button type="submit">"Create account"</button>
        </ActionForm>
    }
}
