//! Server-side helpers for the server functions: the backend and request from context,
//! the session cookies, and how a server function answers (a status for the WASM client,
//! a redirect for a plain form post).

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use http::{
    HeaderValue,
    header::{CONTENT_SECURITY_POLICY, SET_COOKIE},
    request::Parts,
};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::{
    backend::{CookiePolicy, IssuedSession, PresentedTokens, SharedBackend, SignedIn},
    error::AppError,
    model::ErrorCode,
};

pub const ACCESS_COOKIE: &str = "gatehouse_access";
pub const REFRESH_COOKIE: &str = "gatehouse_refresh";
/// The step-up ticket between a right password and its second factor: HttpOnly and
/// `Strict`, so the second step can only be taken in the browser that took the first.
pub const STEP_UP_COOKIE: &str = "gatehouse_step_up";

/// Set when a browser signs in, kept across sign-outs: the browser is recognised at its
/// next sign-in and counted apart from failures elsewhere, so an attacker's guesses
/// cannot lock its owner out. Sealed by the server to the account; HttpOnly.
pub const DEVICE_COOKIE: &str = "gatehouse_device";
/// How long a browser stays recognised (Chromium keeps a cookie 400 days at most).
const DEVICE_MAX_AGE_SECS: i64 = 400 * 24 * 3600;

pub fn backend() -> Result<SharedBackend, AppError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| AppError::new(ErrorCode::Internal, "the auth backend is not available"))
}

pub fn request() -> Result<Parts, AppError> {
    use_context::<Parts>()
        .ok_or_else(|| AppError::new(ErrorCode::Internal, "no request in context"))
}

pub fn presented_step_up(request: &Parts) -> Option<String> {
    cookie_value(request, STEP_UP_COOKIE, secure_cookies())
}

/// The device cookie, if the browser holds one (checked by the auth core). `secure`:
/// served over HTTPS, where only the `__Host-` name counts.
pub fn presented_device(request: &Parts, secure: bool) -> Option<String> {
    cookie_value(request, DEVICE_COOKIE, secure)
}

pub fn set_step_up_cookie(ticket: String, max_age_secs: i64, policy: CookiePolicy) {
    append(cookie(
        STEP_UP_COOKIE,
        ticket,
        max_age_secs,
        SameSite::Strict,
        policy,
    ));
}

pub fn clear_step_up_cookie(policy: CookiePolicy) {
    append(cookie(
        STEP_UP_COOKIE,
        String::new(),
        0,
        SameSite::Strict,
        policy,
    ));
}

/// A secret shown once (an app's new client secret), from the form post that made it
/// to the page that shows it: never in a URL (where logs and history keep it). HttpOnly,
/// `Strict`, two minutes; the page that shows it clears it.
pub const SHOWN_ONCE_COOKIE: &str = "gatehouse_shown_once";

pub fn set_shown_once(value: String) {
    if let Ok(backend) = backend() {
        append(cookie(
            SHOWN_ONCE_COOKIE,
            value,
            120,
            SameSite::Strict,
            backend.cookie_policy(),
        ));
    }
}

/// The value a form post left for this page, cleared as it is read.
pub fn take_shown_once(request: &Parts) -> Option<String> {
    let value = cookie_value(request, SHOWN_ONCE_COOKIE, secure_cookies())?;
    if let Ok(backend) = backend() {
        append(cookie(
            SHOWN_ONCE_COOKIE,
            String::new(),
            0,
            SameSite::Strict,
            backend.cookie_policy(),
        ));
    }
    Some(value)
}

/// A sign-in at another provider between its start and the provider's answer, sealed
/// by the server. `Lax`, unlike the others: the answer arrives as a navigation from the
/// provider's site, which a `Strict` cookie would not be sent with.
pub const PROVIDER_FLOW_COOKIE: &str = "gatehouse_provider_flow";

pub fn presented_provider_flow(request: &Parts) -> Option<String> {
    cookie_value(request, PROVIDER_FLOW_COOKIE, secure_cookies())
}

pub fn set_provider_flow_cookie(flow: String, max_age_secs: i64, policy: CookiePolicy) {
    append(cookie(
        PROVIDER_FLOW_COOKIE,
        flow,
        max_age_secs,
        SameSite::Lax,
        policy,
    ));
}

pub fn clear_provider_flow_cookie(policy: CookiePolicy) {
    append(cookie(
        PROVIDER_FLOW_COOKIE,
        String::new(),
        0,
        SameSite::Lax,
        policy,
    ));
}

/// A passkey ceremony's id between its start and its finish: HttpOnly and `Strict`, so
/// only the browser that started it can finish it.
pub const CEREMONY_COOKIE: &str = "gatehouse_passkey";

