//! The signing keys an instance holds, and their rotation.
//!
//! Keys live in the store, so every instance signs and verifies alike. Each algorithm
//! has a line of generations: the newest signs; an older one still verifies and stays in
//! the JWKS until every token it signed has expired, then upkeep removes it. A rotation
//! (`gatehouse keys rotate`, or an admin's `POST /auth/admin/keys/rotate`) adds a
//! generation with a revoking write, so the revocation log moves: every instance reads
//! its keys again when its access memory's generation moves (a poll of the log, within
//! the revocation bound), and at most every second while it has no memory to follow.
//! Only the list of key ids is read then; keys are rebuilt only when it changed.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use app::model::KeysRotated;
use serde_json::Value;

use super::{
    AuthError, AuthResult, AuthService, ClientInfo,
    audit::AuditActor,
    sealing::FactorKeys,
    token::{
        Ed25519KeyMaterial, IdTokenKeyMaterial, IdTokenSigner, LEEWAY_SECS, SuccessorKey,
        SupersededKey, TokenSigner,
    },
};
use crate::{
    config::SigningConfig,
    domain::oidc::IdTokenAlgorithm,
    store::{StoreResult, StoredSigningKey},
};

/// The algorithm of Gatehouse's own access tokens (unless configured HS256).
pub const ACCESS_TOKEN_ALGORITHM: &str = "EdDSA";
/// With no revocation memory to follow (turned off, or the log unreadable), keys are
/// checked again this often.
const UNFOLLOWED_RECHECK: Duration = Duration::from_secs(1);

/// The keys Gatehouse's own tokens need.
pub(super) struct SigningKeys {
    pub signer: TokenSigner,
    /// Never rotated: it only derives refresh-token successors, which nobody verifies.
    pub successors: Arc<SuccessorKey>,
    /// The key ids this was made from: unchanged in the store, nothing to rebuild.
    line: Vec<String>,
}

/// The keys of ID tokens, one line per algorithm a client may choose: the newest of
/// each signs, older ones are published until their tokens have expired.
pub(super) struct IdTokenKeys {
    lines: Vec<IdTokenLine>,
    /// Every key id of every line: unchanged in the store, nothing to rebuild.
    line: Vec<String>,
}

struct IdTokenLine {
    newest: IdTokenSigner,
    /// Each with when it stops being published.
    superseded: Vec<(IdTokenSigner, i64)>,
}

impl IdTokenKeys {
    pub fn signer(&self, algorithm: IdTokenAlgorithm) -> AuthResult<&IdTokenSigner> {
        self.lines
            .iter()
            .map(|line| &line.newest)
            .find(|signer| signer.algorithm() == algorithm)
            .ok_or_else(|| AuthError::Unexpected("no ID-token key of that algorithm".into()))
    }

    /// What the JWKS lists at `now`.
    pub fn published(&self, now: i64) -> impl Iterator<Item = &Value> {
        self.lines.iter().flat_map(move |line| {
            std::iter::once(line.newest.jwk()).chain(
                line.superseded
                    .iter()
                    .filter(move |(_, until)| *until > now)
                    .map(|(signer, _)| signer.jwk()),
            )
        })
    }

    /// Any key of any line, by id: what verifies an ID token this provider signed.
    pub fn by_kid(&self, kid: &str) -> Option<&IdTokenSigner> {
        self.lines
            .iter()
            .flat_map(|line| {
                std::iter::once(&line.newest)
                    .chain(line.superseded.iter().map(|(signer, _)| signer))
            })
            .find(|signer| signer.kid() == kid)
    }
}

/// Keys an instance read, and the access memory's generation they were read in.
pub(super) struct KeyMemory<T> {
    held: RwLock<Option<Held<T>>>,
    /// One reader at a time: requests arriving meanwhile wait for its answer.
    loading: tokio::sync::Mutex<()>,
}

struct Held<T> {
    keys: Arc<T>,
    generation: Option<u64>,
    checked_at: Instant,
}

