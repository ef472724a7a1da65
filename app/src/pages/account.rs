//! The account page: the email address (set, change, verify) and the password.

use leptos::prelude::*;

use leptos_router::hooks::use_query_map;

use crate::{
    error::AppError,
    forms::{Field, FormErrors, QueryError, query_error},
    model::{SignInWaysView, UserView, Viewer, WayView},
};

#[cfg(feature = "ssr")]
use crate::ssr::{backend, presented, request};

/// Sets or changes the password (an account without one sends `current_password`
/// empty). The forms are plain: the answer comes back to `/account` in its URL, a refused
/// field by its name (never what was typed).
#[server(endpoint = "password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let request = request()?;
    let first_password = current_password.is_empty();
    let outcome = backend()?
        .change_password(
            &request,
            presented(&request).access.as_deref(),
            current_password,
            new_password,
        )
        .await;
    match &outcome {
        Ok(()) if first_password => leptos_axum::redirect("/account?password=set"),
        Ok(()) => leptos_axum::redirect("/account?password=changed"),
        Err(error) => {
            let back = match error.field.as_deref() {
                Some(field @ ("current_password" | "new_password")) => {
                    format!("/account?field={field}")
                }
                _ => "/account".to_owned(),
            };
            crate::ssr::redirect_form_error(&request, &back, error);
        }
    }
    crate::ssr::answer(outcome)
}

/// Needs the current password (its field is `password`: the password form on the same
/// page has `current_password`, and ids must be unique); a new address is unverified
/// until its link is used.
#[server(endpoint = "email")]
pub async fn change_email(password: String, email: String) -> Result<(), AppError> {
    let request = request()?;
    let outcome = backend()?
        .change_email(
            &request,
            presented(&request).access.as_deref(),
            password,
            email,
        )
        .await;
    if outcome.is_ok() {
        leptos_axum::redirect("/account?email=changed");
        return Ok(());
    }
    email_form_error(&request, outcome.map(|_| ()))
}

/// "Confirm it is you": with the password, the steps that add a way in (a passkey, an
/// authenticator app) work for the re-authentication window; the browser goes back to
/// the page it came from.
#[server(endpoint = "account/reauthenticate")]
pub async fn reauthenticate(current_password: String) -> Result<(), AppError> {
    let request = request()?;
    crate::ssr::back_to_form_marked(
        backend()?
            .reauthenticate(
                &request,
                presented(&request).access.as_deref(),
                current_password,
            )
            .await,
        CONFIRM_MARK,
    )
}

/// On the way back from a failed "Confirm it is you": the prompt stays.
const CONFIRM_MARK: &str = "confirm=1";

#[server(endpoint = "account/sign-in-locked")]
pub async fn own_sign_in_locked() -> Result<bool, AppError> {
    let request = request()?;
    crate::ssr::answer(
        backend()?
            .own_sign_in_locked(presented(&request).access.as_deref())
            .await,
    )
}

#[server(endpoint = "account/ways")]
pub async fn own_sign_in_ways() -> Result<SignInWaysView, AppError> {
    let request = request()?;
    crate::ssr::answer(
        backend()?
            .sign_in_ways(presented(&request).access.as_deref())
            .await,
    )
}

/// A plain form of ticked boxes: a way left unticked sends nothing, and is turned off.
/// The current password is `confirm_password` here: the password form on the same page
/// has `current_password`, and ids must be unique.
#[server(endpoint = "account/ways/set")]
pub async fn set_sign_in_ways(
    password: Option<String>,
    passkey: Option<String>,
    email_code: Option<String>,
    confirm_password: String,
) -> Result<(), AppError> {
    let request = request()?;
    let wanted = crate::model::WaysWanted {
        password: password.is_some(),
        passkey: passkey.is_some(),
        email_code: email_code.is_some(),
    };
    let outcome = backend()?
        .set_sign_in_ways(
            &request,
            presented(&request).access.as_deref(),
            wanted,
            confirm_password,
        )
        .await
        .map(|_| ());
    if outcome.is_ok() {
        leptos_axum::redirect("/account?ways=saved#ways-title");
        return Ok(());
    }
    if let Err(error) = &outcome {
        crate::ssr::redirect_form_error(&request, &section_way_back("ways", error), error);
    }
    crate::ssr::answer(outcome)
}

