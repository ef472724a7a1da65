//! Pages that need a signed-in user (or an admin) render through these guards. They
//! decide what to show; the server checks again on every call regardless.

use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_location};

use crate::{
    model::{Role, Viewer},
    session::use_session,
};

/// Renders `page` for a signed-in user; a visitor is sent to `/login?next=<this page>`.
#[component]
pub fn SignedIn<F, V>(page: F) -> impl IntoView
where
    F: Fn(Viewer) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = use_session();
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match session.viewer.await {
                        Ok(Some(viewer)) => page(viewer).into_any(),
                        Ok(None) => {
                            let here = format!(
                                "{}{}",
                                location.pathname.get_untracked(),
                                location.search.get_untracked(),
                            );
                            let target = format!("/login?next={}", encode_path(&here));
                            view! { <Redirect path=target/> }.into_any()
                        }
                        Err(error) => view! {
                            <p class="form-error" role="alert">{error.message}</p>
                        }
                        .into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Like `SignedIn`, and a signed-in user who is not an admin gets a 403 page.
#[component]
pub fn AdminOnly<F, V>(page: F) -> impl IntoView
where
    F: Fn(Viewer) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <SignedIn page=move |viewer: Viewer| {
            if viewer.user.role == Role::Admin {
                page(viewer).into_any()
            } else {
                view! { <Forbidden/> }.into_any()
            }
        }/>
    }
}

#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <section class="card narrow">
            <h1>"403 — not for you"</h1>
            <p>"This page is for administrators only."</p>
            <p><a href="/dashboard">"Back to your dashboard"</a></p>
        </section>
    }
}

/// Percent-encodes what a query parameter value cannot hold.
fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
