//! The other providers people may sign in with ("Continue with …"): admins only, and
//! the server checks the role on every call. Rendered on the server; its forms are plain
//! forms, so it works the same with JavaScript off. A refused addition comes back with
//! what was typed, except the client secret, which never travels in a URL.

// A plain form's fields arrive as a server function's arguments, one each.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[cfg(feature = "ssr")]
use crate::ssr::{answer, back_to_form, backend, presented, redirect_form_error, request};
use crate::{
    error::AppError,
    forms::{Checkbox, QueryError, encode_query_value, refused_form_query},
    model::{ProviderInput, ProviderView, Viewer},
};

pub const PROVIDERS_PAGE: &str = "/admin/providers";

#[server(endpoint = "admin/providers")]
pub async fn admin_providers() -> Result<Vec<ProviderView>, AppError> {
    let request = request()?;
    answer(
        backend()?
            .sign_in_provider_list(presented(&request).access.as_deref())
            .await,
    )
}

/// Adds a provider, or changes the one `editing` names. Checkboxes send a value only
/// when ticked.
#[server(endpoint = "admin/providers/save")]
pub async fn admin_save_provider(
    editing: Option<String>,
    id: String,
    kind: String,
    name: String,
    issuer: Option<String>,
    api_url: Option<String>,
    client_id: String,
    client_secret: Option<String>,
    remove_client_secret: Option<String>,
    sign_up: Option<String>,
    trust_amr: Option<String>,
    link_verified_email: Option<String>,
) -> Result<(), AppError> {
    let request = request()?;
    let form = ProviderForm {
        editing: editing.filter(|id| !id.is_empty()),
        id,
        kind,
        name,
        issuer: issuer.unwrap_or_default(),
        api_url: api_url.unwrap_or_default(),
        client_id,
        remove_client_secret: remove_client_secret.is_some(),
        sign_up: sign_up.is_some(),
        trust_amr: trust_amr.is_some(),
        link_verified_email: link_verified_email.is_some(),
    };
    let access = presented(&request).access;
    let backend = backend()?;
    let input = form.input(client_secret);
    let outcome = match &form.editing {
        Some(editing) => {
            backend
                .change_sign_in_provider(&request, access.as_deref(), editing, input)
                .await
        }
        None => {
            backend
                .add_sign_in_provider(&request, access.as_deref(), input)
                .await
        }
    };
    match &outcome {
        Ok(saved) => leptos_axum::redirect(&format!(
            "{PROVIDERS_PAGE}?{}={}",
            if form.editing.is_some() {
                "changed"
            } else {
                "added"
            },
            encode_query_value(&saved.id)
        )),
        Err(error) => redirect_form_error(&request, &form.page_again(error), error),
    }
    answer(outcome.map(drop))
}

/// `change`: `disable`, `enable` or `remove`. (Not named `action`: a field of that name
/// would hide the form's own `action` from scripts.)
#[server(endpoint = "admin/providers/manage")]
pub async fn admin_manage_provider(id: String, change: String) -> Result<(), AppError> {
    use crate::model::{ErrorCode, ProviderAction};
    let request = request()?;
    let Some(action) = ProviderAction::parse(&change) else {
        return back_to_form(Err(AppError::new(
            ErrorCode::InvalidInput,
            "unknown action",
        )));
    };
    back_to_form(
        backend()?
            .manage_sign_in_provider(&request, presented(&request).access.as_deref(), &id, action)
            .await,
    )
}

/// The form's fields as typed, but the secret: what the page shows again after a
/// refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderForm {
    /// The stored provider this form changes; `None` adds one.
    pub editing: Option<String>,
    pub id: String,
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub api_url: String,
    pub client_id: String,
    /// Changing only: no client secret any more (a public client). A secret typed in
    /// the same post wins.
    pub remove_client_secret: bool,
    pub sign_up: bool,
    pub trust_amr: bool,
    pub link_verified_email: bool,
}

