use leptos::prelude::*;

const CURL_QUICK_START: &str = r#"curl -X POST localhost:3000/auth/signup -H 'content-type: application/json' \
     -d '{"username":"ada","password":"correct horse battery"}'
curl -X POST localhost:3000/auth/login -H 'content-type: application/json' \
     -d '{"username":"ada","password":"correct horse battery"}'
curl localhost:3000/auth/dashboard -H "authorization: Bearer $ACCESS_TOKEN""#;

/// The public landing page.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Gatehouse"</h1>
            <p class="lede">
                "A light, self-hosted authentication service: sign-up and login, short-lived \
                 access tokens, rotating refresh tokens, revocation that holds, and roles."
            </p>
            <QuickStart/>
        </section>
    }
}

/// The browser's own disclosure: it works without JavaScript, and an island here cost
/// the WASM bundle about 3 kB (brotli) for one toggle.
#[component]
fn QuickStart() -> impl IntoView {
    view! {
        <details class="quick-start">
            <summary>"The API quick start"</summary>
            <pre id="quick-start" class="code">{CURL_QUICK_START}</pre>
        </details>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <leptos_meta::Title text="Page not found"/>
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the start page"</a></p>
        </section>
    }
}