impl<T> Default for KeyMemory<T> {
    fn default() -> Self {
        KeyMemory {
            held: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> KeyMemory<T> {
    fn fresh(&self, generation: Option<u64>) -> Option<Arc<T>> {
        let held = self.held.read().ok()?;
        let held = held.as_ref()?;
        let fresh = match generation {
            Some(generation) => held.generation == Some(generation),
            None => held.checked_at.elapsed() < UNFOLLOWED_RECHECK,
        };
        fresh.then(|| held.keys.clone())
    }

    fn held(&self) -> Option<Arc<T>> {
        let held = self.held.read().ok()?;
        held.as_ref().map(|held| held.keys.clone())
    }

    fn hold(&self, keys: Arc<T>, generation: Option<u64>) {
        if let Ok(mut held) = self.held.write() {
            *held = Some(Held {
                keys,
                generation,
                checked_at: Instant::now(),
            });
        }
    }

    pub(super) fn is_loaded(&self) -> bool {
        self.held().is_some()
    }
}

impl AuthService {
    /// The keys of Gatehouse's own tokens, as the store holds them now (within the
    /// revocation bound).
    pub(super) async fn keys(&self) -> AuthResult<Arc<SigningKeys>> {
        self.current(&self.signing_keys, |previous| {
            self.load_signing_keys(previous)
        })
        .await
    }

    /// The keys of ID tokens, made by the first instance that needs one (RSA generation
    /// takes a moment, so not on every start).
    pub(super) async fn id_token_keys(&self) -> AuthResult<Arc<IdTokenKeys>> {
        self.current(&self.id_token_key_memory, |previous| {
            self.load_id_token_keys(previous)
        })
        .await
    }

    async fn current<T, F>(
        &self,
        memory: &KeyMemory<T>,
        load: impl FnOnce(Option<Arc<T>>) -> F,
    ) -> AuthResult<Arc<T>>
    where
        F: Future<Output = AuthResult<Option<T>>>,
    {
        // Read before the store is: a rotation committing during the read moves it.
        let generation = self.access.memory_generation();
        if let Some(keys) = memory.fresh(generation) {
            return Ok(keys);
        }
        let _one_reader = memory.loading.lock().await;
        if let Some(keys) = memory.fresh(generation) {
            return Ok(keys);
        }
        let previous = memory.held();
        match (load(previous.clone()).await, previous) {
            (Ok(Some(keys)), _) => {
                let keys = Arc::new(keys);
                memory.hold(keys.clone(), generation);
                Ok(keys)
            }
            (Ok(None), Some(unchanged)) => {
                memory.hold(unchanged.clone(), generation);
                Ok(unchanged)
            }
            (Ok(None), None) => Err(AuthError::Unexpected(
                "the signing keys were unchanged, but none were held".into(),
            )),
            // Signing and verifying go on with the keys held; checked again soon.
            (Err(error), Some(held)) => {
                tracing::warn!(%error, "could not read the signing keys again: keeping those held");
                memory.hold(held.clone(), None);
                Ok(held)
            }
            (Err(error), None) => Err(error),
        }
    }

    /// How long a superseded key stays published: until every token it signed (access
    /// and ID tokens live `access_ttl`) has expired.
    fn key_retention(&self) -> i64 {
        self.access_ttl + LEEWAY_SECS
    }

    /// `None` when the store's line is the one `previous` was made from.
    async fn load_signing_keys(
        &self,
        previous: Option<Arc<SigningKeys>>,
    ) -> AuthResult<Option<SigningKeys>> {
        let previous = previous.as_deref();
        let now = self.now();
        let issuer = &self.key_source.issuer;
        let (signer, line) = match &self.key_source.signing {
            SigningConfig::Hs256 { .. } if previous.is_some() => return Ok(None),
            SigningConfig::Hs256 { secret } => (TokenSigner::hs256(secret, issuer), Vec::new()),
            SigningConfig::EdDsa => {
                let mut stored = self.store.signing_keys(ACCESS_TOKEN_ALGORITHM).await?;
                if stored.is_empty() {
                    let candidate = new_ed25519_key(&self.factor_keys, now)?;
                    self.store.signing_key_or_insert(candidate).await?;
                    stored = self.store.signing_keys(ACCESS_TOKEN_ALGORITHM).await?;
                }
                let line = kids_of(&stored);
                if previous.is_some_and(|previous| previous.line == line) {
                    return Ok(None);
                }
                let (newest, older) = stored.split_last().ok_or_else(|| {
                    AuthError::Unexpected("no access-token key after making one".into())
                })?;
                let superseded: Vec<SupersededKey> = older
                    .iter()
                    .zip(&stored[1..])
                    .map(|(key, successor)| SupersededKey {
                        kid: key.kid.clone(),
                        public_raw: key.public_raw.clone(),
                        published_until: successor.created_at + self.key_retention(),
                    })
                    .collect();
                let newest = Ed25519KeyMaterial {
                    private_pkcs8: self.open_key(&newest.kid, newest.private_der.clone())?,
                    kid: newest.kid.clone(),
                    public_raw: newest.public_raw.clone(),
                };
                (
                    TokenSigner::ed25519_line(&newest, &superseded, issuer)?,
                    line,
                )
            }
        };
        let successors = match previous {
            Some(previous) => previous.successors.clone(),
            None => Arc::new(self.load_successor_key(now).await?),
        };
        Ok(Some(SigningKeys {
            signer,
            successors,
            line,
        }))
    }

    async fn load_successor_key(&self, now: i64) -> AuthResult<SuccessorKey> {
        let stored = self
            .store
            .signing_key_or_insert(StoredSigningKey {
                kid: SuccessorKey::STORED_AS.into(),
                algorithm: SuccessorKey::STORED_AS.into(),
                generation: 0,
                private_der: self
                    .seal_key(SuccessorKey::STORED_AS, &SuccessorKey::generate_bytes()?)?,
                public_raw: Vec::new(),
                created_at: now,
            })
            .await?;
        Ok(SuccessorKey::from_bytes(
            &self.open_key(SuccessorKey::STORED_AS, stored.private_der)?,
        )?)
    }

    async fn load_id_token_keys(
        &self,
        previous: Option<Arc<IdTokenKeys>>,
    ) -> AuthResult<Option<IdTokenKeys>> {
        let previous = previous.as_deref();
        let mut stored_lines = Vec::with_capacity(IdTokenAlgorithm::ALL.len());
        for algorithm in IdTokenAlgorithm::ALL {
            let mut stored = self.store.signing_keys(algorithm.stored_as()).await?;
            if stored.is_empty() {
                let candidate = new_id_token_key(&self.factor_keys, algorithm, self.now()).await?;
                self.store.signing_key_or_insert(candidate).await?;
                stored = self.store.signing_keys(algorithm.stored_as()).await?;
            }
            stored_lines.push((algorithm, stored));
        }
        let line: Vec<String> = stored_lines
            .iter()
            .flat_map(|(_, stored)| kids_of(stored))
            .collect();
        if previous.is_some_and(|previous| previous.line == line) {
            return Ok(None);
        }
        let mut lines = Vec::with_capacity(stored_lines.len());
        for (algorithm, stored) in &stored_lines {
            let open = |key: &StoredSigningKey| -> AuthResult<IdTokenSigner> {
                let private = self.open_key(&key.kid, key.private_der.clone())?;
                Ok(IdTokenSigner::from_pkcs8(*algorithm, &key.kid, &private)?)
            };
            let (newest, older) = stored
                .split_last()
                .ok_or_else(|| AuthError::Unexpected("no ID-token key after making one".into()))?;
            let mut superseded = Vec::with_capacity(older.len());
            for (key, successor) in older.iter().zip(&stored[1..]) {
                superseded.push((open(key)?, successor.created_at + self.key_retention()));
            }
            lines.push(IdTokenLine {
                newest: open(newest)?,
                superseded,
            });
        }
        Ok(Some(IdTokenKeys { lines, line }))
    }

    /// Adds a new key for each algorithm this server signs with; they sign from now on,
    /// here at once and on every instance within the revocation bound.
    #[tracing::instrument(name = "rotate signing keys", skip_all, fields(by = %admin.principal().user_id()))]
    pub async fn rotate_signing_keys(
        &self,
        admin: &super::AdminPrincipal,
        client: &ClientInfo,
    ) -> AuthResult<KeysRotated> {
        let rotated = rotate_keys(
            |key| self.store.add_signing_key(key),
            &self.factor_keys,
            &self.key_source.signing,
            self.now(),
        )
        .await?;
        self.audit(
            "signing_keys_rotated",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&rotated.kids.join(" ")),
        )
        .await;
        Ok(rotated)
    }

    /// Removes keys superseded longer ago than any token they signed lives.
    pub(super) async fn purge_superseded_keys(&self, now: i64) -> AuthResult<u64> {
        Ok(self
            .store
            .remove_superseded_signing_keys(now - self.key_retention())
            .await?)
    }
}

/// One new key per algorithm `signing` uses (EdDSA unless access tokens are HS256) and
/// per ID-token algorithm, each the next generation of its line.
/// `add` stores a key as the next generation (a server's store, or an operator's).
pub(super) async fn rotate_keys<Added>(
    add: impl Fn(StoredSigningKey) -> Added,
    factor_keys: &FactorKeys,
    signing: &SigningConfig,
    now: i64,
) -> AuthResult<KeysRotated>
where
    Added: Future<Output = StoreResult<StoredSigningKey>>,
{
    let mut kids = Vec::new();
    if matches!(signing, SigningConfig::EdDsa) {
        kids.push(add(new_ed25519_key(factor_keys, now)?).await?.kid);
    }
    for algorithm in IdTokenAlgorithm::ALL {
        let key = new_id_token_key(factor_keys, algorithm, now).await?;
        kids.push(add(key).await?.kid);
    }
    Ok(KeysRotated { kids })
}

fn new_ed25519_key(factor_keys: &FactorKeys, now: i64) -> AuthResult<StoredSigningKey> {
    let candidate = Ed25519KeyMaterial::generate()?;
    Ok(StoredSigningKey {
        private_der: seal_private_key(factor_keys, &candidate.kid, &candidate.private_pkcs8)?,
        kid: candidate.kid,
        algorithm: ACCESS_TOKEN_ALGORITHM.into(),
        generation: 0,
        public_raw: candidate.public_raw,
        created_at: now,
    })
}

async fn new_id_token_key(
    factor_keys: &FactorKeys,
    algorithm: IdTokenAlgorithm,
    now: i64,
) -> AuthResult<StoredSigningKey> {
    // RSA generation takes a moment: off the async threads.
    let candidate = tokio::task::spawn_blocking(move || IdTokenKeyMaterial::generate(algorithm))
        .await
        .map_err(|error| AuthError::Unexpected(error.into()))??;
    Ok(StoredSigningKey {
        private_der: seal_private_key(factor_keys, &candidate.kid, &candidate.private_pkcs8)?,
        kid: candidate.kid,
        algorithm: algorithm.stored_as().into(),
        generation: 0,
        public_raw: Vec::new(),
        created_at: now,
    })
}

/// A private key sealed at rest with the factor keys, as TOTP secrets are: a copy of
/// the database alone signs no token.
pub(super) fn seal_private_key(
    factor_keys: &FactorKeys,
    kid: &str,
    private: &[u8],
) -> AuthResult<Vec<u8>> {
    Ok(factor_keys
        .seal(&format!("key:{kid}"), private)?
        .into_bytes())
}

fn kids_of(stored: &[StoredSigningKey]) -> Vec<String> {
    stored.iter().map(|key| key.kid.clone()).collect()
}