pub fn presented_ceremony(request: &Parts) -> Option<String> {
    cookie_value(request, CEREMONY_COOKIE, secure_cookies())
}

pub fn set_ceremony_cookie(id: String, max_age_secs: i64, policy: CookiePolicy) {
    append(cookie(
        CEREMONY_COOKIE,
        id,
        max_age_secs,
        SameSite::Strict,
        policy,
    ));
}

pub fn clear_ceremony_cookie(policy: CookiePolicy) {
    append(cookie(
        CEREMONY_COOKIE,
        String::new(),
        0,
        SameSite::Strict,
        policy,
    ));
}

/// The access token of this browser's session, renewed with its refresh cookie (and the
/// new cookies set) when the access cookie has lapsed; `None` when signed out.
pub async fn live_access(
    request: &Parts,
    backend: &SharedBackend,
) -> Result<Option<String>, AppError> {
    let tokens = presented(request);
    if tokens.access.is_some() {
        match backend.viewer(tokens.access.as_deref()).await {
            Ok(_) => return Ok(tokens.access),
            Err(error) if error.is_unauthenticated() => {}
            Err(error) => return Err(error),
        }
    }
    let Some(refresh) = tokens.refresh else {
        return Ok(None);
    };
    match backend.refresh(request, &refresh).await {
        Ok(issued) => {
            set_session_cookies(&issued, backend.cookie_policy());
            Ok(Some(issued.access_token))
        }
        Err(error) if error.is_unauthenticated() => Ok(None),
        Err(error) => Err(error),
    }
}

pub fn presented(request: &Parts) -> PresentedTokens {
    let secure = secure_cookies();
    let domain = use_context::<SharedBackend>()
        .and_then(|backend| backend.cookie_domain().map(str::to_owned));
    PresentedTokens {
        access: presented_access(request, secure, domain.is_some()),
        refresh: cookie_value(request, REFRESH_COOKIE, secure),
    }
}

/// The access cookie's name: the one rule for it, as set and as read by pages and the
/// forward-auth gate. Shared with a parent domain it cannot carry `__Host-` (which
/// forbids a domain), so over HTTPS it is `__Secure-`.
fn access_cookie_name(secure: bool, domain_wide: bool) -> String {
    if secure && domain_wide {
        format!("__Secure-{ACCESS_COOKIE}")
    } else {
        cookie_name(ACCESS_COOKIE, secure)
    }
}

pub fn presented_access(request: &Parts, secure: bool, domain_wide: bool) -> Option<String> {
    named_cookie_value(request, &access_cookie_name(secure, domain_wide))
}

/// Where a sign-in may send the browser back to besides this site's own paths.
pub fn return_hosts() -> crate::next_path::ReturnHosts {
    use_context::<SharedBackend>()
        .map(|backend| backend.return_hosts().clone())
        .unwrap_or_default()
}

/// A cookie's name as set and read: over HTTPS with the `__Host-` prefix, which a
/// browser accepts only from this host, `Secure`, for path `/` — so a sibling subdomain
/// cannot plant or overwrite one (cookie tossing).
fn cookie_name(name: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

fn cookie_value(request: &Parts, name: &str, secure: bool) -> Option<String> {
    named_cookie_value(request, &cookie_name(name, secure))
}

fn named_cookie_value(request: &Parts, full_name: &str) -> Option<String> {
    CookieJar::from_headers(&request.headers)
        .get(full_name)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether this server sets its cookies `Secure` (and so reads only `__Host-` names).
fn secure_cookies() -> bool {
    use_context::<SharedBackend>().is_some_and(|backend| backend.cookie_policy().secure)
}

/// The access cookie is `SameSite=Lax` so that following a link to Gatehouse from
/// elsewhere shows you signed in; the refresh cookie is `Strict`. Both are HttpOnly:
/// no script ever reads a token.
pub fn set_session_cookies(issued: &IssuedSession, policy: CookiePolicy) {
    append(access_cookie(
        issued.access_token.clone(),
        issued.access_max_age_secs,
        policy,
    ));
    append(cookie(
        REFRESH_COOKIE,
        issued.refresh_token.clone(),
        issued.refresh_max_age_secs,
        SameSite::Strict,
        policy,
    ));
    if let Some(device) = &issued.device {
        append(cookie(
            DEVICE_COOKIE,
            device.clone(),
            DEVICE_MAX_AGE_SECS,
            SameSite::Strict,
            policy,
        ));
    }
}

/// Where a right password leads a browser: signed in and on to `next`, or, with a second
/// factor, to the code page holding the step-up ticket in its cookie.
pub fn begin_session(
    signed_in: SignedIn,
    next: Option<&str>,
    policy: CookiePolicy,
) -> Option<crate::model::Viewer> {
    match signed_in {
        SignedIn::Session(issued) => {
            set_session_cookies(&issued, policy);
            leptos_axum::redirect(&crate::next_path::safe_next(next, &return_hosts()));
            Some(issued.viewer)
        }
        SignedIn::SecondFactor {
            ticket,
            max_age_secs,
        } => {
            set_step_up_cookie(ticket, max_age_secs, policy);
            leptos_axum::redirect(&crate::next_path::with_next(
                "/login/code",
                next,
                &return_hosts(),
            ));
            None
        }
    }
}

pub fn clear_session_cookies(policy: CookiePolicy) {
    append(access_cookie(String::new(), 0, policy));
    // One set before a cookie domain was configured would outlive the sign-out.
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

/// The access cookie, over the configured parent domain when there is one.
fn access_cookie(value: String, max_age_secs: i64, policy: CookiePolicy) -> Cookie<'static> {
    let domain = use_context::<SharedBackend>()
        .and_then(|backend| backend.cookie_domain().map(str::to_owned));
    let Some(domain) = domain else {
        return cookie(ACCESS_COOKIE, value, max_age_secs, SameSite::Lax, policy);
    };
    Cookie::build((access_cookie_name(policy.secure, true), value))
        .domain(domain)
        .path("/")
        .http_only(true)
        .secure(policy.secure)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age_secs.max(0)))
        .build()
}