impl Default for ProviderForm {
    fn default() -> Self {
        ProviderForm {
            editing: None,
            id: String::new(),
            kind: "oidc".to_owned(),
            name: String::new(),
            issuer: String::new(),
            api_url: String::new(),
            client_id: String::new(),
            remove_client_secret: false,
            sign_up: true,
            trust_amr: false,
            link_verified_email: false,
        }
    }
}

impl ProviderForm {
    /// What the server checks (and refuses field by field). An empty optional field is
    /// left out: the presets fill in their own addresses. An empty secret is left out
    /// too: no secret for an addition, the stored one kept for a change.
    pub fn input(&self, client_secret: Option<String>) -> ProviderInput {
        let client_secret = match client_secret.filter(|secret| !secret.is_empty()) {
            Some(typed) => Some(typed),
            // The REST door's "" (remove), for a change only.
            None if self.editing.is_some() && self.remove_client_secret => Some(String::new()),
            None => None,
        };
        let given = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        ProviderInput {
            id: self.id.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            issuer: given(&self.issuer),
            api_url: given(&self.api_url),
            client_id: self.client_id.clone(),
            client_secret,
            sign_up: self.sign_up,
            trust_amr: self.trust_amr,
            link_verified_email: self.link_verified_email,
        }
    }

    /// This page with the form filled in as typed (never the secret), and the refused
    /// field marked by name.
    pub fn page_again(&self, refused: &AppError) -> String {
        let mut query = refused_form_query(
            &[
                ("id", &self.id),
                ("kind", &self.kind),
                ("name", &self.name),
                ("issuer", &self.issuer),
                ("api_url", &self.api_url),
                ("client_id", &self.client_id),
            ],
            &[
                ("remove_client_secret", self.remove_client_secret),
                ("sign_up", self.sign_up),
                ("trust_amr", self.trust_amr),
                ("link_verified_email", self.link_verified_email),
            ],
            refused,
        );
        if let Some(editing) = &self.editing {
            query.push(format!("edit={}", encode_query_value(editing)));
        }
        query.push("again=1".to_owned());
        format!("{PROVIDERS_PAGE}?{}", query.join("&"))
    }

    /// The form as a refused post left it (`page_again`), if this visit is one.
    fn from_query() -> Option<ProviderForm> {
        let query = use_query_map().read_untracked();
        query.get("again")?;
        let ticked = |name: &str| query.get(name).is_some();
        Some(ProviderForm {
            editing: query.get("edit"),
            id: query.get("id").unwrap_or_default(),
            kind: query.get("kind").unwrap_or_default(),
            name: query.get("name").unwrap_or_default(),
            issuer: query.get("issuer").unwrap_or_default(),
            api_url: query.get("api_url").unwrap_or_default(),
            client_id: query.get("client_id").unwrap_or_default(),
            remove_client_secret: ticked("remove_client_secret"),
            sign_up: ticked("sign_up"),
            trust_amr: ticked("trust_amr"),
            link_verified_email: ticked("link_verified_email"),
        })
    }

    /// The form filled in with a stored provider, to change it.
    fn of_provider(provider: &ProviderView) -> ProviderForm {
        ProviderForm {
            editing: Some(provider.id.clone()),
            id: provider.id.clone(),
            kind: provider.kind.clone(),
            name: provider.name.clone(),
            issuer: provider.issuer.clone(),
            api_url: provider.api_url.clone().unwrap_or_default(),
            client_id: provider.client_id.clone(),
            remove_client_secret: false,
            sign_up: provider.sign_up,
            trust_amr: provider.trust_amr,
            link_verified_email: provider.link_verified_email,
        }
    }
}

#[component]
pub fn ProvidersAdminPage() -> impl IntoView {
    view! { <crate::guard::AdminOnly page=|_viewer: Viewer| view! { <ProvidersAdmin/> }/> }
}

