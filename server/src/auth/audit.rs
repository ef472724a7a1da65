//! The security event log: every operation that matters writes one event.

use super::{AuthService, ClientInfo, Principal};
use crate::store::{NewAuditEvent, UserRecord};

/// Whom an event concerns.
#[derive(Clone, Copy)]
pub(super) enum AuditActor<'a> {
    User(&'a UserRecord),
    Principal(&'a Principal),
    /// The attempt named no account that exists.
    Nobody,
}

impl AuditActor<'_> {
    pub(super) fn from_user(user: Option<&UserRecord>) -> AuditActor<'_> {
        user.map_or(AuditActor::Nobody, AuditActor::User)
    }
}

impl AuthService {
    /// An audit write that fails is logged, not turned into a failed request: the
    /// action itself already happened.
    pub(super) async fn audit(
        &self,
        kind: &'static str,
        actor: AuditActor<'_>,
        client: &ClientInfo,
        detail: Option<&str>,
    ) {
        let (user_id, username) = match actor {
            AuditActor::User(user) => (Some(user.id.clone()), Some(user.username.clone())),
            AuditActor::Principal(principal) => (
                Some(principal.user_id().to_owned()),
                Some(principal.username.clone()),
            ),
            AuditActor::Nobody => (None, None),
        };
        self.metrics.event(kind);
        let event = NewAuditEvent {
            at: self.now(),
            kind,
            user_id,
            username,
            ip: client.ip_string(),
            user_agent: client.user_agent.clone(),
            detail: detail.map(str::to_owned),
        };
        if let Err(error) = self.store.append_audit(event).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                kind,
                "could not write an audit event"
            );
        }
    }
}
