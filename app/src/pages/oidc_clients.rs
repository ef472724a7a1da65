//! The apps that sign their users in through Gatehouse (OpenID Connect clients), and the
//! keys that sign tokens: admins only, and the server checks the role on every call.
//! Rendered on the server; its forms are plain forms, so it works the same with
//! JavaScript off. A refused registration comes back with what was typed; a new client
//! secret comes back to this page once, in a short-lived cookie, never in a URL.

// A plain form's fields arrive as a server function's arguments, one each.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::forms::encode_query_value;
#[cfg(feature = "ssr")]
use crate::ssr::{
    answer, back_to_form, backend, presented, redirect_form_error, request, set_shown_once,
    take_shown_once,
};
use crate::{
    error::AppError,
    forms::{Checkbox, QueryError, refused_form_query},
    model::{ClientInput, ClientView, Viewer},
};

pub const APPS_PAGE: &str = "/admin/apps";

/// The page's data: the clients, and a secret made by the post that led here.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppsAdminView {
    pub clients: Vec<ClientView>,
    /// `(client_id, secret)`, this once.
    pub new_secret: Option<(String, String)>,
}

#[server(endpoint = "admin/apps")]
pub async fn admin_apps() -> Result<AppsAdminView, AppError> {
    let request = request()?;
    let clients = answer(
        backend()?
            .oidc_clients(presented(&request).access.as_deref())
            .await,
    )?;
    let new_secret = take_shown_once(&request).and_then(|value| {
        let (client_id, secret) = value.split_once(':')?;
        Some((client_id.to_owned(), secret.to_owned()))
    });
    Ok(AppsAdminView {
        clients,
        new_secret,
    })
}

/// Registers an app. Checkboxes send a value only when ticked.
#[server(endpoint = "admin/apps/register")]
pub async fn admin_register_app(
    name: String,
    redirect_uris: Option<String>,
    post_logout_redirect_uris: Option<String>,
    public: Option<String>,
    sign_in: Option<String>,
    refresh: Option<String>,
    service: Option<String>,
    pre_consented: Option<String>,
    id_token_alg: Option<String>,
) -> Result<(), AppError> {
    let request = request()?;
    let form = AppForm {
        name,
        redirect_uris: redirect_uris.unwrap_or_default(),
        post_logout_redirect_uris: post_logout_redirect_uris.unwrap_or_default(),
        public: public.is_some(),
        sign_in: sign_in.is_some(),
        refresh: refresh.is_some(),
        service: service.is_some(),
        pre_consented: pre_consented.is_some(),
        id_token_alg: id_token_alg.unwrap_or_default(),
    };
    let outcome = backend()?
        .register_oidc_client(
            &request,
            presented(&request).access.as_deref(),
            form.input(),
        )
        .await;
    match &outcome {
        Ok(created) => {
            let id = &created.client.client_id;
            if let Some(secret) = &created.client_secret {
                set_shown_once(format!("{id}:{secret}"));
            }
            leptos_axum::redirect(&format!(
                "{APPS_PAGE}?registered={}",
                encode_query_value(id)
            ));
        }
        Err(error) => redirect_form_error(&request, &form.page_again(error), error),
    }
    answer(outcome.map(|_| ()))
}

/// `change`: `disable`, `enable`, `rotate_secret` or `remove`. (Not named `action`: a
/// field of that name would hide the form's own `action` from scripts.)
#[server(endpoint = "admin/apps/manage")]
pub async fn admin_manage_app(id: String, change: String) -> Result<(), AppError> {
    use crate::model::{ClientAction, ErrorCode};
    let request = request()?;
    let Some(action) = ClientAction::parse(&change) else {
        return back_to_form(Err(AppError::new(
            ErrorCode::InvalidInput,
            "unknown action",
        )));
    };
    let outcome = backend()?
        .manage_oidc_client(&request, presented(&request).access.as_deref(), &id, action)
        .await;
    if let Ok(Some(secret)) = &outcome {
        set_shown_once(format!("{id}:{secret}"));
    }
    back_to_form(outcome.map(|_| ()))
}

