//! The sessions page: every device signed in to the account, and the means to end them.
//! Rendered on the server; its buttons are plain forms that come back to this page.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{SessionView, Viewer},
};

#[cfg(feature = "ssr")]
use crate::ssr::{answer, back_to_form, backend, presented, request};

#[server(endpoint = "sessions")]
pub async fn list_sessions() -> Result<Vec<SessionView>, AppError> {
    let request = request()?;
    answer(
        backend()?
            .sessions(presented(&request).access.as_deref())
            .await,
    )
}

#[server(endpoint = "sessions/revoke")]
pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .revoke_session(&request, presented(&request).access.as_deref(), &session_id)
            .await,
    )
}

#[server(endpoint = "sessions/revoke-others")]
pub async fn revoke_other_sessions() -> Result<u64, AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .revoke_other_sessions(&request, presented(&request).access.as_deref())
            .await,
    )
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|_viewer: Viewer| view! { <Sessions/> }/> }
}

#[component]
fn Sessions() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let revoke_others = ServerAction::<RevokeOtherSessions>::new();
    let sessions = Resource::new(|| (), |_| list_sessions());

    view! {
        <section class="card" aria-labelledby="sessions-title">
            <h1 id="sessions-title">"Your devices"</h1>
            <p>"Every browser or app signed in to your account. End any you do not recognise."</p>
            <crate::forms::QueryError/>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => view! { <SessionTable sessions=list revoke/> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=revoke_others>
                <button type="submit" class="secondary">"Sign out all other devices"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn SessionTable(sessions: Vec<SessionView>, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    view! {
        <table class="table">
            <caption class="visually-hidden">"Signed-in devices"</caption>
            <thead>
                <tr>
                    <th scope="col">"Device"</th>
                    <th scope="col">"Address"</th>
                    <th scope="col">"Signed in"</th>
                    <th scope="col">"Last active"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {sessions
                    .into_iter()
                    .map(|session| {
                        let id = session.id.clone();
                        view! {
                            <tr data-session=session.id.clone()>
                                <td>
                                    {session.user_agent.clone().unwrap_or_else(|| "Unknown device".into())}
                                    {session.current.then(|| view! { <span class="badge">"This device"</span> })}
                                </td>
                                <td>{session.ip.clone().unwrap_or_default()}</td>
                                <td><crate::time::When unix=session.created_at/></td>
                                <td><crate::time::When unix=session.last_used_at/></td>
                                <td>
                                    {(!session.current).then(|| view! {
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="session_id" value=id.clone()/>
                                            <button type="submit" class="secondary small">"Sign out"</button>
                                        </ActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
