//! The forward-auth rules editor: which users or roles may pass a reverse proxy to which
//! host and path (see "Put Gatehouse in front of an app" in the README). Admins only, and
//! the server checks the role on every call. Rendered on the server; its forms are plain
//! forms, so it works the same with JavaScript off. A refused form comes back with what
//! was typed in it, so nothing is lost.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[cfg(feature = "ssr")]
use crate::ssr::{answer, back_to_form, backend, presented, redirect_form_error, request};
use crate::{
    error::AppError,
    forms::{Checkbox, QueryError, encode_query_value, refused_form_query},
    model::{ForwardRuleInput, ForwardRuleView, Role, Viewer},
};

pub const RULES_PAGE: &str = "/admin/forward-auth";

#[server(endpoint = "admin/forward-rules")]
pub async fn admin_forward_rules() -> Result<Vec<ForwardRuleView>, AppError> {
    let request = request()?;
    answer(
        backend()?
            .forward_rules(presented(&request).access.as_deref())
            .await,
    )
}

/// Adds a rule, or changes the one `id` names. Checkboxes send a value only when ticked.
#[server(endpoint = "admin/forward-rules/save")]
pub async fn admin_save_forward_rule(
    id: Option<String>,
    host: String,
    path_prefix: Option<String>,
    users: Option<String>,
    role_admin: Option<String>,
    role_user: Option<String>,
    two_factor: Option<String>,
) -> Result<ForwardRuleView, AppError> {
    let request = request()?;
    let form = RuleForm {
        id: id.filter(|id| !id.is_empty()),
        host,
        path_prefix: path_prefix.unwrap_or_default(),
        users: users.unwrap_or_default(),
        role_admin: role_admin.is_some(),
        role_user: role_user.is_some(),
        two_factor: two_factor.is_some(),
    };
    let outcome = backend()?
        .save_forward_rule(
            &request,
            presented(&request).access.as_deref(),
            form.id.as_deref(),
            &form.input(),
        )
        .await;
    match &outcome {
        Ok(_) => leptos_axum::redirect(RULES_PAGE),
        Err(error) => redirect_form_error(&request, &form.page_again(error), error),
    }
    answer(outcome)
}

#[server(endpoint = "admin/forward-rules/remove")]
pub async fn admin_remove_forward_rule(id: String) -> Result<(), AppError> {
    let request = request()?;
    back_to_form(
        backend()?
            .remove_forward_rule(&request, presented(&request).access.as_deref(), &id)
            .await,
    )
}

/// The rule form's fields as typed: what the page shows again after a refusal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleForm {
    pub id: Option<String>,
    pub host: String,
    pub path_prefix: String,
    /// Usernames separated by commas or spaces.
    pub users: String,
    pub role_admin: bool,
    pub role_user: bool,
    pub two_factor: bool,
}

impl RuleForm {
    /// What the server parses (and refuses field by field).
    pub fn input(&self) -> ForwardRuleInput {
        let roles = [(self.role_admin, Role::Admin), (self.role_user, Role::User)]
            .into_iter()
            .filter(|(ticked, _)| *ticked)
            .map(|(_, role)| role.as_str().to_owned())
            .collect();
        ForwardRuleInput {
            host: self.host.clone(),
            path_prefix: Some(self.path_prefix.trim())
                .filter(|path| !path.is_empty())
                .map(str::to_owned),
            roles,
            users: self
                .users
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            two_factor: self.two_factor,
        }
    }

    fn of_rule(rule: &ForwardRuleView) -> RuleForm {
        RuleForm {
            id: Some(rule.id.clone()),
            host: rule.host.clone(),
            path_prefix: rule.path_prefix.clone(),
            users: rule.users.join(", "),
            role_admin: rule.roles.contains(&Role::Admin),
            role_user: rule.roles.contains(&Role::User),
            two_factor: rule.two_factor,
        }
    }

    /// This page with the form filled in as typed (nothing here is secret), and the
    /// field `refused` names marked. Only the field's name: its message stays out of the
    /// URL, where anyone could write one into a link.
    pub fn page_again(&self, refused: &AppError) -> String {
        let mut query = refused_form_query(
            &[
                ("host", &self.host),
                ("path_prefix", &self.path_prefix),
                ("users", &self.users),
            ],
            &[
                ("role_admin", self.role_admin),
                ("role_user", self.role_user),
                ("two_factor", self.two_factor),
            ],
            refused,
        );
        if let Some(id) = &self.id {
            query.push(format!("edit={}", encode_query_value(id)));
        }
        if query.is_empty() {
            return RULES_PAGE.to_owned();
        }
        format!("{RULES_PAGE}?{}", query.join("&"))
    }