#[server(endpoint = "admin/keys/rotate")]
pub async fn admin_rotate_keys() -> Result<(), AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .rotate_signing_keys(&request, presented(&request).access.as_deref())
            .await
            .map(|_| ()),
    )
}

/// The registration form's fields as typed: what the page shows again after a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppForm {
    pub name: String,
    /// One URI per line (or separated by spaces).
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub public: bool,
    pub sign_in: bool,
    pub refresh: bool,
    pub service: bool,
    pub pre_consented: bool,
    pub id_token_alg: String,
}

impl Default for AppForm {
    fn default() -> Self {
        AppForm {
            name: String::new(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            public: false,
            sign_in: true,
            refresh: true,
            service: false,
            pre_consented: false,
            id_token_alg: "RS256".to_owned(),
        }
    }
}

impl AppForm {
    /// What the server parses (and refuses field by field).
    pub fn input(&self) -> ClientInput {
        let uris = |text: &str| text.split_whitespace().map(str::to_owned).collect();
        let grant_types = [
            (self.sign_in, "authorization_code"),
            (self.refresh, "refresh_token"),
            (self.service, "client_credentials"),
        ]
        .into_iter()
        .filter(|(ticked, _)| *ticked)
        .map(|(_, grant)| grant.to_owned())
        .collect();
        ClientInput {
            name: self.name.clone(),
            redirect_uris: uris(&self.redirect_uris),
            post_logout_redirect_uris: uris(&self.post_logout_redirect_uris),
            public: self.public,
            grant_types,
            pre_consented: self.pre_consented,
            id_token_signed_response_alg: Some(self.id_token_alg.trim())
                .filter(|alg| !alg.is_empty())
                .map(str::to_owned),
        }
    }

    /// This page with the form filled in as typed (nothing here is secret), and the
    /// refused field marked by name.
    pub fn page_again(&self, refused: &AppError) -> String {
        let mut query = refused_form_query(
            &[
                ("name", &self.name),
                ("redirect_uris", &self.redirect_uris),
                ("post_logout_redirect_uris", &self.post_logout_redirect_uris),
                ("id_token_alg", &self.id_token_alg),
            ],
            &[
                ("public", self.public),
                ("sign_in", self.sign_in),
                ("refresh", self.refresh),
                ("service", self.service),
                ("pre_consented", self.pre_consented),
            ],
            refused,
        );
        query.push("again=1".to_owned());
        format!("{APPS_PAGE}?{}", query.join("&"))
    }

