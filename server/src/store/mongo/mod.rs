//! The MongoDB store, chosen when the database URL is `mongodb://…` or `mongodb+srv://…`.
//!
//! Written against the `mongodb` 3.x driver's documentation; no MongoDB server can be
//! installed on the machines this was built on, so the document mapping, the filters and
//! updates, and the index specifications are unit-tested here, and the storage contract
//! suite runs against a live server whenever `MONGODB_URI` is set.
//!
//! Races are settled by the server, one document at a time:
//! - usernames: a unique index on `username_key` (duplicate key 11000 → `Conflict`);
//! - refresh rotation: ONE `find_one_and_update` whose filter requires the presented hash
//!   to still be the session's current one; only one caller can match it. Every
//!   superseded hash is remembered until the token would have expired
//!   (`superseded_refresh`, written before the rotation that supersedes it), so a replay
//!   is recognised and ends the session however many rotations later;
//! - sign-in attempts: a compare-and-swap on a version field (`attempts`);
//! - audit ids: time-ordered with random low bits, so no shared counter document;
//! - expiry: TTL indexes remove expired sessions and revocations by themselves;
//! - the revocation log: a counter document that brackets each revoking write
//!   (`revocation_log`).

mod access;
mod attempts;
mod audit;
mod clients;
mod codes;
mod consents;
mod documents;
mod factors;
mod forward_rules;
mod identities;
mod keys;
mod lease;
mod links;
mod passkeys;
mod providers;
mod queries;
mod revocation_log;
mod sessions;
mod upkeep;
mod users;

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mongodb::{
    Client, Collection, Database,
    bson::Document,
    error::{ErrorKind, WriteFailure},
    options::ClientOptions,
};

use documents::{
    AuditDoc, CeremonyDoc, FactorDoc, ForwardRuleDoc, KeyDoc, LinkDoc, PasskeyDoc, RevokedDoc,
    StepUpDoc, SupersededDoc,
};
pub use documents::{SessionDoc, UserDoc};
pub use queries::{grace_filter, index_specs, literal_regex, rotation_filter, rotation_update};

use super::{LocalRevocations, StoreError, StoreResult};

const DUPLICATE_KEY: i32 = 11_000;
/// How many superseded refresh hashes a session document keeps beside its current one:
/// only what the rotation grace needs. Reuse detection reads `superseded_refresh`.
const REMEMBERED_REFRESH_HASHES: i32 = 4;
/// Indexes earlier versions made that this one drops.
/// (`email_key_unique` made every address unique, verified or not: a squatter's.)
const RETIRED_INDEXES: &[(&str, &str)] = &[
    ("audit_events", "audit_retention"),
    ("users", "email_key_unique"),
    // One key per algorithm, until keys rotated (one per generation since).
    ("signing_keys", "one_key_per_algorithm"),
];
/// Revocation log entries are for operators; instances read only the position counter.
const REVOCATION_LOG_RETENTION: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_DATABASE: &str = "gatehouse";

pub fn is_mongodb_url(url: &str) -> bool {
    url.starts_with("mongodb://") || url.starts_with("mongodb+srv://")
}

/// Maps the driver's errors by code and kind, never by message text.
fn map_error(error: mongodb::error::Error) -> StoreError {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == DUPLICATE_KEY => {
            StoreError::Conflict("already exists")
        }
        ErrorKind::Command(command) if command.code == DUPLICATE_KEY => {
            StoreError::Conflict("already exists")
        }
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => StoreError::unavailable(error),
        _ => StoreError::unexpected(error),
    }
}