#[server(endpoint = "verification")]
pub async fn send_verification() -> Result<(), AppError> {
    let request = request()?;
    let outcome = backend()?
        .request_verification(&request, presented(&request).access.as_deref())
        .await;
    if outcome.is_ok() {
        leptos_axum::redirect("/account?verification=sent");
        return Ok(());
    }
    email_form_error(&request, outcome.map(|_| ()))
}

/// The email forms' errors come back marked as theirs, so the password form below does
/// not show them too.
#[cfg(feature = "ssr")]
fn email_form_error(
    request: &http::request::Parts,
    outcome: Result<(), AppError>,
) -> Result<(), AppError> {
    if let Err(error) = &outcome {
        crate::ssr::redirect_form_error(request, &section_way_back("email", error), error);
    }
    crate::ssr::answer(outcome)
}

/// Where a refused plain form of a section of this page goes back to: the section, and
/// the refused field by its name when the page can say what that field needs (a name,
/// never what was typed). The core calls the password it checks `current_password`,
/// whatever the form calls its box.
#[cfg(feature = "ssr")]
pub(crate) fn section_way_back(section: &str, error: &AppError) -> String {
    match error.field.as_deref() {
        Some(field @ ("current_password" | "email" | "link_password" | "unlink_password")) => {
            format!("/account?section={section}&field={field}")
        }
        _ => format!("/account?section={section}"),
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|viewer: Viewer| view! { <Account viewer/> }/> }
}

