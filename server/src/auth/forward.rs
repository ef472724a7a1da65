//! The forward-auth gate: a reverse proxy asks, for each request to an app that has no
//! sign-in of its own, whether to let it through. The answer comes from the same access
//! check as a protected route (remembered, revocation-bounded) and from the rules, which
//! each instance remembers the same way: read again whenever the revocation log moves.

use std::sync::{Arc, RwLock};

use app::model::{ForwardRuleInput, ForwardRuleView, Role};

use super::{
    AdminPrincipal, AuthError, AuthResult, AuthService, ClientInfo, Principal, audit::AuditActor,
    service::new_id,
};
use crate::{
    config::ForwardDefault,
    domain::{
        FieldError, Username,
        forward::{HostPattern, OriginalRequest, PathPrefix},
    },
    store::{ForwardRule, StoreError},
};

/// What the proxy is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardVerdict {
    /// Let it through, telling the app who it is.
    Allow(ForwardIdentity),
    /// Send the browser to sign in (again, with a second factor, when `second_factor`).
    SignIn { second_factor: bool },
    /// Signed in, and not allowed there.
    Forbid,
}

/// Who passed, as the app behind the proxy is told in headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardIdentity {
    pub username: String,
    /// Only a verified address: an unverified one may not be the user's.
    pub email: Option<String>,
    /// The user's roles, comma-separated.
    pub groups: String,
}

/// A rule ready to match.
#[derive(Clone, Debug)]
struct Rule {
    host: HostPattern,
    prefix: PathPrefix,
    roles: Vec<Role>,
    users: Vec<String>,
    two_factor: bool,
}

impl Rule {
    fn from_stored(stored: &ForwardRule) -> Option<Rule> {
        Some(Rule {
            host: HostPattern::parse(&stored.host).ok()?,
            prefix: PathPrefix::parse(&stored.path_prefix).ok()?,
            roles: stored.roles.clone(),
            users: stored.users.clone(),
            two_factor: stored.two_factor,
        })
    }

    /// `user_key`: the caller's username key, as the rule's `users` hold them.
    fn admits(&self, principal: &Principal, user_key: &str) -> bool {
        (self.roles.is_empty() && self.users.is_empty())
            || self.roles.contains(&principal.role)
            || self.users.iter().any(|user| user == user_key)
    }
}

/// The rules as this instance last read them, and the access memory's generation they
/// were read in: valid while that generation holds.
#[derive(Default)]
pub(super) struct RememberedRules(RwLock<Option<(u64, Arc<[Rule]>)>>);

/// A rule with its host and path checked, ready to store.
struct ParsedRule {
    host: HostPattern,
    prefix: PathPrefix,
    roles: Vec<Role>,
    users: Vec<String>,
    two_factor: bool,
}

impl TryFrom<&ForwardRuleInput> for ParsedRule {
    type Error = AuthError;