#[derive(Clone)]
pub struct MongoStore {
    database: Database,
    users: Collection<UserDoc>,
    sessions: Collection<SessionDoc>,
    revoked: Collection<RevokedDoc>,
    audit: Collection<AuditDoc>,
    keys: Collection<KeyDoc>,
    forward_rules: Collection<ForwardRuleDoc>,
    clients: Collection<clients::ClientDoc>,
    codes: Collection<codes::CodeDoc>,
    consents: Collection<consents::ConsentDoc>,
    identities: Collection<identities::IdentityDoc>,
    providers: Collection<providers::ProviderDoc>,
    links: Collection<LinkDoc>,
    factors: Collection<FactorDoc>,
    step_ups: Collection<StepUpDoc>,
    attempts: Collection<attempts::AttemptDoc>,
    passkeys: Collection<PasskeyDoc>,
    ceremonies: Collection<CeremonyDoc>,
    superseded: Collection<SupersededDoc>,
    guards: Collection<Document>,
    revocation_log: Collection<Document>,
    audit_ids: Arc<AuditIds>,
    local_revocations: LocalRevocations,
    /// Set once the indexes exist; until then every operation first tries to create them.
    indexing: Arc<Indexing>,
    #[cfg(test)]
    faults: Arc<faults::Faults>,
}

#[derive(Default)]
struct Indexing {
    done: tokio::sync::OnceCell<()>,
    /// While the database is down, callers within a moment of a failed attempt are
    /// answered at once instead of each waiting out the driver's 2-second timeout.
    failed_at: std::sync::Mutex<Option<std::time::Instant>>,
}

const INDEXING_RETRY_AFTER: Duration = Duration::from_secs(1);

impl MongoStore {
    /// Connects with short timeouts (a down database answers 503 within ~2 s and the
    /// driver reconnects by itself) and creates the indexes. A database that cannot be
    /// reached is no error here: the store is returned all the same, and every operation
    /// answers `Unavailable` until the indexes could be created — the unique ones are what
    /// keep usernames and refresh tokens single, so nothing is written before them.
    pub async fn connect(url: &str, database_override: Option<&str>) -> StoreResult<MongoStore> {
        let store = Self::connect_lazily(url, database_override).await?;
        match store.indexed().await {
            Err(StoreError::Unavailable(error)) => {
                tracing::warn!(%error, "MongoDB is unreachable: its indexes will be created once it answers");
                Ok(store)
            }
            outcome => outcome.map(|()| store),
        }
    }