    /// The form as a refused post left it (`page_again`), if this visit is one.
    fn from_query() -> Option<RuleForm> {
        let query = use_query_map().read_untracked();
        let host = query.get("host")?;
        let ticked = |name: &str| query.get(name).is_some();
        Some(RuleForm {
            id: query.get("edit"),
            host,
            path_prefix: query.get("path_prefix").unwrap_or_default(),
            users: query.get("users").unwrap_or_default(),
            role_admin: ticked("role_admin"),
            role_user: ticked("role_user"),
            two_factor: ticked("two_factor"),
        })
    }
}

#[component]
pub fn ForwardRulesPage() -> impl IntoView {
    view! { <crate::guard::AdminOnly page=|_viewer: Viewer| view! { <ForwardRules/> }/> }
}

#[component]
fn ForwardRules() -> impl IntoView {
    let rules = Resource::new(|| (), |_| admin_forward_rules());
    view! {
        <section class="card wide" aria-labelledby="rules-title">
            <h1 id="rules-title">"Forward-auth rules"</h1>
            <p>
                "Who may pass a reverse proxy to an app behind Gatehouse. The most specific \
                 rule decides (an exact host before "<code>"*.domain"</code>", then the longest \
                 path); a request no rule covers gets the default set by "
                <code>"GATEHOUSE_FORWARD_AUTH_DEFAULT"</code>"."
            </p>
            <p><a href="/admin">"Back to administration"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rules.await {
                        Ok(rules) => view! { <RulesAndForm rules/> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn who_may_pass(rule: &ForwardRuleView) -> String {
    if rule.roles.is_empty() && rule.users.is_empty() {
        return "anyone signed in".to_owned();
    }
    let roles = rule.roles.iter().map(|role| format!("every {role}"));
    let users = rule.users.iter().cloned();
    roles.chain(users).collect::<Vec<_>>().join(", ")
}

#[component]
fn RulesAndForm(rules: Vec<ForwardRuleView>) -> impl IntoView {
    let remove = ServerAction::<AdminRemoveForwardRule>::new();
    let editing = use_query_map().read_untracked().get("edit");
    let form = RuleForm::from_query()
        .or_else(|| {
            let id = editing.as_deref()?;
            rules
                .iter()
                .find(|rule| rule.id == id)
                .map(RuleForm::of_rule)
        })
        .unwrap_or_else(|| RuleForm {
            path_prefix: "/".to_owned(),
            ..RuleForm::default()
        });
    let empty = rules.is_empty().then(|| {
        view! { <p>"No rules yet: every request gets the default."</p> }
    });
    let table = (!rules.is_empty()).then(move || {
        view! {
            <table class="table" aria-describedby="rules-title">
                <thead>
                    <tr>
                        <th scope="col">"Host"</th>
                        <th scope="col">"Path"</th>
                        <th scope="col">"Who may pass"</th>
                        <th scope="col">"Second factor"</th>
                        <th scope="col">"Changed"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rules.into_iter().map(|rule| {
                        let target = format!("{}{}", rule.host, rule.path_prefix);
                        let edit_link = format!("{RULES_PAGE}?edit={}#rule-form", encode_query_value(&rule.id));
                        let (change_label, remove_label) = (format!("Change: {target}"), format!("Remove: {target}"));
                        let who = who_may_pass(&rule);
                        view! {
                            <tr data-rule=target>
                                <td>{rule.host.clone()}</td>
                                <td>{rule.path_prefix.clone()}</td>
                                <td data-testid="rule-who">{who}</td>
                                <td>{if rule.two_factor { "required" } else { "—" }}</td>
                                <td><crate::time::When unix=rule.updated_at/></td>
                                <td class="actions">
                                    <a class="action-link" href=edit_link aria-label=change_label>"Change"</a>
                                    <ActionForm action=remove>
                                        <input type="hidden" name="id" value=rule.id.clone()/>
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
        {table}
        {empty}
        <RuleEditor form/>
    }
}

#[component]
fn RuleEditor(form: RuleForm) -> impl IntoView {
    let save = ServerAction::<AdminSaveForwardRule>::new();
    let refused_field = use_query_map().read_untracked().get("field");
    let invalid = move |name: &str| refused_field.as_deref() == Some(name);
    let changing = form.id.is_some();
    let title = if changing {
        "Change the rule"
    } else {
        "Add a rule"
    };
    view! {
        <h2 id="rule-form-title">{title}</h2>
        <QueryError/>
        <ActionForm action=save attr:id="rule-form" attr:aria-labelledby="rule-form-title">
            <input type="hidden" name="id" value=form.id.clone().unwrap_or_default()/>
            <RuleField id="rule-host" name="host" label="Host" value=form.host.clone()
                invalid=invalid("host") required=true
                hint="One host (wiki.example.org), or every host under a domain (*.example.org)."/>
            <RuleField id="rule-path" name="path_prefix" label="Path prefix"
                value=form.path_prefix.clone() invalid=invalid("path_prefix")
                hint="Whole path segments: /admin covers /admin and /admin/users, not /administrator."/>
            <RuleField id="rule-users" name="users" label="Users" value=form.users.clone()
                invalid=invalid("users")
                hint="Usernames, separated by commas. With no user and no role ticked, anyone signed in passes."/>
            <fieldset class="choices">
                <legend>"Roles that pass"</legend>
                <Checkbox id="rule-role-admin" name="role_admin" label="Every admin" checked=form.role_admin/>
                <Checkbox id="rule-role-user" name="role_user" label="Every user" checked=form.role_user/>
            </fieldset>
            <Checkbox id="rule-two-factor" name="two_factor" label="Require a second factor (a code or a passkey at sign-in)" checked=form.two_factor/>
            <div class="inline">
                <button type="submit">{if changing { "Save the rule" } else { "Add the rule" }}</button>
                {changing.then(|| view! { <a href=RULES_PAGE>"Cancel"</a> })}
            </div>
        </ActionForm>
    }
}

/// A text field of the rule form, with its hint; `invalid`: the refused post named it.
#[component]
fn RuleField(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    value: String,
    hint: &'static str,
    invalid: bool,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id name=name type="text" required=required value=value
                aria-invalid=invalid.to_string() aria-describedby=hint_id.clone()/>
        </div>
        <p class="hint" id=hint_id>{hint}</p>
    }
}

#[cfg(test)]
mod tests {
    use super::RuleForm;
    use crate::{error::AppError, model::ErrorCode};

    #[test]
    fn a_refused_form_too_long_for_a_url_comes_back_empty() {
        let form = RuleForm {
            host: "a".repeat(5000),
            ..RuleForm::default()
        };
        let refused = AppError::new(ErrorCode::InvalidInput, "not a host");
        assert_eq!(form.page_again(&refused), "/admin/forward-auth");
    }

    #[test]
    fn the_form_sends_ticked_roles_and_each_listed_name_once_split() {
        let form = RuleForm {
            host: "wiki.example.org".to_owned(),
            path_prefix: "  ".to_owned(),
            users: " alice,bob  carol,,".to_owned(),
            role_admin: true,
            ..RuleForm::default()
        };
        let input = form.input();
        assert_eq!(input.path_prefix, None);
        assert_eq!(input.roles, ["admin"]);
        assert_eq!(input.users, ["alice", "bob", "carol"]);
        assert!(!input.two_factor);
    }

    #[test]
    fn a_refused_form_comes_back_with_what_was_typed_encoded() {
        let form = RuleForm {
            id: Some("r 1".to_owned()),
            host: "a&b=c".to_owned(),
            path_prefix: "/x#y".to_owned(),
            users: "alice".to_owned(),
            two_factor: true,
            ..RuleForm::default()
        };
        let refused = AppError {
            field: Some("path_prefix".to_owned()),
            ..AppError::new(ErrorCode::InvalidInput, "must start with /")
        };
        assert_eq!(
            form.page_again(&refused),
            "/admin/forward-auth?host=a%26b%3Dc&path_prefix=%2Fx%23y&users=alice\
             &two_factor=on&field=path_prefix&edit=r%201"
        );
    }
}
