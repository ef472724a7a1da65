//! Index specifications and the filters and updates that settle races on the server.

use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::{
    Collection, IndexModel,
    bson::{Bson, Document, doc},
    options::IndexOptions,
};
use serde::de::DeserializeOwned;

use super::{REMEMBERED_REFRESH_HASHES, REVOCATION_LOG_RETENTION, documents::date, map_error};
use crate::store::StoreResult;

/// The index every query relies on, created idempotently at start.
pub fn index_specs() -> Vec<(&'static str, IndexModel)> {
    let unique = |name: &str| {
        IndexOptions::builder()
            .unique(true)
            .name(name.to_owned())
            .build()
    };
    let ttl = |name: &str, after: Duration| {
        IndexOptions::builder()
            .expire_after(after)
            .name(name.to_owned())
            .build()
    };
    let plain = |name: &str| IndexOptions::builder().name(name.to_owned()).build();
    let index = |keys: Document, options: IndexOptions| {
        IndexModel::builder().keys(keys).options(options).build()
    };
    vec![
        (
            "users",
            index(doc! {"username_key": 1}, unique("username_key_unique")),
        ),
        (
            "oidc_consents",
            index(doc! {"user_id": 1}, plain("consents_by_user")),
        ),
        (
            "authorization_codes",
            index(doc! {"expires_at": 1}, plain("codes_by_expiry")),
        ),
        (
            "forward_rules",
            index(
                doc! {"host": 1, "path_prefix": 1},
                unique("host_path_prefix_unique"),
            ),
        ),
        (
            "users",
            index(
                doc! {"email_key": 1},
                IndexOptions::builder()
                    .unique(true)
                    .partial_filter_expression(
                        doc! {"email_key": {"$type": "string"}, "email_verified": true},
                    )
                    .name("verified_email_key_unique".to_owned())
                    .build(),
            ),
        ),
        (
            "users",
            // Finding the account an address names: its verified holder first.
            index(
                doc! {"email_key": 1, "email_verified": -1, "created_at": 1},
                plain("users_by_email_key"),
            ),
        ),
        (
            "users",
            index(doc! {"role": 1, "disabled": 1}, plain("active_admins")),
        ),
        (
            "mail_links",
            index(doc! {"user_id": 1, "purpose": 1}, plain("links_by_user")),
        ),
        (
            "mail_links",
            index(doc! {"expires_on": 1}, ttl("links_ttl", Duration::ZERO)),
        ),
        (
            "step_up_tickets",
            index(doc! {"expires_on": 1}, ttl("step_up_ttl", Duration::ZERO)),
        ),
        (
            "sign_in_attempts",
            index(doc! {"expires_on": 1}, ttl("attempts_ttl", Duration::ZERO)),
        ),
        (
            "passkey_ceremonies",
            index(
                doc! {"expires_on": 1},
                ttl("ceremonies_ttl", Duration::ZERO),
            ),
        ),
        (
            "passkeys",
            index(doc! {"user_id": 1}, plain("passkeys_by_user")),
        ),
        (
            "linked_identities",
            index(doc! {"user_id": 1}, plain("identities_by_user")),
        ),
        (
            "sessions",
            index(
                doc! {"current_refresh": 1},
                unique("current_refresh_unique"),
            ),
        ),
        (
            "sessions",
            index(doc! {"previous_refresh": 1}, plain("previous_refresh")),
        ),
        (
            "sessions",
            index(doc! {"user_id": 1}, plain("sessions_by_user")),
        ),
        (
            "sessions",
            index(doc! {"expires_on": 1}, ttl("sessions_ttl", Duration::ZERO)),
        ),
        (
            "superseded_refresh",
            index(
                doc! {"expires_on": 1},
                ttl("superseded_ttl", Duration::ZERO),
            ),
        ),
        (
            "revoked_tokens",
            index(doc! {"expires_on": 1}, ttl("revoked_ttl", Duration::ZERO)),
        ),
        (
            "audit_events",
            index(doc! {"at": 1}, plain("audit_by_time")),
        ),
        (
            "audit_events",
            index(doc! {"kind": 1, "_id": -1}, plain("audit_by_kind")),
        ),
        (
            "signing_keys",
            index(
                doc! {"algorithm": 1, "generation": 1},
                unique("one_key_per_generation"),
            ),
        ),
        (
            "revocation_log",
            index(
                doc! {"at": 1},
                ttl("revocation_log_retention", REVOCATION_LOG_RETENTION),
            ),
        ),
    ]
}

/// The filter that matches a session only while `presented` is its current refresh
/// token: the one condition that lets exactly one rotation win.
pub fn rotation_filter(presented: &str, now: i64) -> Document {
    doc! {
        "current_refresh": presented,
        "revoked_at": Bson::Null,
        "expires_at": {"$gt": now},
    }
}

/// The session a request that raced a rotation belongs to: its current token is the
/// successor derived from `presented`, which it superseded at most `grace_secs` ago
/// (rotation sets `last_used_at`). Once that successor is rotated in turn, nothing
/// matches and the replay is reuse.
pub fn grace_filter(presented: &str, successor: &str, now: i64, grace_secs: i64) -> Document {
    doc! {
        "current_refresh": successor,
        "previous_refresh": presented,
        "revoked_at": Bson::Null,
        "expires_at": {"$gt": now},
        "last_used_at": {"$gte": now - grace_secs},
    }
}

pub fn rotation_update(presented: &str, successor: &str, now: i64, expires_at: i64) -> Document {
    doc! {
        "$set": {
            "current_refresh": successor,
            "last_used_at": now,
            "expires_at": expires_at,
            "expires_on": date(expires_at),
        },
        "$push": {
            "previous_refresh": {"$each": [presented], "$slice": -REMEMBERED_REFRESH_HASHES},
        },
    }
}

/// User input is matched literally: every regex metacharacter is escaped.
pub fn literal_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One page of `filter`'s matches, of which there are `total`. A page past the end asks
/// the server nothing: `skip` would walk every document to get there.
pub(super) async fn page_of<T>(
    collection: &Collection<T>,
    filter: Document,
    sort: Document,
    (offset, limit): (u64, u64),
    total: u64,
) -> StoreResult<Vec<T>>
where
    T: DeserializeOwned + Send + Sync,
{
    if offset >= total {
        return Ok(Vec::new());
    }
    collection
        .find(filter)
        .sort(sort)
        .skip(offset)
        // The driver's limit is signed; a page is at most a hundred rows long anyway.
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(map_error)?
        .try_collect()
        .await
        .map_err(map_error)
}
