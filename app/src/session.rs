//! The browser session: sign-up, login, logout, refresh and "who am I" as server
//! functions, the session cookies they set, and the login and sign-up pages.
//! Every rule behind them lives in the auth core, reached through `AuthBackend`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{error::AppError, model::Viewer};

/// Where to go after login: only a path on this site, never another origin.
pub fn safe_next_path(next: Option<&str>) -> String {
    const DEFAULT: &str = "/dashboard";
    let Some(next) = next.map(str::trim).filter(|next| !next.is_empty()) else {
        return DEFAULT.to_owned();
    };
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if same_site && !next.starts_with("/login") && !next.starts_with("/signup") {
        next.to_owned()
    } else {
        DEFAULT.to_owned()
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
    use http::{HeaderValue, header::SET_COOKIE, request::Parts};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    use crate::{
        backend::{CookiePolicy, IssuedSession, PresentedTokens, SharedBackend},
        error::AppError,
    };

    pub const ACCESS_COOKIE: &str = "gatehouse_access";
    pub const REFRESH_COOKIE: &str = "gatehouse_refresh";

    pub fn backend() -> Result<SharedBackend, AppError> {
        use_context::<SharedBackend>()
            .ok_or_else(|| AppError::new("internal", "the auth backend is not available"))
    }

    pub fn request() -> Result<Parts, AppError> {
        use_context::<Parts>().ok_or_else(|| AppError::new("internal", "no request in context"))
    }

    pub fn presented(request: &Parts) -> PresentedTokens {
        let jar = CookieJar::from_headers(&request.headers);
        let value = |name: &str| {
            jar.get(name)
                .map(|cookie| cookie.value().to_owned())
                .filter(|value| !value.is_empty())
        };
        PresentedTokens {
            access: value(ACCESS_COOKIE),
            refresh: value(REFRESH_COOKIE),
        }
    }

    /// The access cookie is `SameSite=Lax` so that following a link to Gatehouse from
    /// elsewhere shows you signed in; the refresh cookie is `Strict`. Both are HttpOnly:
    /// no script ever reads a token.
    pub fn set_session_cookies(issued: &IssuedSession, policy: CookiePolicy) {
        append(cookie(
            ACCESS_COOKIE,
            issued.access_token.clone(),
            issued.access_max_age_secs,
            SameSite::Lax,
            policy,
        ));
        append(cookie(
            REFRESH_COOKIE,
            issued.refresh_token.clone(),
            issued.refresh_max_age_secs,
            SameSite::Strict,
            policy,
        ));
    }

    pub fn clear_session_cookies(policy: CookiePolicy) {
        append(cookie(
            ACCESS_COOKIE,
            String::new(),
            0,
            SameSite::Lax,
            policy,
        ));
        append(cookie(
            REFRESH_COOKIE,
            String::new(),
            0,
            SameSite::Strict,
            policy,
        ));
    }

    fn cookie(
        name: &'static str,
        value: String,
        max_age_secs: i64,
        same_site: SameSite,
        policy: CookiePolicy,
    ) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(policy.secure)
            .same_site(same_site)
            .max_age(time::Duration::seconds(max_age_secs.max(0)))
            .build()
    }

    fn append(cookie: Cookie<'static>) {
        if let (Some(response), Ok(value)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(&cookie.to_string()),
        ) {
            response.append_header(SET_COOKIE, value);
        }
    }

    /// A server function's outcome, with the error's HTTP status on the response (a
    /// refused login is a 401, not a 500).
    /// A plain form post (without JavaScript) is answered with a redirect instead.
    pub fn answer<T>(outcome: Result<T, AppError>) -> Result<T, AppError> {
        let from_plain_form = use_context::<Parts>().is_some_and(|request| is_plain_form(&request));
        if let Err(error) = &outcome
            && !from_plain_form
            && let (Some(response), Ok(status)) = (
                use_context::<ResponseOptions>(),
                http::StatusCode::from_u16(error.status),
            )
        {
            response.set_status(status);
        }
        outcome
    }

    /// A plain HTML form post (no JavaScript) that failed goes back to `path`, where the
    /// page reads the error from the query; with JavaScript the error is returned.
    pub fn redirect_form_error(request: &Parts, path: &str, error: &AppError) {
        if is_plain_form(request) {
            let separator = if path.contains('?') { '&' } else { '?' };
            leptos_axum::redirect(&format!(
                "{path}{separator}error={}",
                urlencoding_lite(&error.code)
            ));
        }
    }

    /// A plain form post goes back to the page it came from (its `Referer`, a path on
    /// this site), carrying the error code if it failed; with JavaScript the outcome is
    /// returned as it is.
    pub fn back_to_form<T>(outcome: Result<T, AppError>) -> Result<T, AppError> {
        if let Some(request) = use_context::<Parts>()
            && is_plain_form(&request)
        {
            let back = referring_page(&request);
            match &outcome {
                Ok(_) => leptos_axum::redirect(&back),
                Err(error) => redirect_form_error(&request, &back, error),
            }
        }
        answer(outcome)
    }

    /// The referring page's path and query, without an earlier `error`; `/` when the
    /// header is missing or names another site (the CSRF guard refuses those anyway).
    fn referring_page(request: &Parts) -> String {
        let referer = request
            .headers
            .get(http::header::REFERER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<http::Uri>().ok());
        let host = request
            .headers
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok());
        let Some(referer) = referer.filter(|uri| {
            uri.authority().map(|authority| authority.as_str()) == host && host.is_some()
        }) else {
            return "/".to_owned();
        };
        let kept: Vec<&str> = referer
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("error="))
            .collect();
        let path = referer.path();
        if kept.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", kept.join("&"))
        }
    }

    /// Browsers ask for HTML when they post a form themselves; the WASM client does not.
    fn is_plain_form(request: &Parts) -> bool {
        request
            .headers
            .get(http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    }

    /// Error codes are ASCII identifiers; anything else is dropped rather than encoded.
    fn urlencoding_lite(code: &str) -> String {
        code.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::referring_page;

        fn request(referer: Option<&str>) -> http::request::Parts {
            let mut builder = http::Request::builder().header(http::header::HOST, "auth.example");
            if let Some(referer) = referer {
                builder = builder.header(http::header::REFERER, referer);
            }
            builder.body(()).unwrap().into_parts().0
        }

        #[test]
        fn a_plain_form_goes_back_only_to_a_page_of_this_site() {
            let back = |referer| referring_page(&request(referer));
            assert_eq!(back(Some("http://auth.example/sessions")), "/sessions");
            assert_eq!(
                back(Some(
                    "http://auth.example/admin?search=ada&error=last_admin&page=2"
                )),
                "/admin?search=ada&page=2"
            );
            assert_eq!(back(Some("http://auth.example/admin?error=x")), "/admin");
            assert_eq!(back(Some("https://evil.example/admin")), "/");
            assert_eq!(back(Some("/relative")), "/");
            assert_eq!(back(None), "/");
        }
    }
}

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
        .ok_or_else(|| AppError::new("invalid_refresh_token", "You are not signed in."))?;
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