    fn try_from(input: &ForwardRuleInput) -> AuthResult<ParsedRule> {
        const MAX_NAMES: usize = 256;
        let host = HostPattern::parse(&input.host).map_err(AuthError::Invalid)?;
        let prefix = PathPrefix::parse(input.path_prefix.as_deref().unwrap_or("/"))
            .map_err(AuthError::Invalid)?;
        if input.roles.len() > MAX_NAMES || input.users.len() > MAX_NAMES {
            return Err(AuthError::Invalid(FieldError::new(
                "users",
                format!("at most {MAX_NAMES} users and {MAX_NAMES} roles"),
            )));
        }
        let mut roles = Vec::new();
        for role in &input.roles {
            let role = Role::parse(role.trim()).ok_or_else(|| {
                AuthError::Invalid(FieldError::new("roles", "must be `user` or `admin`"))
            })?;
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        let mut users = Vec::new();
        for user in &input.users {
            let key = Username::parse(user)
                .map_err(|error| AuthError::Invalid(FieldError::new("users", error.message)))?
                .key()
                .to_owned();
            if !users.contains(&key) {
                users.push(key);
            }
        }
        Ok(ParsedRule {
            host,
            prefix,
            roles,
            users,
            two_factor: input.two_factor,
        })
    }
}

fn view_of_rule(rule: &ForwardRule) -> ForwardRuleView {
    ForwardRuleView {
        id: rule.id.clone(),
        host: rule.host.clone(),
        path_prefix: rule.path_prefix.clone(),
        roles: rule.roles.clone(),
        users: rule.users.clone(),
        two_factor: rule.two_factor,
        created_at: rule.created_at,
        updated_at: rule.updated_at,
    }
}

fn describe(rule: &ForwardRule) -> String {
    format!(
        "{}{} roles=[{}] users=[{}] two_factor={}",
        rule.host,
        rule.path_prefix,
        crate::store::forward_rules::roles_text(&rule.roles),
        rule.users.join(" "),
        rule.two_factor
    )
}

impl AuthService {
    /// The proxy's question: may the holder of `access_token` (if any) open `request`?
    /// Costs what a protected route costs: no store read while memory holds.
    pub async fn forward_check(
        &self,
        access_token: Option<&str>,
        request: &OriginalRequest,
    ) -> AuthResult<ForwardVerdict> {
        let principal = match self.authenticate(access_token).await {
            Ok(principal) => Some(principal),
            Err(AuthError::InvalidToken(_)) => None,
            Err(other) => return Err(other),
        };
        let Some(principal) = principal else {
            return Ok(ForwardVerdict::SignIn {
                second_factor: false,
            });
        };
        let rules = self.current_forward_rules().await?;
        let deciding = rules
            .iter()
            .filter_map(|rule| {
                let host = rule.host.specificity(&request.host)?;
                let path = rule.prefix.covers(&request.path)?;
                Some(((host, path), rule))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map(|(_, rule)| rule);
        let user_key = Username::key_of(&principal.username);
        let allowed = match deciding {
            Some(rule) if !rule.admits(&principal, &user_key) => {
                return Ok(ForwardVerdict::Forbid);
            }
            Some(rule) if rule.two_factor && !principal.second_factor => {
                return Ok(ForwardVerdict::SignIn {
                    second_factor: true,
                });
            }
            Some(_) => true,
            None => self.forward_default == ForwardDefault::SignedIn,
        };
        if !allowed {
            return Ok(ForwardVerdict::Forbid);
        }
        Ok(ForwardVerdict::Allow(ForwardIdentity {
            email: principal
                .user
                .email
                .clone()
                .filter(|_| principal.user.email_verified),
            groups: principal.role.as_str().to_owned(),
            username: principal.username,
        }))
    }

    /// Gatehouse's sign-in page, coming back to `return_to` afterwards (the page sends
    /// the browser there only if the host is one it may return to).
    pub fn sign_in_url(&self, return_to: &str, second_factor: bool) -> String {
        let mut url = format!(
            "{}/login?rd={}",
            self.links.public_url.trim_end_matches('/'),
            app::forms::encode_query_value(return_to)
        );
        if second_factor {
            url.push_str("&second_factor=1");
        }
        url
    }

    /// The rules, from memory while the access memory's generation holds (no revoking
    /// write here, and no move of the revocation log, since they were read).
    async fn current_forward_rules(&self) -> AuthResult<Arc<[Rule]>> {
        let generation = self.access.memory_generation();
        if let Some(generation) = generation
            && let Ok(remembered) = self.forward_rules.0.read()
            && let Some((read_in, rules)) = remembered.as_ref()
            && *read_in == generation
        {
            return Ok(rules.clone());
        }
        let stored = self.store.forward_rules().await?;
        let rules: Arc<[Rule]> = stored
            .iter()
            .filter_map(|stored| {
                let rule = Rule::from_stored(stored);
                if rule.is_none() {
                    tracing::warn!(id = %stored.id, "a stored forward-auth rule does not parse: ignored");
                }
                rule
            })
            .collect();
        if let Some(generation) = generation
            && let Ok(mut remembered) = self.forward_rules.0.write()
        {
            *remembered = Some((generation, rules.clone()));
        }
        Ok(rules)
    }

    pub async fn list_forward_rules(
        &self,
        _admin: &AdminPrincipal,
    ) -> AuthResult<Vec<ForwardRuleView>> {
        let mut rules = self.store.forward_rules().await?;
        rules.sort_by(|a, b| (&a.host, &a.path_prefix).cmp(&(&b.host, &b.path_prefix)));
        Ok(rules.iter().map(view_of_rule).collect())
    }

    #[tracing::instrument(name = "add forward rule", skip_all, fields(by = %admin.principal().user_id()))]
    pub async fn add_forward_rule(
        &self,
        admin: &AdminPrincipal,
        input: &ForwardRuleInput,
        client: &ClientInfo,
    ) -> AuthResult<ForwardRuleView> {
        let rule = self.insert_forward_rule(input).await?;
        self.audit(
            "forward_rule_added",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&describe(&rule)),
        )
        .await;
        Ok(view_of_rule(&rule))
    }

    #[tracing::instrument(name = "change forward rule", skip_all, fields(%id, by = %admin.principal().user_id()))]
    pub async fn change_forward_rule(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        input: &ForwardRuleInput,
        client: &ClientInfo,
    ) -> AuthResult<ForwardRuleView> {
        let parsed = ParsedRule::try_from(input)?;
        let now = self.now();
        let existing = self
            .store
            .forward_rules()
            .await?
            .into_iter()
            .find(|rule| rule.id == id)
            .ok_or(AuthError::NotFound("rule"))?;
        let rule = ForwardRule {
            id: existing.id,
            host: parsed.host.as_str().to_owned(),
            path_prefix: parsed.prefix.as_str().to_owned(),
            roles: parsed.roles,
            users: parsed.users,
            two_factor: parsed.two_factor,
            created_at: existing.created_at,
            updated_at: now,
        };
        self.store
            .replace_forward_rule(rule.clone())
            .await
            .map_err(rule_error)?;
        self.audit(
            "forward_rule_changed",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&describe(&rule)),
        )
        .await;
        Ok(view_of_rule(&rule))
    }

