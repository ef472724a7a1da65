use leptos::prelude::*;

use crate::{model::Viewer, sync::RenewalCountdown};

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|viewer: Viewer| view! { <Dashboard viewer/> }/> }
}

#[component]
fn Dashboard(viewer: Viewer) -> impl IntoView {
    let user = viewer.user;
    view! {
        <section class="card" aria-labelledby="dashboard-title">
            <h1 id="dashboard-title">"Welcome to your dashboard, " {user.username.clone()}</h1>
            <p class="protected">"This is protected content: only signed-in users see it."</p>
            <dl class="facts">
                <dt>"Signed in as"</dt>
                <dd data-testid="username">{user.username.clone()}</dd>
                <dt>"Role"</dt>
                <dd data-testid="role">{user.role.to_string()}</dd>
                <dt>"Access token renews in"</dt>
                <dd data-testid="renews-in">
                    <RenewalCountdown access_expires_in=viewer.access_expires_in/>
                </dd>
            </dl>
            <p>
                <a href="/sessions">"Your devices"</a>
                " · "
                <a href="/account">"Change your password"</a>
            </p>
        </section>
    }
}