    /// A client that has not asked the database anything yet: the indexes are created by
    /// the first operation (dropping a test database needs none).
    pub async fn connect_lazily(
        url: &str,
        database_override: Option<&str>,
    ) -> StoreResult<MongoStore> {
        let mut options = ClientOptions::parse(url).await.map_err(map_error)?;
        options.app_name = Some("gatehouse".to_owned());
        options.server_selection_timeout = Some(Duration::from_secs(2));
        options.connect_timeout = Some(Duration::from_secs(2));
        options.retry_writes = Some(true);
        let name = database_override
            .map(str::to_owned)
            .or_else(|| options.default_database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let client = Client::with_options(options).map_err(map_error)?;
        let database = client.database(&name);
        let store = MongoStore {
            users: database.collection("users"),
            sessions: database.collection("sessions"),
            revoked: database.collection("revoked_tokens"),
            audit: database.collection("audit_events"),
            keys: database.collection("signing_keys"),
            forward_rules: database.collection("forward_rules"),
            clients: database.collection("oidc_clients"),
            codes: database.collection("authorization_codes"),
            consents: database.collection("oidc_consents"),
            identities: database.collection("linked_identities"),
            providers: database.collection("upstream_providers"),
            links: database.collection("mail_links"),
            factors: database.collection("second_factors"),
            step_ups: database.collection("step_up_tickets"),
            attempts: database.collection("sign_in_attempts"),
            passkeys: database.collection("passkeys"),
            ceremonies: database.collection("passkey_ceremonies"),
            superseded: database.collection("superseded_refresh"),
            guards: database.collection("guards"),
            revocation_log: database.collection("revocation_log"),
            audit_ids: Arc::new(AuditIds::default()),
            local_revocations: LocalRevocations::default(),
            indexing: Arc::default(),
            #[cfg(test)]
            faults: Arc::default(),
            database,
        };
        Ok(store)
    }

    /// Creates the indexes the first time the database answers (once, however many
    /// callers wait); afterwards a flag read.
    pub(super) async fn indexed(&self) -> StoreResult<()> {
        if self.indexing.done.initialized() {
            return Ok(());
        }
        let failed_recently = || {
            self.indexing
                .failed_at
                .lock()
                .ok()
                .and_then(|failed_at| *failed_at)
                .is_some_and(|at| at.elapsed() < INDEXING_RETRY_AFTER)
        };
        if failed_recently() {
            return Err(StoreError::unavailable(
                "MongoDB did not answer a moment ago; its indexes are not created yet",
            ));
        }
        let outcome = self
            .indexing
            .done
            .get_or_try_init(|| self.create_indexes())
            .await
            .copied();
        if outcome.is_err()
            && let Ok(mut failed_at) = self.indexing.failed_at.lock()
        {
            *failed_at = Some(std::time::Instant::now());
        }
        outcome
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        // Databases made before the audit retention became a setting have a 180-day TTL
        // index on the audit log, which would cut any longer retention short.
        for (collection, index) in RETIRED_INDEXES {
            if let Err(error) = self
                .database
                .collection::<Document>(collection)
                .drop_index(*index)
                .await
            {
                tracing::debug!(%error, index, "no retired index to drop");
            }
        }
        for (collection, index) in index_specs() {
            self.database
                .collection::<Document>(collection)
                .create_index(index)
                .await
                .map_err(map_error)?;
        }
        Ok(())
    }

    /// Drops the whole database (tests run each in a fresh one).
    /// The same database as another server process would hold it: its own count of
    /// revoking writes, so its memory learns of this one's only from the log.
    #[cfg(test)]
    pub fn as_another_instance(&self) -> MongoStore {
        MongoStore {
            local_revocations: LocalRevocations::default(),
            faults: Arc::default(),
            ..self.clone()
        }
    }

    /// Makes the next `times` passes through `step` fail as a lost connection would.
    #[cfg(test)]
    pub fn fail(&self, step: &'static str, times: usize) {
        self.faults.arm(step, times);
    }

    /// A step between two operations of one write, where a test can make it fail (the
    /// failures a server without transactions can leave behind are tested this way).
    pub(super) fn fault(&self, step: &'static str) -> StoreResult<()> {
        #[cfg(test)]
        if self.faults.take(step) {
            return Err(StoreError::unavailable(format!("injected failure: {step}")));
        }
        let _ = step;
        Ok(())
    }

    pub async fn drop_database(&self) -> StoreResult<()> {
        self.database.drop().await.map_err(map_error)
    }
}

/// Audit event ids: the wall clock's milliseconds above 20 random bits. Ids of several
/// instances sort by when they were written, as an auto-increment would, without a
/// shared counter document (a second round trip and one hot document per event); within
/// one process they strictly increase. Two instances drawing the same id in the same
/// millisecond (about one in a million) is a duplicate key, and the insert is retried.
#[derive(Default)]
struct AuditIds {
    last: AtomicI64,
}

const AUDIT_RANDOM_BITS: u32 = 20;

impl AuditIds {
    fn next(&self) -> i64 {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX >> AUDIT_RANDOM_BITS)
            });
        let mut random = [0u8; 4];
        // Without randomness the ids are still ordered; only cross-instance ties grow likelier.
        let _ = getrandom::fill(&mut random);
        let low = i64::from(u32::from_le_bytes(random) & ((1 << AUDIT_RANDOM_BITS) - 1));
        let candidate = (millis << AUDIT_RANDOM_BITS) | low;
        let previous = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(candidate.max(last + 1))
            })
            .unwrap_or_else(|last| last);
        candidate.max(previous + 1)
    }
}

#[cfg(test)]
mod faults {
    use std::{collections::HashMap, sync::Mutex};

    #[derive(Default)]
    pub struct Faults {
        armed: Mutex<HashMap<&'static str, usize>>,
    }

    impl Faults {
        pub fn arm(&self, step: &'static str, times: usize) {
            self.armed.lock().unwrap().insert(step, times);
        }