fn cookie(
    name: &'static str,
    value: String,
    max_age_secs: i64,
    same_site: SameSite,
    policy: CookiePolicy,
) -> Cookie<'static> {
    Cookie::build((cookie_name(name, policy.secure), value))
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
            http::StatusCode::from_u16(error.status()),
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
        // Codes are snake_case ASCII: nothing in them needs encoding.
        leptos_axum::redirect(&format!("{path}{separator}error={}", error.code));
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

/// `back_to_form`, but a failure's way back also carries `mark` (`name=value`), which
/// the page reads to show the same form again (a prompt that is shown only on demand).
pub fn back_to_form_marked<T>(outcome: Result<T, AppError>, mark: &str) -> Result<T, AppError> {
    if let Some(request) = use_context::<Parts>()
        && is_plain_form(&request)
    {
        let back = referring_page(&request);
        let (path, query) = back.split_once('?').unwrap_or((&back, ""));
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && *pair != mark)
            .collect();
        let back = if kept.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", kept.join("&"))
        };
        match &outcome {
            Ok(_) => leptos_axum::redirect(&back),
            Err(error) => {
                let separator = if back.contains('?') { '&' } else { '?' };
                redirect_form_error(&request, &format!("{back}{separator}{mark}"), error);
            }
        }
    }
    answer(outcome)
}

/// The referring page's path and query, without an earlier `error`; `/` when the
/// header is missing, names another site (the CSRF guard refuses those anyway), or its
/// path is one a browser would read as another host (`//host`).
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
        .filter(|pair| {
            !pair.is_empty() && !pair.starts_with("error=") && !pair.starts_with("field=")
        })
        .collect();
    let path = referer.path();
    if !crate::next_path::is_same_site_path(path) {
        return "/".to_owned();
    }
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

/// A page's policy must name this response's nonce (Leptos puts it on its own inline
/// scripts), so the page sets its Content-Security-Policy header itself. Nothing else
/// runs inline; WASM instantiation needs `'wasm-unsafe-eval'`.
pub fn set_page_security_policy() {
    page_security_policy(None);
}

/// The page's policy again, its forms also allowed to lead to `source` (a CSP source:
/// the origin an OpenID Connect consent sends the browser back to).
pub fn allow_form_action_to(source: &str) {
    page_security_policy(Some(source));
}

fn page_security_policy(extra_form_action: Option<&str>) {
    let (Some(response), Some(nonce)) =
        (use_context::<ResponseOptions>(), leptos::nonce::use_nonce())
    else {
        return;
    };
    // A form's redirect counts as its action: a sign-in that goes back to an app behind
    // the forward-auth gate must be allowed there (any port, this page's scheme).
    let mut form_action = String::from("'self'");
    if let Some(backend) = use_context::<SharedBackend>() {
        let hosts = backend.return_hosts();
        if let Some(domain) = &hosts.domain {
            form_action.push_str(&format!(" {domain}:* *.{domain}:*"));
        }
        for host in &hosts.hosts {
            form_action.push_str(&format!(" {host}:*"));
        }
    }
    // Only what a source expression may hold: nothing that could end the directive.
    if let Some(source) = extra_form_action.filter(|source| {
        !source.is_empty()
            && source
                .chars()
                .all(|c| c.is_ascii_graphic() && c != ';' && c != ',')
    }) {
        form_action.push(' ');
        form_action.push_str(source);
    }
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
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