#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<Viewer, AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    match backend.login(&request, username, password).await {
        Ok(issued) => {
            ssr::set_session_cookies(&issued, backend.cookie_policy());
            leptos_axum::redirect(&safe_next_path(next.as_deref()));
            Ok(issued.viewer)
        }
        Err(error) => {
            let back = match next.as_deref() {
                Some(next) => format!("/login?next={}", next_param(next)),
                None => "/login".to_owned(),
            };
            ssr::redirect_form_error(&request, &back, &error);
            ssr::answer(Err(error))
        }
    }
}

#[server(endpoint = "signup")]
pub async fn signup(
    username: String,
    password: String,
    email: Option<String>,
) -> Result<Viewer, AppError> {
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
        Ok(issued) => {
            ssr::set_session_cookies(&issued, backend.cookie_policy());
            leptos_axum::redirect("/dashboard");
            Ok(issued.viewer)
        }
        Err(error) => {
            ssr::redirect_form_error(&request, "/signup", &error);
            ssr::answer(Err(error))
        }
    }
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let backend = ssr::backend()?;
    let request = ssr::request()?;
    let tokens = ssr::presented(&request);
    let outcome = backend.logout(&request, &tokens).await;
    ssr::clear_session_cookies(backend.cookie_policy());
    leptos_axum::redirect("/login?signed_out=1");
    ssr::answer(outcome)
}

/// Keeps the `next` parameter a plain path (the login page re-validates it anyway).
#[cfg(feature = "ssr")]
fn next_param(next: &str) -> String {
    safe_next_path(Some(next))
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "/-_.".contains(*c))
        .collect()
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

/// A message for an error code carried in the `error` query parameter (forms that were
/// posted without JavaScript come back with one).
pub fn message_for_code(code: &str) -> &'static str {
    match code {
        "invalid_credentials" => "Wrong username or password.",
        "throttled" => "Too many attempts. Wait a little and try again.",
        "account_disabled" => "This account is disabled.",
        "username_taken" => "This username is taken.",
        "invalid_input" => "Some fields are not valid. Check them and try again.",
        "forbidden" => "That is not allowed.",
        "last_admin" => "At least one active admin must remain.",
        "not_found" => "That no longer exists.",
        "invalid_token" | "missing_token" => "You are not signed in any more.",
        "csrf" => "The request did not come from this site.",
        _ => "Something went wrong. Please try again.",
    }
}

