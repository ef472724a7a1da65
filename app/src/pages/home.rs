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

/// The button only does something once the WASM client has hydrated this island; it
/// stays disabled in the server-rendered HTML so nobody clicks a dead control.
#[island]
fn QuickStart() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let show_quick_start = RwSignal::new(false);
    view! {
        <button
            id="quick-start-toggle"
            type="button"
            aria-expanded=move || show_quick_start.get().to_string()
            aria-controls="quick-start"
            disabled=move || !hydrated.get()
            on:click=move |_| show_quick_start.update(|shown| *shown = !*shown)
        >
            {move || if show_quick_start.get() { "Hide the API quick start" } else { "Show the API quick start" }}
        </button>
        <Show when=move || show_quick_start.get()>
            <pre id="quick-start" class="code">{CURL_QUICK_START}</pre>
        </Show>
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