    #[tracing::instrument(name = "remove forward rule", skip_all, fields(%id, by = %admin.principal().user_id()))]
    pub async fn remove_forward_rule(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        if !self.store.remove_forward_rule(id).await? {
            return Err(AuthError::NotFound("rule"));
        }
        self.audit(
            "forward_rule_removed",
            AuditActor::Principal(admin.principal()),
            client,
            Some(id),
        )
        .await;
        Ok(())
    }

    /// The rules file's rules, each added unless a rule for its host and path exists (so
    /// an admin's later change is not undone by the next start). Returns how many.
    pub async fn seed_forward_rules(&self, inputs: &[ForwardRuleInput]) -> AuthResult<usize> {
        // All or nothing: a mistake on line 30 must not leave the first rules applied.
        for input in inputs {
            ParsedRule::try_from(input)?;
        }
        let mut added = 0;
        for input in inputs {
            match self.insert_forward_rule(input).await {
                Ok(rule) => {
                    added += 1;
                    self.audit(
                        "forward_rule_added",
                        AuditActor::Nobody,
                        &ClientInfo::default(),
                        Some(&format!("from the rules file: {}", describe(&rule))),
                    )
                    .await;
                }
                Err(AuthError::RuleExists) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(added)
    }

    async fn insert_forward_rule(&self, input: &ForwardRuleInput) -> AuthResult<ForwardRule> {
        let parsed = ParsedRule::try_from(input)?;
        let now = self.now();
        let rule = ForwardRule {
            id: new_id(),
            host: parsed.host.as_str().to_owned(),
            path_prefix: parsed.prefix.as_str().to_owned(),
            roles: parsed.roles,
            users: parsed.users,
            two_factor: parsed.two_factor,
            created_at: now,
            updated_at: now,
        };
        self.store
            .add_forward_rule(rule.clone())
            .await
            .map_err(rule_error)?;
        Ok(rule)
    }
}

fn rule_error(error: StoreError) -> AuthError {
    match error {
        StoreError::Conflict(_) => AuthError::RuleExists,
        StoreError::NotFound => AuthError::NotFound("rule"),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(host: &str, path: &str) -> ForwardRuleInput {
        ForwardRuleInput {
            host: host.into(),
            path_prefix: Some(path.into()),
            roles: vec!["admin".into()],
            users: vec![" Ada ".into(), "ada".into()],
            two_factor: false,
        }
    }

    #[test]
    fn rule_input_is_parsed_into_a_host_a_prefix_roles_and_user_keys() {
        let parsed = ParsedRule::try_from(&input("*.Example.org", "/admin/")).unwrap();
        assert_eq!(parsed.host.as_str(), "*.example.org");
        assert_eq!(parsed.prefix.as_str(), "/admin");
        assert_eq!(parsed.roles, vec![Role::Admin]);
        assert_eq!(parsed.users, vec!["ada".to_owned()]);
        let refused = |input: ForwardRuleInput| match ParsedRule::try_from(&input) {
            Err(AuthError::Invalid(error)) => error.field,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(refused(input("evil.org/x", "/")), "host");
        assert_eq!(refused(input("a.org", "x")), "path_prefix");
        assert_eq!(
            refused(ForwardRuleInput {
                roles: vec!["root".into()],
                ..input("a.org", "/")
            }),
            "roles"
        );
        assert_eq!(
            refused(ForwardRuleInput {
                users: vec!["a b".into()],
                ..input("a.org", "/")
            }),
            "users"
        );
    }
}