#[component]
fn Account(viewer: Viewer) -> impl IntoView {
    let ways = Resource::new(|| (), |_| own_sign_in_ways());
    let user = viewer.user.clone();
    view! {
        <section class="card narrow" aria-labelledby="account-title">
            <h1 id="account-title">"Your account"</h1>
            <p>"Signed in as " <strong>{viewer.user.username.clone()}</strong> "."</p>
            <SignInLockNotice/>
            <Suspense fallback=|| ()>
                {move || {
                    let user = user.clone();
                    Suspend::new(async move {
                        // On a failure the page offers what every account had before
                        // passwordless ones: the forms that ask for the password, and
                        // no choice of ways.
                        let ways = ways.await.ok();
                        let has_password = ways.is_none_or(|ways| ways.password.ready);
                        view! {
                            <EmailSection user has_password/>
                            <TwoStepSection/>
                            <AppsSection/>
                            <h2>"Passkeys"</h2>
                            <p>"Sign in with your device's screen lock instead of a password. "
                                <a href="/account/passkeys">"Manage your passkeys"</a></p>
                            <crate::pages::providers::LinkedAccountsSection
                                section_error=section_refused_as_a_whole("providers")/>
                            {ways.map(|ways| view! { <WaysSection ways/> })}
                            <PasswordSection has_password/>
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

/// "Change your password", or for an account made with a passkey, "Set a password".
#[component]
fn PasswordSection(has_password: bool) -> impl IntoView {
    let (title, hint) = if has_password {
        (
            "Change your password",
            "Changing it signs you out on every other device.",
        )
    } else {
        (
            "Set a password",
            "Your account has no password: you sign in with a passkey or a code by email. \
             A password is another way in. Setting one needs a sign-in within the last few \
             minutes (otherwise sign out and in again), and signs you out on every other device.",
        )
    };
    let notice = match use_query_map().read_untracked().get("password").as_deref() {
        Some("changed") => Some("Your password has been changed."),
        Some("set") => Some("Your password has been set."),
        _ => None,
    };
    view! {
        <h2 id="password-title">{title}</h2>
        {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
        <p class="hint">{hint}</p>
        {if has_password {
            view! { <ChangePasswordForm/> }.into_any()
        } else {
            view! { <SetPasswordForm/> }.into_any()
        }}
    }
}

/// Which ways in the account allows: a plain form (no WASM for a form that reloads the
/// page anyway). A way the account cannot use yet says what it needs.
#[component]
fn WaysSection(ways: SignInWaysView) -> impl IntoView {
    let saved = use_query_map().read_untracked().get("ways").as_deref() == Some("saved");
    let set = ServerAction::<SetSignInWays>::new();
    let label = |way: WayView, name: &'static str, missing: &'static str| {
        if way.ready { name } else { missing }
    };
    view! {
        <h2 id="ways-title">"Ways to sign in"</h2>
        {saved.then(|| view! {
            <p class="notice" role="status">"Saved. A way you turned off no longer signs in, and your other devices were signed out."</p>
        })}
        {section_alert("ways")}
        <p class="hint">"Untick a way to refuse it even with the right password, passkey or code. One way you can use stays on."</p>
        <ActionForm action=set attr:id="ways-form">
            <crate::forms::Checkbox id="way-password" name="password" checked=ways.password.on
                label=label(ways.password, "Password", "Password (none set yet)")/>
            <crate::forms::Checkbox id="way-passkey" name="passkey" checked=ways.passkey.on
                label=label(ways.passkey, "Passkey", "Passkey (none added yet)")/>
            <crate::forms::Checkbox id="way-email-code" name="email_code" checked=ways.email_code.on
                label=label(ways.email_code, "Code by email", "Code by email (needs a verified address)")/>
            <PasswordToConfirm name="confirm_password" label="Your password, to save"
                has_password=ways.password.ready
                error=refused_section_field("ways", "current_password")/>
            <button type="submit">"Save ways to sign in"</button>
        </ActionForm>
    }
}

/// The apps (OpenID Connect clients) this user allowed, each with a way to take it
/// back; nothing at all until there is one.
#[component]
fn AppsSection() -> impl IntoView {
    let apps = Resource::new(|| (), |_| own_apps());
    let forget = ServerAction::<ForgetApp>::new();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let apps = apps.await.unwrap_or_default();
                (!apps.is_empty()).then(|| view! {
                    <h2>"Apps you signed in to"</h2>
                    <p class="hint">"Removing one signs it out and asks again next time."</p>
                    <ul class="passkey-list" id="account-apps">
                        {apps.into_iter().map(|app| view! {
                            <li>
                                <strong>{app.name.clone()}</strong>
                                " — " {app.allowed.join("; ")}
                                <ActionForm action=forget attr:class="inline-form">
                                    <input type="hidden" name="client_id" value=app.client_id.clone()/>
                                    <button type="submit" class="secondary small">
                                        "Remove" <span class="visually-hidden">{format!(" {}", app.name)}</span>
                                    </button>
                                </ActionForm>
                            </li>
                        }).collect_view()}
                    </ul>
                })
            })}
        </Transition>
    }
}

#[server(endpoint = "account/apps")]
pub async fn own_apps() -> Result<Vec<crate::model::AppView>, AppError> {
    let request = crate::ssr::request()?;
    crate::ssr::answer(
        crate::ssr::backend()?
            .apps(crate::ssr::presented(&request).access.as_deref())
            .await,
    )
}

#[server(endpoint = "account/apps/forget")]
pub async fn forget_app(client_id: String) -> Result<(), AppError> {
    let request = crate::ssr::request()?;
    crate::ssr::back_to_form(
        crate::ssr::backend()?
            .forget_app(
                &request,
                crate::ssr::presented(&request).access.as_deref(),
                &client_id,
            )
            .await,
    )
}

/// Said only when someone's failed guesses reached the cap: why other browsers cannot
/// sign in, and how to lift it.
#[component]
fn SignInLockNotice() -> impl IntoView {
    let locked = Resource::new(|| (), |_| own_sign_in_locked());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(locked.await, Ok(true)).then(|| view! {
                    <p class="notice" role="status" id="sign-in-locked">
                        "Someone failed to sign in to this account too many times. Until you reset your password by email (or an admin unlocks it), only browsers that signed in to it before — like this one — can sign in."
                    </p>
                })
            })}
        </Suspense>
    }
}

/// Whether two-step sign-in is on, and the way to the page that changes it.
#[component]
fn TwoStepSection() -> impl IntoView {
    let notice = match use_query_map().read_untracked().get("two_step").as_deref() {
        Some("on") => Some("Two-step sign-in is on. Keep your recovery codes somewhere safe."),
        Some("off") => Some("Two-step sign-in is off, and your other devices are signed out."),
        _ => None,
    };
    let status = Resource::new(|| (), |_| crate::pages::two_step::two_step_state());
    view! {
        <h2>"Two-step sign-in"</h2>
        {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let on = matches!(status.await, Ok(status) if status.totp == crate::model::TotpState::On);
                let (text, link) = if on {
                    ("On: signing in also asks for a code from your app.", "Manage two-step sign-in")
                } else {
                    ("Off: signing in asks for no code from an app.", "Set up two-step sign-in")
                };
                view! { <p id="account-two-step">{text} " " <a href="/account/two-step">{link}</a></p> }
            })}
        </Transition>
    }
}

