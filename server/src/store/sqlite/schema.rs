//! The embedded store's schema and its migrations.

use rusqlite::{Connection, TransactionBehavior};

use super::rows::map_error;
use crate::store::{StoreError, StoreResult};

/// Each entry moves the schema one version forward; `PRAGMA user_version` says where a
/// database stands. Never edit an entry once released: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT,
    ip           TEXT
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE TABLE refresh_tokens (
    hash          TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    superseded_at INTEGER,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens(expires_at);
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    username   TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_by_time ON audit_events(at);
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL UNIQUE,
    private_der BLOB NOT NULL,
    public_raw  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE users ADD COLUMN email_key TEXT;
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
-- Addresses were not unique before: the earliest account keeps its address as a key, a
-- later one with the same address keeps it for display only until it is set again.
UPDATE users SET email_key = lower(trim(email))
WHERE email IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM users AS earlier
    WHERE lower(trim(earlier.email)) = lower(trim(users.email)) AND earlier.rowid < users.rowid
);
CREATE UNIQUE INDEX users_by_email_key ON users(email_key);
CREATE TABLE mail_links (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX mail_links_by_user ON mail_links(user_id, purpose);
CREATE INDEX mail_links_by_expiry ON mail_links(expires_at);
"#,
    r#"
-- AUTOINCREMENT: a position is never handed out twice, even after the newest is purged.
CREATE TABLE revocation_log (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE totp_factors (
    user_id               TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed_secret         TEXT NOT NULL,
    sealed_recovery_codes TEXT,
    confirmed_at          INTEGER,
    last_used_step        INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash    TEXT NOT NULL,
    PRIMARY KEY (user_id, hash)
) WITHOUT ROWID;
CREATE TABLE step_up_tickets (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX step_up_tickets_by_expiry ON step_up_tickets(expires_at);
"#,
    r#"
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_by_user ON passkeys(user_id);
CREATE TABLE passkey_ceremonies (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in', 'step_up')),
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies(expires_at);
"#,
    r#"
CREATE TABLE sign_in_attempts (
    key           TEXT PRIMARY KEY,
    run           INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    expires_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX sign_in_attempts_by_expiry ON sign_in_attempts(expires_at);
ALTER TABLE step_up_tickets ADD COLUMN wrong_codes INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
"#,
    // An address is unique among the accounts that verified it: an unverified claim
    // blocks nobody (its owner proves it by the link, whoever typed it first).
    r#"
DROP INDEX users_by_email_key;
CREATE INDEX users_by_email_key ON users(email_key);
CREATE UNIQUE INDEX users_by_verified_email_key ON users(email_key) WHERE email_verified = 1;
"#,
    r#"
CREATE TABLE forward_rules (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    path_prefix TEXT NOT NULL,
    roles       TEXT NOT NULL,
    users       TEXT NOT NULL,
    two_factor  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (host, path_prefix)
) WITHOUT ROWID;
ALTER TABLE sessions ADD COLUMN second_factor INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
CREATE TABLE oidc_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    pre_consented             INTEGER NOT NULL,
    disabled                  INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    session_id     TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    second_factor  INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    redeemed       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX authorization_codes_by_expiry ON authorization_codes(expires_at);
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
CREATE TABLE oidc_consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
"#,
    // Signing keys rotate: several generations of one algorithm; a client picks the
    // algorithm of its ID tokens.
    r#"
CREATE TABLE signing_keys_by_generation (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    private_der BLOB NOT NULL,
    public_raw  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (algorithm, generation)
);
INSERT INTO signing_keys_by_generation (kid, algorithm, generation, private_der, public_raw, created_at)
    SELECT kid, algorithm, 0, private_der, public_raw, created_at FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_by_generation RENAME TO signing_keys;
ALTER TABLE oidc_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';
"#,
    // How a session signed in (an ID token's amr and acr); NULL in rows from before.
    r#"
ALTER TABLE sessions ADD COLUMN sign_in_method TEXT;
ALTER TABLE authorization_codes ADD COLUMN sign_in_method TEXT;
"#,
    // Sign-in codes by email: a third purpose of mailed secrets (a CHECK constraint
    // changes only with its table), and what a step-up ticket's first step was (NULL:
    // a password).
    r#"
CREATE TABLE mail_links_with_codes (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL
               CHECK (purpose IN ('verify_email', 'reset_password', 'sign_in_code')),
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO mail_links_with_codes SELECT hash, user_id, purpose, email, created_at, expires_at
    FROM mail_links;
DROP TABLE mail_links;
ALTER TABLE mail_links_with_codes RENAME TO mail_links;
CREATE INDEX mail_links_by_user ON mail_links(user_id, purpose);
CREATE INDEX mail_links_by_expiry ON mail_links(expires_at);
ALTER TABLE step_up_tickets ADD COLUMN first_step TEXT;
"#,
    // Sign-up with a passkey: a fourth ceremony purpose (the CHECK changes only with its
    // table; nothing references ceremonies, and open ones move across).
    r#"
CREATE TABLE passkey_ceremonies_with_sign_up (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in', 'step_up', 'sign_up')),
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO passkey_ceremonies_with_sign_up
    SELECT hash, user_id, purpose, state, created_at, expires_at FROM passkey_ceremonies;
DROP TABLE passkey_ceremonies;
ALTER TABLE passkey_ceremonies_with_sign_up RENAME TO passkey_ceremonies;
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies(expires_at);
"#,
    // The ways in an account's owner turned off (comma-separated names, "" for none).
    "ALTER TABLE users ADD COLUMN ways_off TEXT NOT NULL DEFAULT '';",
    // "Confirm it is you" with a passkey: a fifth ceremony purpose, as the fourth came.
    r#"
CREATE TABLE passkey_ceremonies_with_reauthenticate (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL
               CHECK (purpose IN ('register', 'sign_in', 'step_up', 'sign_up', 'reauthenticate')),
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO passkey_ceremonies_with_reauthenticate
    SELECT hash, user_id, purpose, state, created_at, expires_at FROM passkey_ceremonies;
DROP TABLE passkey_ceremonies;
ALTER TABLE passkey_ceremonies_with_reauthenticate RENAME TO passkey_ceremonies;
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies(expires_at);
"#,
    // Accounts of other providers (sign in with another provider): a provider's subject
    // belongs to one account.
    r#"
CREATE TABLE linked_identities (
    provider     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email        TEXT,
    linked_at    INTEGER NOT NULL,
    last_used_at INTEGER,
    PRIMARY KEY (provider, subject)
) WITHOUT ROWID;
CREATE INDEX linked_identities_by_user ON linked_identities(user_id);
"#,
    // Providers admins added from the console or REST; the client secret only sealed.
    r#"
CREATE TABLE upstream_providers (
    id                    TEXT PRIMARY KEY,
    kind                  TEXT NOT NULL,
    name                  TEXT NOT NULL,
    issuer                TEXT NOT NULL,
    api_url               TEXT,
    client_id             TEXT NOT NULL,
    sealed_client_secret  TEXT,
    sign_up               INTEGER NOT NULL,
    trust_amr             INTEGER NOT NULL,
    link_verified_email   INTEGER NOT NULL,
    disabled              INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) WITHOUT ROWID;
"#,
];

pub(super) fn migrate(connection: &mut Connection) -> StoreResult<()> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_error)?;
    let version = transaction
        .query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map_err(map_error)?
        .max(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::unexpected(format!(
            "the database schema (version {version}) is newer than this server knows"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        transaction.execute_batch(migration).map_err(map_error)?;
        transaction
            .pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(map_error)?;
        tracing::info!(version = index + 1, "migrated the embedded store");
    }
    transaction.commit().map_err(map_error)
}
