//! The Leptos application: pages, components and the types both the WASM client and the
//! server speak. Server-only code never lands here unless it sits behind `feature = "ssr"`.

pub mod model;
mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    StaticSegment,
    components::{Route, Router, Routes},
};

/// The HTML document around every server-rendered page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use http::{HeaderValue, header::CONTENT_SECURITY_POLICY};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// A page's policy must name this response's nonce (Leptos puts it on its own inline
    /// scripts), so the page sets its Content-Security-Policy header itself. Nothing else
    /// runs inline; WASM instantiation needs `'wasm-unsafe-eval'`.
    pub fn set_page_security_policy() {
        let (Some(response), Some(nonce)) =
            (use_context::<ResponseOptions>(), leptos::nonce::use_nonce())
        else {
            return;
        };
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            response.insert_header(CONTENT_SECURITY_POLICY, value);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Title text="Gatehouse"/>
        <Router>
            <header class="site-header">
                <a class="brand" href="/">"Gatehouse"</a>
                <nav aria-label="Main">
                    <a href="/docs">"API docs"</a>
                </nav>
            </header>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=pages::HomePage/>
                </Routes>
            </main>
        </Router>
    }
}