/// Which of the page's plain forms a returned error belongs to (none: the password form).
fn section_error() -> Option<String> {
    use_query_map().read_untracked().get("section")
}

fn password_form_error() -> Option<String> {
    if section_error().is_some() {
        None
    } else {
        query_error()
    }
}

/// What a refused field of this page needs, shown beside it: the URL names the field,
/// and the rule is the same for every refusal of it.
fn field_explanation(name: &str) -> &'static str {
    match name {
        "new_password" => "At least 8 characters, and not one of the most common passwords.",
        "email" => "Enter an email address like name@example.com.",
        // Every other field a way back names is a password asked to confirm a change.
        _ => "This is not your current password.",
    }
}

fn refused_field_named(name: &str) -> bool {
    use_query_map().read_untracked().get("field").as_deref() == Some(name)
}

fn field_marked() -> bool {
    use_query_map().read_untracked().get("field").is_some()
}

fn refused_password_field(name: &'static str) -> Signal<Option<String>> {
    let refused = password_form_error().is_some() && refused_field_named(name);
    Signal::stored(refused.then(|| field_explanation(name).to_owned()))
}

/// A refused field of the email or ways section (`section=` in the URL): `field` is the
/// name the way back gave it, which for the password is the core's, not the box's.
pub(crate) fn refused_section_field(section: &str, field: &'static str) -> Signal<Option<String>> {
    let refused = section_error().as_deref() == Some(section)
        && use_query_map().read_untracked().get("error").is_some()
        && refused_field_named(field);
    Signal::stored(refused.then(|| field_explanation(field).to_owned()))
}

/// A section's form-wide message, unless a field of it says what was wrong.
fn section_alert(section: &str) -> Option<impl IntoView + use<>> {
    section_refused_as_a_whole(section).then(|| view! { <QueryError/> })
}

fn section_refused_as_a_whole(section: &str) -> bool {
    section_error().as_deref() == Some(section) && !field_marked()
}

/// The form-wide message of a refused password form, unless a field says it.
fn password_alert() -> Option<impl IntoView> {
    password_form_error()
        .filter(|_| !field_marked())
        .map(|text| view! { <p class="form-error" role="alert">{text}</p> })
}

/// A plain form like the page's others: an island here cost the WASM bundle about 6 kB
/// (brotli) for one form.
#[component]
fn ChangePasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    view! {
        {password_alert()}
        <ActionForm action=change>
            <Field name="current_password" label="Current password" kind="password"
                autocomplete="current-password" required=true
                error=refused_password_field("current_password")/>
            <Field name="new_password" label="New password" kind="password"
                autocomplete="new-password" required=true
                error=refused_password_field("new_password")/>
            <button type="submit">"Change password"</button>
        </ActionForm>
    }
}

/// The first password of an account made with a passkey (then the page shows the form
/// above).
#[component]
fn SetPasswordForm() -> impl IntoView {
    let set = ServerAction::<ChangePassword>::new();
    view! {
        {password_alert()}
        <ActionForm action=set>
            // The server function takes the field; an account without a password sends
            // it empty.
            <input type="hidden" name="current_password" value=""/>
            <Field name="new_password" label="New password" kind="password"
                autocomplete="new-password" required=true
                error=refused_password_field("new_password")/>
            <button type="submit">"Set password"</button>
        </ActionForm>
    }
}

