//! Forward-auth rules: which users or roles a reverse proxy may let through to which
//! host and path. Every change moves the revocation log, so each instance's memory of
//! the rules follows it within the revocation bound, as access checks do.

use super::StoreResult;
use app::model::Role;
use async_trait::async_trait;

/// A rule as stored. `host` is lower-case, exact (`wiki.example.org`) or a wildcard for
/// every subdomain (`*.example.org`); `path_prefix` starts with `/`. One rule at most
/// for each host and prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardRule {
    pub id: String,
    pub host: String,
    pub path_prefix: String,
    /// Who may pass: a user named in `users` or holding a role in `roles`; both empty
    /// means any signed-in user.
    pub roles: Vec<Role>,
    /// Username keys (lower-case).
    pub users: Vec<String>,
    /// The session must have signed in with a second factor (or a passkey).
    pub two_factor: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait ForwardRuleStore: Send + Sync + 'static {
    /// Every rule, in no particular order.
    async fn forward_rules(&self) -> StoreResult<Vec<ForwardRule>>;
    /// `Conflict` when a rule for the same host and path prefix exists.
    async fn add_forward_rule(&self, rule: ForwardRule) -> StoreResult<()>;
    /// Replaces the rule with `rule.id` (keeping its `created_at`): `NotFound` when there
    /// is none, `Conflict` when another rule has the new host and prefix.
    async fn replace_forward_rule(&self, rule: ForwardRule) -> StoreResult<()>;
    /// False when there was no such rule.
    async fn remove_forward_rule(&self, id: &str) -> StoreResult<bool>;
}

/// How rules' lists are kept in a text column or field.
pub fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn roles_from_text(text: &str) -> Vec<Role> {
    text.split_whitespace().filter_map(Role::parse).collect()
}
