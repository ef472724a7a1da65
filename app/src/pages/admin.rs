//! The admin console: users (search, page, promote, demote, disable, enable, unlock a
//! sign-in locked by too many failures, reset lost second factors) and the audit log; the forward-auth rules have
//! their own page (`forward_rules`). Admins only — and the server checks the role on
//! every call. Rendered on the server; its buttons are plain forms that come back to this
//! page.

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    error::AppError,
    forms::encode_query_value,
    model::{AuditPage, Role, UserPage, UserView, Viewer},
};

#[cfg(feature = "ssr")]
use crate::ssr::{answer, back_to_form, backend, presented, request};

#[server(endpoint = "admin/users")]
pub async fn admin_users(search: Option<String>, page: u64) -> Result<UserPage, AppError> {
    let request = request()?;
    answer(
        backend()?
            .list_users(presented(&request).access.as_deref(), search, page)
            .await,
    )
}

#[server(endpoint = "admin/users/update")]
pub async fn admin_update_user(
    user_id: String,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<UserView, AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .update_user(
                &request,
                presented(&request).access.as_deref(),
                &user_id,
                role,
                disabled,
            )
            .await,
    )
}

#[server(endpoint = "admin/users/unlock")]
pub async fn admin_unlock_sign_in(user_id: String) -> Result<(), AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .unlock_sign_in(&request, presented(&request).access.as_deref(), &user_id)
            .await,
    )
}

/// The admin's answer to "I lost my phone": the user's authenticator app, recovery codes
/// and passkeys go, and so do all of the user's sessions.
#[server(endpoint = "admin/users/reset-second-factors")]
pub async fn admin_reset_second_factors(user_id: String) -> Result<u64, AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .reset_second_factors(&request, presented(&request).access.as_deref(), &user_id)
            .await,
    )
}

#[server(endpoint = "admin/audit")]
pub async fn admin_audit(page: u64) -> Result<AuditPage, AppError> {
    let request = request()?;
    answer(
        backend()?
            .audit_log(presented(&request).access.as_deref(), page)
            .await,
    )
}

#[component]
pub fn AdminPage() -> impl IntoView {
    view! { <crate::guard::AdminOnly page=|viewer: Viewer| view! { <Admin viewer/> }/> }
}

fn page_param(value: Option<String>) -> u64 {
    value.and_then(|page| page.parse().ok()).unwrap_or(1).max(1)
}