        pub fn take(&self, step: &str) -> bool {
            let mut armed = self.armed.lock().unwrap();
            match armed.get_mut(step) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    true
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use app::model::Role;
    use mongodb::bson::{self, Bson, doc};

    use super::{documents::date, *};

    #[test]
    fn a_user_round_trips_through_bson() {
        let doc = UserDoc {
            id: "u1".into(),
            username: "Ada".into(),
            username_key: "ada".into(),
            email: Some("Ada@example.org".into()),
            email_key: Some("ada@example.org".into()),
            email_verified: true,
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            role: Role::Admin,
            disabled: false,
            created_at: 1_800_000_000,
            ways_off: "password,email_code".into(),
        };
        let bson = bson::to_document(&doc).unwrap();
        assert_eq!(bson.get_str("_id").unwrap(), "u1");
        assert_eq!(bson.get_str("role").unwrap(), "admin");
        assert_eq!(bson.get_i64("created_at").unwrap(), 1_800_000_000);
        let back: UserDoc = bson::from_document(bson).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn a_user_without_an_address_or_a_password_stores_neither() {
        let doc = UserDoc {
            id: "u2".into(),
            username: "Bob".into(),
            username_key: "bob".into(),
            email: None,
            email_key: None,
            email_verified: false,
            password_hash: None,
            role: Role::User,
            disabled: false,
            created_at: 1_800_000_000,
            ways_off: String::new(),
        };
        let bson = bson::to_document(&doc).unwrap();
        assert!(!bson.contains_key("email_key"));
        assert!(!bson.contains_key("password_hash"));
        assert!(!bson.contains_key("ways_off"));
        assert_eq!(bson::from_document::<UserDoc>(bson.clone()).unwrap(), doc);
        let (_, email_index) = index_specs()
            .into_iter()
            .find(|(_, index)| {
                index.options.as_ref().and_then(|o| o.name.as_deref())
                    == Some("verified_email_key_unique")
            })
            .unwrap();
        let options = email_index.options.unwrap();
        assert_eq!(options.unique, Some(true));
        assert_eq!(
            options.partial_filter_expression,
            Some(doc! {"email_key": {"$type": "string"}, "email_verified": true})
        );
    }

    #[test]
    fn session_expiry_is_stored_as_a_bson_date_for_the_ttl_index() {
        let doc = SessionDoc {
            id: "s1".into(),
            user_id: "u1".into(),
            created_at: 10,
            last_used_at: 10,
            expires_at: 1_800_000_000,
            expires_on: date(1_800_000_000),
            revoked_at: None,
            user_agent: None,
            ip: None,
            current_refresh: "abc".into(),
            previous_refresh: vec![],
            authenticated_at: None,
            second_factor: false,
            sign_in_method: None,
            client_id: None,
            scope: None,
        };
        let bson = bson::to_document(&doc).unwrap();
        assert_eq!(
            bson.get_datetime("expires_on").unwrap().timestamp_millis(),
            1_800_000_000_000
        );
        assert_eq!(bson.get("revoked_at"), Some(&Bson::Null));
        let back: SessionDoc = bson::from_document(bson).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn a_racing_replay_matches_only_while_the_same_successor_is_current() {
        let filter = grace_filter("old-hash", "next-hash", 1_000, 5);
        assert_eq!(filter.get_str("current_refresh").unwrap(), "next-hash");
        assert_eq!(filter.get_str("previous_refresh").unwrap(), "old-hash");
        assert_eq!(filter.get("revoked_at"), Some(&Bson::Null));
        let recent = filter.get_document("last_used_at").unwrap();
        assert_eq!(recent.get_i64("$gte").unwrap(), 995);
    }

    #[test]
    fn rotation_matches_only_the_current_live_token() {
        let filter = rotation_filter("hash-1", 100);
        assert_eq!(filter.get_str("current_refresh").unwrap(), "hash-1");
        assert_eq!(filter.get("revoked_at"), Some(&Bson::Null));
        assert_eq!(
            filter.get_document("expires_at").unwrap(),
            &doc! {"$gt": 100_i64}
        );
    }

    #[test]
    fn rotation_swaps_the_hash_and_remembers_the_old_one_boundedly() {
        let update = rotation_update("old", "new", 100, 700);
        let set = update.get_document("$set").unwrap();
        assert_eq!(set.get_str("current_refresh").unwrap(), "new");
        assert_eq!(set.get_i64("expires_at").unwrap(), 700);
        assert_eq!(
            set.get_datetime("expires_on").unwrap().timestamp_millis(),
            700_000
        );
        let push = update
            .get_document("$push")
            .unwrap()
            .get_document("previous_refresh")
            .unwrap();
        assert_eq!(
            push.get_array("$each").unwrap(),
            &vec![Bson::String("old".into())]
        );
        assert_eq!(push.get_i32("$slice").unwrap(), -REMEMBERED_REFRESH_HASHES);
    }

    #[test]
    fn an_operator_object_in_input_stays_a_plain_string_value() {
        // Input only ever reaches a filter as a typed value: "{$ne: null}" is a string.
        let filter = rotation_filter("{\"$ne\": null}", 0);
        assert!(matches!(
            filter.get("current_refresh"),
            Some(Bson::String(_))
        ));
    }

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(literal_regex("a.b"), "a\\.b");
        assert_eq!(literal_regex(".*"), "\\.\\*");
        assert_eq!(literal_regex("(x|y)"), "\\(x\\|y\\)");
        assert_eq!(literal_regex("ada_99"), "ada_99");
    }

    #[test]
    fn indexes_enforce_uniqueness_and_expiry() {
        let specs = index_specs();
        let find = |collection: &str, key: &str| {
            specs
                .iter()
                .find(|(c, index)| *c == collection && index.keys.contains_key(key))
                .map(|(_, index)| index.options.clone().unwrap_or_default())
                .unwrap_or_else(|| panic!("no index on {collection}.{key}"))
        };
        assert_eq!(find("users", "username_key").unique, Some(true));
        assert_eq!(find("sessions", "current_refresh").unique, Some(true));
        assert_eq!(find("signing_keys", "generation").unique, Some(true));
        assert_eq!(
            find("sessions", "expires_on").expire_after,
            Some(Duration::ZERO)
        );
        assert_eq!(
            find("revoked_tokens", "expires_on").expire_after,
            Some(Duration::ZERO)
        );
        assert_eq!(find("audit_events", "at").expire_after, None);
        assert_eq!(
            find("sign_in_attempts", "expires_on").expire_after,
            Some(Duration::ZERO)
        );
        assert!(
            specs
                .iter()
                .any(|(c, i)| *c == "sessions" && i.keys.contains_key("previous_refresh"))
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_within_seconds_not_a_hang_nor_a_failed_start() {
        // Nothing listens on port 9 here: the driver's server selection gives up after the
        // 2-second timeout, and the error maps to Unavailable (a 503 for the API).
        use crate::store::{Upkeep, UserStore};
        let started = std::time::Instant::now();
        let store = MongoStore::connect("mongodb://127.0.0.1:9/gatehouse", None)
            .await
            .expect("a server starts while its database is down");
        let outcome = store.user_by_id("u1").await;
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{:?}",
            outcome.err()
        );
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    #[test]
    fn audit_ids_increase_within_a_process_and_follow_the_clock() {
        let ids = AuditIds::default();
        let first = ids.next();
        let later: Vec<i64> = (0..10_000).map(|_| ids.next()).collect();
        assert!(later.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(first < later[0]);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((first >> AUDIT_RANDOM_BITS) <= millis);
        assert!((first >> AUDIT_RANDOM_BITS) > millis - 60_000);
    }

    #[test]
    fn mongodb_urls_are_recognised() {
        assert!(is_mongodb_url("mongodb://localhost:27017/gatehouse"));
        assert!(is_mongodb_url("mongodb+srv://cluster0.example.net/"));
        assert!(!is_mongodb_url("sqlite://data"));
        assert!(!is_mongodb_url("./data"));
    }
}