#[component]
fn ProvidersAdmin() -> impl IntoView {
    let data = Resource::new(|| (), |_| admin_providers());
    let query = use_query_map().read_untracked();
    let saved = if let Some(id) = query.get("added") {
        Some((
            id,
            "Added: it is offered on the sign-in pages now, on every instance within a \
             second. Register its callback URL at the provider.",
        ))
    } else {
        query.get("changed").map(|id| {
            (
                id,
                "Changed: every instance signs in with the new settings within a second.",
            )
        })
    };
    let saved = saved.map(|(id, text)| {
        view! { <p class="notice" role="status"><code>{id}</code>" — "{text}</p> }
    });
    view! {
        <section class="card wide" aria-labelledby="providers-title">
            <h1 id="providers-title">"Providers to sign in with"</h1>
            <p>
                "Other OpenID Connect providers, Google or GitHub: the sign-in and sign-up \
                 pages offer \"Continue with …\" for each one on. Those of the providers file \
                 (GATEHOUSE_PROVIDERS) are changed only there."
            </p>
            <p><a href="/admin">"Back to administration"</a></p>
            {saved}
            <QueryError/>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(providers) => view! { <ProvidersAndForm providers/> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The table, and the form: filled in with the provider `?edit=` names (one added
/// here, not the file's), as a refused post left it, or empty to add one.
#[component]
fn ProvidersAndForm(providers: Vec<ProviderView>) -> impl IntoView {
    let editing = use_query_map().read_untracked().get("edit").and_then(|id| {
        providers
            .iter()
            .find(|provider| provider.id == id && provider.source != "file")
            .cloned()
    });
    let form = ProviderForm::from_query()
        .filter(|form| form.editing.is_some() == editing.is_some())
        .or_else(|| editing.as_ref().map(ProviderForm::of_provider))
        .unwrap_or_default();
    view! {
        <ProvidersTable providers/>
        <ProviderEditor form editing/>
    }
}

#[component]
fn ProvidersTable(providers: Vec<ProviderView>) -> impl IntoView {
    let manage = ServerAction::<AdminManageProvider>::new();
    if providers.is_empty() {
        return view! { <p>"No providers yet."</p> }.into_any();
    }
    view! {
        <table class="table" aria-describedby="providers-title">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Id and kind"</th>
                    <th scope="col">"Issuer"</th>
                    <th scope="col">"Callback URL"</th>
                    <th scope="col">"Linked"</th>
                    <th scope="col">"State"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {providers.into_iter().map(|provider| {
                    let name = provider.name.clone();
                    let state = match (provider.source.as_str(), provider.disabled) {
                        ("file", _) => "in the file",
                        (_, true) => "off",
                        _ => "on",
                    };
                    let actions = (provider.source != "file").then(|| {
                        let (toggle, toggle_text) = if provider.disabled {
                            ("enable", "Turn on")
                        } else {
                            ("disable", "Turn off")
                        };
                        let change_link = format!(
                            "{PROVIDERS_PAGE}?edit={}#provider-form",
                            encode_query_value(&provider.id)
                        );
                        let change_label = format!("Change: {name}");
                        let toggle_label = format!("{toggle_text}: {name}");
                        let remove_label = format!("Remove: {name}");
                        let id = provider.id.clone();
                        let toggle_id = id.clone();
                        view! {
                            <a class="action-link" href=change_link aria-label=change_label>"Change"</a>
                            <ActionForm action=manage>
                                <input type="hidden" name="id" value=toggle_id/>
                                <input type="hidden" name="change" value=toggle/>
                                <button type="submit" class="secondary small" aria-label=toggle_label>{toggle_text}</button>
                            </ActionForm>
                            <ActionForm action=manage>
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="change" value="remove"/>
                                <button type="submit" class="secondary small" aria-label=remove_label>"Remove"</button>
                            </ActionForm>
                        }
                    });
                    view! {
                        <tr data-provider=provider.id.clone()>
                            <td>{name.clone()}</td>
                            <td><code>{provider.id.clone()}</code>" "{provider.kind.clone()}</td>
                            <td class="breakable">{provider.issuer.clone()}</td>
                            <td class="breakable"><code>{provider.callback_url.clone()}</code></td>
                            <td>{provider.linked_accounts}</td>
                            <td data-testid="provider-state">{state}</td>
                            <td class="actions">{actions}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Adds a provider, or changes `editing`: its id never changes, and while accounts are
/// linked at it neither do its kind and addresses (the server refuses it too).
#[component]
fn ProviderEditor(form: ProviderForm, editing: Option<ProviderView>) -> impl IntoView {
    let save = ServerAction::<AdminSaveProvider>::new();
    let refused_field = use_query_map().read_untracked().get("field");
    let invalid = move |name: &str| (refused_field.as_deref() == Some(name)).to_string();
    let linked = editing
        .as_ref()
        .map_or(0, |provider| provider.linked_accounts);
    let settled = linked > 0;
    let has_secret = editing
        .as_ref()
        .is_some_and(|provider| provider.has_client_secret);
    let changing = editing.is_some();
    let title = match &editing {
        Some(provider) => format!("Change {}", provider.name),
        None => "Add a provider".to_owned(),
    };
    let kind = form.kind.clone();
    let kinds = [
        ("oidc", "OpenID Connect (from its issuer)"),
        ("google", "Google"),
        ("github", "GitHub"),
    ]
    .map(|(value, label)| view! { <option value=value selected=kind == value>{label}</option> });
    let secret_hint = match (changing, has_secret) {
        (false, _) => "Kept sealed and never shown again. Empty for a public client.",
        (true, true) => "Empty keeps the one it has (sealed, never shown).",
        (true, false) => "It has none (a public client). Empty keeps it so.",
    };
    view! {
        <h2 id="provider-form-title">{title}</h2>
        <ActionForm action=save attr:id="provider-form" attr:aria-labelledby="provider-form-title">
            <input type="hidden" name="editing" value=form.editing.clone().unwrap_or_default()/>
            <div class="field">
                <label for="provider-name">"Name"</label>
                <input id="provider-name" name="name" type="text" required=true value=form.name.clone()
                    aria-invalid=invalid("name") aria-describedby="provider-name-hint"/>
            </div>
            <p class="hint" id="provider-name-hint">"The button says \"Continue with\" and this."</p>
            <div class="field">
                <label for="provider-id">"Id"</label>
                <input id="provider-id" name="id" type="text" required=true value=form.id.clone()
                    readonly=changing pattern="[a-z0-9\\-]{1,32}" aria-invalid=invalid("id")
                    aria-describedby="provider-id-hint"/>
            </div>
            <p class="hint" id="provider-id-hint">
                "In its URLs: lowercase letters, digits and -. It never changes."
            </p>
            {settled.then(|| view! {
                <p class="hint" id="provider-settled">
                    {format!("{linked} linked account(s) sign in through it: its kind and addresses stay. \
                      Another issuer means another provider.")}
                </p>
                <input type="hidden" name="kind" value=form.kind.clone()/>
            })}
            <div class="field">
                <label for="provider-kind">"Kind"</label>
                // A disabled select sends nothing: while settled, the hidden field does.
                <select id="provider-kind" name=(!settled).then_some("kind") disabled=settled
                    aria-invalid=invalid("kind")>{kinds}</select>
            </div>
            <div class="field">
                <label for="provider-issuer">"Issuer"</label>
                <input id="provider-issuer" name="issuer" type="url" value=form.issuer.clone()
                    readonly=settled aria-invalid=invalid("issuer") aria-describedby="provider-issuer-hint"/>
            </div>
            <p class="hint" id="provider-issuer-hint">
                "Exactly as its discovery document says it. Google and GitHub: leave empty (a GitHub Enterprise Server: its address)."
            </p>
            <div class="field">
                <label for="provider-api-url">"GitHub API address"</label>
                <input id="provider-api-url" name="api_url" type="url" value=form.api_url.clone()
                    readonly=settled aria-invalid=invalid("api_url") aria-describedby="provider-api-url-hint"/>
            </div>
            <p class="hint" id="provider-api-url-hint">"GitHub only, when not the issuer's usual one. Otherwise empty."</p>
            <div class="field">
                <label for="provider-client-id">"Client id"</label>
                <input id="provider-client-id" name="client_id" type="text" required=true
                    value=form.client_id.clone() aria-invalid=invalid("client_id")/>
            </div>
            <div class="field">
                <label for="provider-client-secret">{if changing { "New client secret" } else { "Client secret" }}</label>
                <input id="provider-client-secret" name="client_secret" type="password" autocomplete="off"
                    aria-invalid=invalid("client_secret") aria-describedby="provider-client-secret-hint"/>
            </div>
            <p class="hint" id="provider-client-secret-hint">{secret_hint}</p>
            {(changing && has_secret).then(|| view! {
                <Checkbox id="provider-remove-client-secret" name="remove_client_secret"
                    label="Remove its client secret (a public client)" checked=form.remove_client_secret/>
            })}
            <Checkbox id="provider-sign-up" name="sign_up" label="A first sign-in makes an account here" checked=form.sign_up/>
            <Checkbox id="provider-trust-amr" name="trust_amr" label="Its word that it asked for a second factor (amr: mfa) counts as ours" checked=form.trust_amr/>
            <Checkbox id="provider-link-verified-email" name="link_verified_email" label="A first sign-in joins the account that verified the same address (only for a provider that owns its users' addresses)" checked=form.link_verified_email/>
            <div class="inline">
                <button type="submit">{if changing { "Save the provider" } else { "Add the provider" }}</button>
                {changing.then(|| view! { <a href=PROVIDERS_PAGE>"Cancel"</a> })}
            </div>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::ProviderForm;
    use crate::{error::AppError, model::ErrorCode};

    #[test]
    fn empty_addresses_are_left_out_and_the_secret_never_comes_back() {
        let form = ProviderForm {
            id: "corp".to_owned(),
            name: "Corp & Co".to_owned(),
            issuer: " ".to_owned(),
            client_id: "gatehouse".to_owned(),
            ..ProviderForm::default()
        };
        let input = form.input(Some("hunter2".to_owned()));
        assert_eq!(input.issuer, None);
        assert_eq!(input.api_url, None);
        assert_eq!(input.client_secret.as_deref(), Some("hunter2"));
        assert_eq!(form.input(Some(String::new())).client_secret, None);
        assert!(input.sign_up && !input.trust_amr && !input.link_verified_email);
        let refused = AppError {
            field: Some("issuer".to_owned()),
            ..AppError::new(ErrorCode::InvalidInput, "is missing")
        };
        assert_eq!(
            form.page_again(&refused),
            "/admin/providers?id=corp&kind=oidc&name=Corp%20%26%20Co&issuer=%20&api_url=\
             &client_id=gatehouse&sign_up=on&field=issuer&again=1"
        );
        // Removal is a change's: an addition has nothing to remove.
        let ticked = ProviderForm {
            remove_client_secret: true,
            ..form.clone()
        };
        assert_eq!(ticked.input(None).client_secret, None);
    }

    #[test]
    fn a_change_keeps_the_secret_unless_one_is_typed_or_its_removal_ticked() {
        let form = ProviderForm {
            editing: Some("corp".to_owned()),
            id: "corp".to_owned(),
            name: "Corp".to_owned(),
            client_id: "gatehouse".to_owned(),
            ..ProviderForm::default()
        };
        assert_eq!(form.input(Some(String::new())).client_secret, None);
        let removing = ProviderForm {
            remove_client_secret: true,
            ..form.clone()
        };
        assert_eq!(
            removing.input(Some(String::new())).client_secret.as_deref(),
            Some("")
        );
        assert_eq!(
            removing
                .input(Some("new".to_owned()))
                .client_secret
                .as_deref(),
            Some("new")
        );
        let refused = AppError::new(ErrorCode::ProviderInUse, "in use");
        assert_eq!(
            removing.page_again(&refused),
            "/admin/providers?id=corp&kind=oidc&name=Corp&issuer=&api_url=&client_id=gatehouse\
             &remove_client_secret=on&sign_up=on&edit=corp&again=1"
        );
    }
}