#[component]
fn Admin(viewer: Viewer) -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("search").filter(|s| !s.is_empty());
    let users_page = move || page_param(query.read().get("page"));
    let audit_page = move || page_param(query.read().get("audit_page"));
    let update = ServerAction::<AdminUpdateUser>::new();
    let unlock = ServerAction::<AdminUnlockSignIn>::new();
    let reset = ServerAction::<AdminResetSecondFactors>::new();
    let users = Resource::new(
        move || (search(), users_page()),
        |(search, page)| admin_users(search, page),
    );
    let audit = Resource::new(audit_page, admin_audit);
    let me = viewer.user.id.clone();

    view! {
        <section class="card wide" aria-labelledby="admin-title">
            <h1 id="admin-title">"Administration"</h1>
            <p>
                <a href=crate::pages::forward_rules::RULES_PAGE>"Forward-auth rules"</a>
                ": who may pass a reverse proxy to the apps behind Gatehouse."
            </p>
            <p>
                <a href=crate::pages::provider_admin::PROVIDERS_PAGE>"Providers"</a>
                ": the other providers people may sign in with (\"Continue with …\")."
            </p>
            <p>
                <a href=crate::pages::oidc_clients::APPS_PAGE>"Apps"</a>
                ": the apps that sign their users in through Gatehouse, and the signing keys."
            </p>
            <h2 id="users-title">"Users"</h2>
            <Form method="GET" action="">
                <label for="user-search">"Search by username"</label>
                <div class="inline">
                    <input id="user-search" type="search" name="search" value=move || search().unwrap_or_default()/>
                    <button type="submit">"Search"</button>
                </div>
            </Form>
            <crate::forms::QueryError/>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let me = me.clone();
                    Suspend::new(async move {
                        match users.await {
                            Ok(page) => view! { <UserTable page update unlock reset me search=search()/> }.into_any(),
                            Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
            <h2 id="audit-title">"Audit log"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match audit.await {
                        Ok(page) => view! { <AuditTable page/> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn UserTable(
    page: UserPage,
    update: ServerAction<AdminUpdateUser>,
    unlock: ServerAction<AdminUnlockSignIn>,
    reset: ServerAction<AdminResetSecondFactors>,
    me: String,
    search: Option<String>,
) -> impl IntoView {
    let pages = page.total.div_ceil(page.per_page).max(1);
    let link = move |target: u64| match &search {
        Some(search) => format!("/admin?search={}&page={target}", encode_query_value(search)),
        None => format!("/admin?page={target}"),
    };
    view! {
        <table class="table" aria-describedby="users-title">
            <thead>
                <tr>
                    <th scope="col">"Username"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {page.users.into_iter().map(|user| {
                    let is_me = user.id == me;
                    let (role_label, new_role) = match user.role {
                        Role::Admin => ("Make user", Role::User),
                        Role::User => ("Make admin", Role::Admin),
                    };
                    let (status_label, disable) = if user.disabled { ("Enable", false) } else { ("Disable", true) };
                    let role_aria = format!("{role_label}: {}", user.username);
                    let status_aria = format!("{status_label}: {}", user.username);
                    let (id_for_role, id_for_status) = (user.id.clone(), user.id.clone());
                    let (id_for_reset, reset_aria) =
                        (user.id.clone(), format!("Reset second factors: {}", user.username));
                    let unlock_form = user.sign_in_locked.then(|| {
                        let unlock_aria = format!("Unlock sign-in: {}", user.username);
                        view! {
                            <ActionForm action=unlock>
                                <input type="hidden" name="user_id" value=user.id.clone()/>
                                <button type="submit" class="secondary small" aria-label=unlock_aria>"Unlock sign-in"</button>
                            </ActionForm>
                        }
                    });
                    // Without a password, the passkeys are the account's way in: after a
                    // reset only a code or a link to a verified address gets its owner in.
                    let reset_warning = if user.no_password {
                        "This account has no password: this removes its passkeys too, and then only a code or a reset link to its verified address lets its owner in. Also removes the authenticator app and recovery codes, and signs the user out everywhere"
                    } else {
                        "Removes the authenticator app, recovery codes and passkeys, and signs the user out everywhere"
                    };
                    let reset_form = user.has_second_factor.then(move || {
                        view! {
                            <ActionForm action=reset>
                                <input type="hidden" name="user_id" value=id_for_reset/>
                                <button type="submit" class="secondary small" aria-label=reset_aria
                                    title=reset_warning>
                                    "Reset second factors"
                                </button>
                            </ActionForm>
                        }
                    });
                    view! {
                        <tr data-user=user.username.clone()>
                            <td>{user.username.clone()} {is_me.then(|| view! { <span class="badge">"you"</span> })}</td>
                            <td data-testid="user-email">{match (&user.email, user.email_verified) {
                                (None, _) => "—".to_owned(),
                                (Some(address), true) => format!("{address} (verified)"),
                                (Some(address), false) => format!("{address} (unverified)"),
                            }}</td>
                            <td data-testid="user-role">{user.role.to_string()}</td>
                            <td>{if user.disabled { "disabled" } else { "active" }}
                                {user.no_password.then(|| view! {
                                    <span class="badge" title="Signs in with a passkey or a code by email">"no password"</span>
                                })}
                                {user.sign_in_locked.then(|| view! {
                                    <span class="badge" title="Too many failed sign-ins: only browsers that signed in before get in until a reset or an unlock">"sign-in locked"</span>
                                })}
                            </td>
                            <td><crate::time::When unix=user.created_at/></td>
                            <td class="actions">
                                <ActionForm action=update>
                                    <input type="hidden" name="user_id" value=id_for_role/>
                                    <input type="hidden" name="role" value=new_role.as_str()/>
                                    <button type="submit" class="secondary small" aria-label=role_aria>{role_label}</button>
                                </ActionForm>
                                <ActionForm action=update>
                                    <input type="hidden" name="user_id" value=id_for_status/>
                                    <input type="hidden" name="disabled" value=disable.to_string()/>
                                    <button type="submit" class="secondary small" aria-label=status_aria>{status_label}</button>
                                </ActionForm>
                                {unlock_form}
                                {reset_form}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="User pages">
            <span>{format!("Page {} of {pages} · {} users", page.page, page.total)}</span>
            {(page.page > 1).then(|| view! { <a href=link(page.page - 1)>"Previous"</a> })}
            {(page.page < pages).then(|| view! { <a href=link(page.page + 1)>"Next"</a> })}
        </nav>
    }
}

#[component]
fn AuditTable(page: AuditPage) -> impl IntoView {
    let pages = page.total.div_ceil(page.per_page).max(1);
    view! {
        <table class="table" aria-describedby="audit-title">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Event"</th>
                    <th scope="col">"User"</th>
                    <th scope="col">"Address"</th>
                    <th scope="col">"Detail"</th>
                </tr>
            </thead>
            <tbody>
                {page.events.into_iter().map(|event| view! {
                    <tr>
                        <td><crate::time::When unix=event.at/></td>
                        <td>{event.kind}</td>
                        <td>{event.username.unwrap_or_default()}</td>
                        <td>{event.ip.unwrap_or_default()}</td>
                        <td>{event.detail.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Audit log pages">
            <span>{format!("Page {} of {pages}", page.page)}</span>
            {(page.page > 1).then(|| view! { <a href=format!("/admin?audit_page={}", page.page - 1)>"Newer"</a> })}
            {(page.page < pages).then(|| view! { <a href=format!("/admin?audit_page={}", page.page + 1)>"Older"</a> })}
        </nav>
    }
}