/// The address, whether it is verified, and plain forms to change it or have the link
/// sent again (server-rendered: no WASM for forms that reload the page anyway).
#[component]
fn EmailSection(user: UserView, has_password: bool) -> impl IntoView {
    let query = use_query_map().read_untracked();
    let notice = if query.get("verification").is_some() {
        Some("A new verification link is on its way.")
    } else if query.get("email").is_some() {
        Some("Your email address has been saved.")
    } else {
        None
    };
    let change = ServerAction::<ChangeEmail>::new();
    let resend = ServerAction::<SendVerification>::new();
    let unverified = user.email.is_some() && !user.email_verified;
    let status = match (&user.email, user.email_verified) {
        (None, _) => view! { <p id="email-status">"No email address yet. Add one to sign in with a code by email and to get back into your account."</p> }.into_any(),
        (Some(address), true) => view! { <p id="email-status"><strong>{address.clone()}</strong> " — verified"</p> }.into_any(),
        (Some(address), false) => view! { <p id="email-status"><strong>{address.clone()}</strong> " — not verified yet: use the link we mailed you"</p> }.into_any(),
    };
    view! {
        <h2>"Email address"</h2>
        {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
        {section_alert("email")}
        {status}
        {unverified.then(|| view! {
            <ActionForm action=resend attr:class="inline-form">
                <button type="submit" class="link-button">"Send the verification link again"</button>
            </ActionForm>
        })}
        <ActionForm action=change>
            <Field name="email" label="New email address (empty removes it)" kind="email" autocomplete="email"
                error=refused_section_field("email", "email")/>
            <PasswordToConfirm name="password" label="Your password" has_password
                error=refused_section_field("email", "current_password")/>
            <button type="submit">"Save the address"</button>
        </ActionForm>
    }
}

/// The current password a plain form on this page needs; an account without one sends
/// the field empty (its recent sign-in is the proof, checked on the server).
#[component]
pub fn PasswordToConfirm(
    name: &'static str,
    label: &'static str,
    has_password: bool,
    /// Shown beside the box: the password was refused.
    #[prop(optional, into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    if has_password {
        view! {
            <Field name=name label=label kind="password" autocomplete="current-password"
                required=true error=error/>
        }
        .into_any()
    } else {
        view! { <input type="hidden" name=name value=""/> }.into_any()
    }
}

/// Asked in place when a step that adds a way in came back with
/// `reauthentication_required`: the password, then the same page again.
#[component]
pub fn ConfirmItIsYou() -> impl IntoView {
    let confirm = ServerAction::<Reauthenticate>::new();
    let ways = Resource::new(|| (), |_| own_sign_in_ways());
    let wrong_password = query_code() == Some(crate::model::ErrorCode::InvalidInput);
    let errors = FormErrors::new(confirm.value(), None);
    let field_error = errors.field("current_password");
    let error = Signal::derive(move || {
        field_error
            .get()
            .or_else(|| wrong_password.then(|| "The password is not correct.".to_owned()))
    });
    view! {
        <div class="reauthenticate" id="reauthenticate">
            <h2>"Confirm it is you"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    // Not known (the store did not answer): the password, as always.
                    let (password, passkey) = ways
                        .await
                        .map_or((true, false), |ways| (ways.password.ready, ways.passkey.ready));
                    view! {
                        <p class="hint">{confirmation_hint(password, passkey)}</p>
                        {password.then(|| view! {
                            <ActionForm action=confirm>
                                <Field name="current_password" label="Your password" kind="password"
                                    autocomplete="current-password" required=true error=error/>
                                <button type="submit">"Confirm"</button>
                            </ActionForm>
                        })}
                        // The ceremony runs in /passkeys.js; the box shows where it can.
                        {passkey.then(|| view! {
                            <div class="passkey-only" data-passkey-box="">
                                <button type="button" class="secondary" data-passkey-action="confirm">
                                    "Confirm with a passkey"
                                </button>
                                <p class="form-error" role="alert" data-passkey-message="" hidden=true></p>
                            </div>
                        })}
                    }
                })}
            </Suspense>
        </div>
    }
}

fn confirmation_hint(password: bool, passkey: bool) -> &'static str {
    match (password, passkey) {
        (true, true) => {
            "Adding a way to sign in needs your password or one of your passkeys when your last sign-in was a while ago."
        }
        (true, false) => {
            "Adding a way to sign in needs your password when your last sign-in was a while ago."
        }
        (false, true) => {
            "Adding a way to sign in needs one of your passkeys when your last sign-in was a while ago."
        }
        (false, false) => {
            "Adding a way to sign in needs a recent sign-in: sign out, sign in again (a code by email does it), and come back."
        }
    }
}

/// Whether a plain form post came back because the step needs the password again, or
/// from a "Confirm it is you" that failed.
pub fn reauthentication_asked() -> bool {
    let query = use_query_map().read_untracked();
    let came_back_from_confirming = query
        .get("confirm")
        .is_some_and(|mark| format!("confirm={mark}") == CONFIRM_MARK);
    query_code() == Some(crate::model::ErrorCode::ReauthenticationRequired)
        || (came_back_from_confirming && query_code().is_some())
}

fn query_code() -> Option<crate::model::ErrorCode> {
    use_query_map()
        .read_untracked()
        .get("error")
        .and_then(|code| crate::model::ErrorCode::parse(&code))
}
