//! The account page: change the password.

use leptos::prelude::*;

use crate::{
    error::AppError,
    forms::{Field, FormErrors, query_error},
    model::Viewer,
};

#[cfg(feature = "ssr")]
use crate::ssr::{back_to_form, backend, presented, request};

#[server(endpoint = "password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .change_password(
                &request,
                presented(&request).access.as_deref(),
                current_password,
                new_password,
            )
            .await,
    )
}

#[component]
pub fn AccountPage() -> impl IntoView {
    view! { <crate::guard::SignedIn page=|viewer: Viewer| view! { <Account viewer/> }/> }
}

#[component]
fn Account(viewer: Viewer) -> impl IntoView {
    view! {
        <section class="card narrow" aria-labelledby="account-title">
            <h1 id="account-title">"Your account"</h1>
            <p>"Signed in as " <strong>{viewer.user.username}</strong> "."</p>
            <h2>"Change your password"</h2>
            <p class="hint">"Changing it signs you out on every other device."</p>
            <ChangePasswordForm returned_error=query_error()/>
        </section>
    }
}

/// Errors show beside their fields, success as a notice, without leaving the page.
#[island]
fn ChangePasswordForm(returned_error: Option<String>) -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let result = change.value();
    let errors = FormErrors::new(result, returned_error);
    let changed = move || matches!(result.get(), Some(Ok(())));

    view! {
        <Show when=changed>
            <p class="notice" role="status">"Your password has been changed."</p>
        </Show>
        {errors.clone().alert(false)}
        <ActionForm action=change>
            <Field name="current_password" label="Current password" kind="password"
                autocomplete="current-password" required=true error=errors.field("current_password")/>
            <Field name="new_password" label="New password" kind="password"
                autocomplete="new-password" required=true error=errors.field("new_password")/>
            <button type="submit">"Change password"</button>
        </ActionForm>
    }
}
