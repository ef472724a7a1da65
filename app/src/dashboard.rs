use leptos::prelude::*;

use crate::{model::Viewer, session::use_session, sync::AccessDeadline};

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|viewer: Viewer| view! { <Dashboard viewer/> }/> }
}

#[component]
fn Dashboard(viewer: Viewer) -> impl IntoView {
    let _session = use_session();
    let deadline = use_context::<AccessDeadline>();
    let renews_in = move || deadline.and_then(|deadline| deadline.seconds_until_renewal());
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
                    {move || match renews_in() {
                        Some(seconds) => format!("{seconds} s"),
                        None => format!("about {} s", viewer.access_expires_in),
                    }}
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