    /// The form as a refused post left it (`page_again`), if this visit is one.
    fn from_query() -> Option<AppForm> {
        let query = use_query_map().read_untracked();
        query.get("again")?;
        let ticked = |name: &str| query.get(name).is_some();
        Some(AppForm {
            name: query.get("name").unwrap_or_default(),
            redirect_uris: query.get("redirect_uris").unwrap_or_default(),
            post_logout_redirect_uris: query.get("post_logout_redirect_uris").unwrap_or_default(),
            public: ticked("public"),
            sign_in: ticked("sign_in"),
            refresh: ticked("refresh"),
            service: ticked("service"),
            pre_consented: ticked("pre_consented"),
            id_token_alg: query.get("id_token_alg").unwrap_or_default(),
        })
    }
}

#[component]
pub fn AppsAdminPage() -> impl IntoView {
    view! { <crate::guard::AdminOnly page=|_viewer: Viewer| view! { <AppsAdmin/> }/> }
}

#[component]
fn AppsAdmin() -> impl IntoView {
    let data = Resource::new(|| (), |_| admin_apps());
    view! {
        <section class="card wide" aria-labelledby="apps-title">
            <h1 id="apps-title">"Apps signing in through Gatehouse"</h1>
            <p>
                "OpenID Connect clients: the apps whose users sign in here (see \"Use Gatehouse \
                 to sign in to your apps\" in the README for the settings an app needs)."
            </p>
            <p><a href="/admin">"Back to administration"</a></p>
            <QueryError/>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <AppsAndForms data/> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn kind_of(client: &ClientView) -> String {
    let kind = if client.public {
        "public"
    } else {
        "confidential"
    };
    let grants: Vec<&str> = client
        .grant_types
        .iter()
        .map(|grant| match grant.as_str() {
            "authorization_code" => "sign-in",
            "refresh_token" => "refresh",
            "client_credentials" => "service",
            other => other,
        })
        .collect();
    format!("{kind}: {}", grants.join(", "))
}

#[component]
fn AppsAndForms(data: AppsAdminView) -> impl IntoView {
    let manage = ServerAction::<AdminManageApp>::new();
    let rotate = ServerAction::<AdminRotateKeys>::new();
    let new_secret = data.new_secret.map(|(client_id, secret)| {
        view! {
            <div class="notice" role="status" data-testid="new-secret">
                <p>
                    "The secret of "<code>{client_id}</code>
                    ", shown this once: copy it now into the app's settings. Only its hash is kept."
                </p>
                <p><code data-testid="client-secret">{secret}</code></p>
            </div>
        }
    });
    let empty = data
        .clients
        .is_empty()
        .then(|| view! { <p>"No apps yet."</p> });
    let clients = data.clients;
    let table = (!clients.is_empty()).then(move || {
        view! {
            <table class="table" aria-describedby="apps-title">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Client id"</th>
                        <th scope="col">"Redirect URIs"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"ID tokens"</th>
                        <th scope="col">"State"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {clients.into_iter().map(|client| {
                        let name = client.name.clone();
                        let (toggle, toggle_label) = if client.disabled {
                            ("enable", format!("Enable: {name}"))
                        } else {
                            ("disable", format!("Disable: {name}"))
                        };
                        let toggle_text = if client.disabled { "Enable" } else { "Disable" };
                        let rotate_label = format!("New secret: {name}");
                        let remove_label = format!("Remove: {name}");
                        let kind = kind_of(&client);
                        let state = if client.disabled { "disabled" } else { "enabled" };
                        let id = client.client_id.clone();
                        let toggle_id = id.clone();
                        let rotate_form = (!client.public).then(|| {
                            let id = id.clone();
                            view! {
                                <ActionForm action=manage>
                                    <input type="hidden" name="id" value=id/>
                                    <input type="hidden" name="change" value="rotate_secret"/>
                                    <button type="submit" class="secondary small" aria-label=rotate_label>"New secret"</button>
                                </ActionForm>
                            }
                        });
                        view! {
                            <tr data-app=name.clone()>
                                <td>{name.clone()}</td>
                                <td class="breakable"><code>{client.client_id.clone()}</code></td>
                                <td class="breakable">{client.redirect_uris.join(" ")}</td>
                                <td>{kind}</td>
                                <td>{client.id_token_signed_response_alg.clone()}</td>
                                <td data-testid="app-state">{state}</td>
                                <td class="actions">
                                    <ActionForm action=manage>
                                        <input type="hidden" name="id" value=toggle_id/>
                                        <input type="hidden" name="change" value=toggle/>
                                        <button type="submit" class="secondary small" aria-label=toggle_label>{toggle_text}</button>
                                    </ActionForm>
                                    {rotate_form}
                                    <ActionForm action=manage>
                                        <input type="hidden" name="id" value=id/>
                                        <input type="hidden" name="change" value="remove"/>
                                        <button type="submit" class="secondary small" aria-label=remove_label>"Remove"</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
    });
    view! {
        {new_secret}
        {table}
        {empty}
        <RegisterForm form=AppForm::from_query().unwrap_or_default()/>
        <h2 id="keys-title">"Signing keys"</h2>
        <p>
            "A rotation adds new keys for access tokens and ID tokens: they sign from then on, \
             on every instance within a second. Tokens signed before keep working; the old \
             public keys stay published until those tokens have expired."
        </p>
        <ActionForm action=rotate attr:aria-labelledby="keys-title">
            <button type="submit" class="secondary">"Rotate the signing keys"</button>
        </ActionForm>
    }
}

#[component]
fn RegisterForm(form: AppForm) -> impl IntoView {
    let register = ServerAction::<AdminRegisterApp>::new();
    let refused_field = use_query_map().read_untracked().get("field");
    let invalid = move |name: &str| (refused_field.as_deref() == Some(name)).to_string();
    let alg = form.id_token_alg.clone();
    let algorithms = ["RS256", "ES256", "EdDSA"].map(|name| {
        view! { <option value=name selected=alg == name>{name}</option> }
    });
    view! {
        <h2 id="register-title">"Register an app"</h2>
        <ActionForm action=register attr:id="register-form" attr:aria-labelledby="register-title">
            <div class="field">
                <label for="app-name">"Name"</label>
                <input id="app-name" name="name" type="text" required=true value=form.name.clone()
                    aria-invalid=invalid("name") aria-describedby="app-name-hint"/>
            </div>
            <p class="hint" id="app-name-hint">"Shown to users on the consent page."</p>
            <div class="field">
                <label for="app-redirect-uris">"Redirect URIs"</label>
                <textarea id="app-redirect-uris" name="redirect_uris" rows="2"
                    aria-invalid=invalid("redirect_uris") aria-describedby="app-redirect-uris-hint">
                    {form.redirect_uris.clone()}
                </textarea>
            </div>
            <p class="hint" id="app-redirect-uris-hint">
                "One per line: https, http only to 127.0.0.1 or localhost, or an app's reverse-domain scheme. None for a service."
            </p>
            <div class="field">
                <label for="app-logout-uris">"After sign-out, back to"</label>
                <textarea id="app-logout-uris" name="post_logout_redirect_uris" rows="1"
                    aria-invalid=invalid("post_logout_redirect_uris") aria-describedby="app-logout-uris-hint">
                    {form.post_logout_redirect_uris.clone()}
                </textarea>
            </div>
            <p class="hint" id="app-logout-uris-hint">"Optional, one per line."</p>
            <fieldset class="choices">
                <legend>"What it may do"</legend>
                <Checkbox id="app-sign-in" name="sign_in" label="Sign users in (authorization code)" checked=form.sign_in/>
                <Checkbox id="app-refresh" name="refresh" label="Keep them signed in (refresh tokens, with offline_access)" checked=form.refresh/>
                <Checkbox id="app-service" name="service" label="Sign itself in as a service (client credentials)" checked=form.service/>
            </fieldset>
            <Checkbox id="app-public" name="public" label="Public: it cannot keep a secret (in a browser, on a phone) and uses PKCE" checked=form.public/>
            <Checkbox id="app-pre-consented" name="pre_consented" label="An app of your own: do not ask users to consent" checked=form.pre_consented/>
            <div class="field">
                <label for="app-alg">"ID tokens signed with"</label>
                <select id="app-alg" name="id_token_alg" aria-invalid=invalid("id_token_signed_response_alg")>
                    {algorithms}
                </select>
            </div>
            <button type="submit">"Register the app"</button>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::AppForm;
    use crate::{error::AppError, model::ErrorCode};

    #[test]
    fn the_form_sends_each_uri_once_split_and_the_ticked_grants() {
        let form = AppForm {
            name: "Wiki".to_owned(),
            redirect_uris: " https://a.example/cb\r\nhttps://b.example/cb  ".to_owned(),
            service: true,
            refresh: false,
            ..AppForm::default()
        };
        let input = form.input();
        assert_eq!(
            input.redirect_uris,
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert_eq!(
            input.grant_types,
            ["authorization_code", "client_credentials"]
        );
        assert_eq!(input.id_token_signed_response_alg.as_deref(), Some("RS256"));
    }

    #[test]
    fn a_refused_form_comes_back_with_what_was_typed_encoded() {
        let form = AppForm {
            name: "W&W".to_owned(),
            redirect_uris: "http://x".to_owned(),
            ..AppForm::default()
        };
        let refused = AppError {
            field: Some("redirect_uris".to_owned()),
            ..AppError::new(ErrorCode::InvalidInput, "plain http")
        };
        assert_eq!(
            form.page_again(&refused),
            "/admin/apps?name=W%26W&redirect_uris=http%3A%2F%2Fx&post_logout_redirect_uris=\
             &id_token_alg=RS256&sign_in=on&refresh=on&field=redirect_uris&again=1"
        );
    }
}