/// A labelled input whose error, if any, is tied to it for assistive technology.
#[component]
pub fn Field(
    #[prop(into)] name: String,
    #[prop(into)] label: String,
    #[prop(into, default = "text".to_owned())] kind: String,
    #[prop(into, default = String::new())] autocomplete: String,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let described_by = error_id.clone();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=move || error.get().map(|_| described_by.clone())
            />
            <Show when=move || error.get().is_some()>
                <p class="field-error" id=error_id.clone()>{move || error.get()}</p>
            </Show>
        </div>
    }
}

/// The message for the `error` query parameter a plain form post came back with.
pub fn query_error() -> Option<String> {
    use_query_map()
        .read_untracked()
        .get("error")
        .map(|code| message_for_code(&code).to_owned())
}

/// What a form's server action answered, as messages: each field's own, and the one for
/// the form as a whole. Before any answer, the form-wide message is the error a plain
/// (JavaScript-less) post came back with.
#[derive(Clone)]
pub struct FormErrors<T: Send + Sync + 'static> {
    returned: Signal<Option<Result<T, AppError>>>,
    returned_error: Option<String>,
}

impl<T: Clone + Send + Sync + 'static> FormErrors<T> {
    /// `returned`: the action's `value()`.
    pub fn new(
        returned: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
        returned_error: Option<String>,
    ) -> Self {
        FormErrors {
            returned: Signal::derive(move || returned.get()),
            returned_error,
        }
    }

    pub fn field(&self, name: &'static str) -> Signal<Option<String>> {
        let returned = self.returned;
        Signal::derive(move || {
            returned
                .get()
                .and_then(Result::err)
                .and_then(|error| error.for_field(name))
        })
    }

    /// The form-wide message; `with_field_messages` also shows here what a field claims
    /// (for forms that show no message beside their fields).
    pub fn general(&self, with_field_messages: bool) -> Option<String> {
        match self.returned.get() {
            Some(Err(error)) if with_field_messages => {
                Some(error.general().unwrap_or_else(|| error.message.clone()))
            }
            Some(Err(error)) => error.general(),
            Some(Ok(_)) => None,
            None => self.returned_error.clone(),
        }
    }

    /// The form-wide message, if any, as an alert.
    pub fn alert(self, with_field_messages: bool) -> impl IntoView {
        move || {
            self.general(with_field_messages)
                .map(|text| view! { <p class="form-error" role="alert">{text}</p> })
        }
    }
}

/// Shows the error a plain (JavaScript-less) form post came back with, if any.
#[component]
pub fn QueryError() -> impl IntoView {
    query_error().map(|text| view! { <p class="form-error" role="alert">{text}</p> })
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map().read_untracked();
    let next = query.get("next").unwrap_or_default();
    let notice = if query.get("signed_out").is_some() {
        Some("You have signed out.")
    } else if query.get("expired").is_some() {
        Some("Your session has ended. Please sign in again.")
    } else {
        None
    };
    view! {
        <section class="card narrow" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in"</h1>
            {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
            <LoginForm next returned_error=query_error()/>
            <p>"New here? " <a href="/signup">"Create an account"</a></p>
        </section>
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
            <Field name="username" label="Username" autocomplete="username" required=true/>
            <Field name="password" label="Password" kind="password" autocomplete="current-password"
                required=true/>
            <button type="submit">"Sign in"</button>
        </ActionForm>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    view! {
        <section class="card narrow" aria-labelledby="signup-title">
            <h1 id="signup-title">"Create an account"</h1>
            <SignupForm returned_error=query_error()/>
            <p>"Already have an account? " <a href="/login">"Sign in"</a></p>
        </section>
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

#[cfg(test)]
mod tests {
    use super::safe_next_path;

    #[test]
    fn next_accepts_same_site_paths_only() {
        assert_eq!(safe_next_path(Some("/sessions")), "/sessions");
        assert_eq!(safe_next_path(Some("/admin?search=a")), "/admin?search=a");
        for hostile in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/login",
            "",
            " ",
        ] {
            assert_eq!(safe_next_path(Some(hostile)), "/dashboard", "{hostile:?}");
        }
        assert_eq!(safe_next_path(None), "/dashboard");
    }
}
