//! Access tokens: the claims are assembled, signed and verified here and nowhere else.
//! Every function takes `now` (Unix seconds) so expiry is tested without sleeping.

use std::sync::Arc;

use app::model::Role;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{Ed25519KeyMaterial, KeyError, random_id};

/// The `typ` claim of an access token. Refresh tokens are opaque and never parse as JWTs,
/// but the marker keeps any future JWT kind from passing as an access token.
pub const ACCESS_TOKEN_TYPE: &str = "access";
/// The `aud` of Gatehouse's own access tokens (its API and pages, the forward-auth gate).
/// Tokens issued to an OpenID Connect client carry the client's id instead, so a token
/// for one app is refused by another and by Gatehouse itself.
pub const OWN_AUDIENCE: &str = "gatehouse";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 5;
/// No legitimate access token comes near this size; longer input is refused unparsed.
const MAX_TOKEN_BYTES: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub name: String,
    pub role: Role,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub typ: String,
    /// The scopes granted, on tokens issued to an OpenID Connect client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The `typ` of a service's own access token (the `client_credentials` grant): it
/// speaks for the client, not for a user, so it has no user, role or session claims and
/// never parses as an [`AccessClaims`].
pub const SERVICE_TOKEN_TYPE: &str = "service";

/// A service's access token (RFC 6749 §4.4, shaped as RFC 9068 says): `sub`, `aud` and
/// `client_id` all name the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceClaims {
    pub sub: String,
    pub client_id: String,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub typ: String,
}

/// Who an access token speaks for.
#[derive(Clone, Copy, Debug)]
pub struct AccessGrant<'a> {
    pub user_id: &'a str,
    pub username: &'a str,
    pub role: Role,
    pub session_id: &'a str,
}

/// A signed access token and when it expires (Unix seconds).
#[derive(Debug)]
pub struct IssuedAccess {
    pub token: String,
    pub expires_at: i64,
}

/// Why an access token was refused. Callers answer all of them with the same 401; the
/// variant is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not the one this server signs with")]
    WrongAlgorithm,
    #[error("the token's key id is unknown")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token is not an access token")]
    WrongType,
    #[error("the token was issued by someone else")]
    WrongIssuer,
    #[error("the token was issued for another audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// Tokens whose signature, algorithm, key, type and issuer have been checked, keyed by
/// the whole token text. A hit skips only the signature check (the costly part: ~50 µs
/// for Ed25519); expiry and `nbf` are checked against `now` on every use, and revocation
/// is the store's job on every request. Only tokens that passed every check get in, so
/// garbage cannot fill it. Bounded (`quick_cache` evicts what is least used): a miss
/// only costs the signature check again.
/// Shared, not copied, on a hit: a copy of the claims was seven allocations a request.
struct VerifiedCache(quick_cache::sync::Cache<Box<str>, Arc<AccessClaims>>);

impl VerifiedCache {
    const CAPACITY: usize = 256 * 1024;

    fn new() -> Self {
        VerifiedCache(quick_cache::sync::Cache::new(Self::CAPACITY))
    }

    fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        self.0.get(token)
    }

    fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        self.0.insert(token.into(), claims);
    }
}

/// A public key that verifies access tokens: the newest also signs; an older one (a
/// rotation superseded it) verifies, and is published, until `published_until`, when
/// every token it signed has expired.
struct VerifyingKey {
    kid: Option<String>,
    decoding: DecodingKey,
    jwk: Option<serde_json::Value>,
    published_until: Option<i64>,
}

/// An Ed25519 key a rotation superseded: only its public half is needed.
#[derive(Clone, Debug)]
pub struct SupersededKey {
    pub kid: String,
    pub public_raw: Vec<u8>,
    pub published_until: i64,
}

/// Signs with one pinned algorithm and the newest key; verifies with any key of the line.
pub struct TokenSigner {
    algorithm: Algorithm,
    kid: Option<String>,
    encoding: EncodingKey,
    verifying: Vec<VerifyingKey>,
    validation: Validation,
    issuer: String,
    verified: VerifiedCache,
}

impl TokenSigner {
    pub fn ed25519(key: &Ed25519KeyMaterial, issuer: &str) -> Result<TokenSigner, KeyError> {
        Self::ed25519_line(key, &[], issuer)
    }

    /// `newest` signs; each of `superseded` still verifies (and is published) until its
    /// `published_until`.
    pub fn ed25519_line(
        newest: &Ed25519KeyMaterial,
        superseded: &[SupersededKey],
        issuer: &str,
    ) -> Result<TokenSigner, KeyError> {
        let mut verifying = vec![ed25519_verifying(&newest.kid, &newest.public_raw, None)?];
        for key in superseded {
            verifying.push(ed25519_verifying(
                &key.kid,
                &key.public_raw,
                Some(key.published_until),
            )?);
        }
        Ok(Self::new(
            Algorithm::EdDSA,
            Some(newest.kid.clone()),
            EncodingKey::from_ed_der(&newest.private_pkcs8),
            verifying,
            issuer,
        ))
    }

    /// HMAC keys are secret, so nothing is published in the JWKS.
    pub fn hs256(secret: &[u8], issuer: &str) -> TokenSigner {
        let verifying = vec![VerifyingKey {
            kid: None,
            decoding: DecodingKey::from_secret(secret),
            jwk: None,
            published_until: None,
        }];
        Self::new(
            Algorithm::HS256,
            None,
            EncodingKey::from_secret(secret),
            verifying,
            issuer,
        )
    }

    fn new(
        algorithm: Algorithm,
        kid: Option<String>,
        encoding: EncodingKey,
        verifying: Vec<VerifyingKey>,
        issuer: &str,
    ) -> TokenSigner {
        // Only the signature and the algorithm are left to jsonwebtoken; the time and
        // issuer checks below take `now` from the caller and live in one place.
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        TokenSigner {
            algorithm,
            kid,
            encoding,
            verifying,
            validation,
            issuer: issuer.to_owned(),
            verified: VerifiedCache::new(),
        }
    }

    /// The public keys to publish at `now`: the newest, and superseded ones until every
    /// token they signed has expired.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<&serde_json::Value> = self
            .verifying
            .iter()
            .filter(|key| key.published_until.is_none_or(|until| until > now))
            .filter_map(|key| key.jwk.as_ref())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The key id that signs now (`None` for HS256).
    pub fn signing_kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Issues an access token for `grant`, valid from `now` for `ttl_secs`.
    pub fn issue(
        &self,
        grant: AccessGrant<'_>,
        now: i64,
        ttl_secs: i64,
    ) -> Result<IssuedAccess, KeyError> {
        self.issue_for(grant, OWN_AUDIENCE, None, now, ttl_secs)
    }

    /// Issues an access token for an OpenID Connect client: `aud` is its id, `scope` what
    /// the user granted it.
    pub fn issue_for_client(
        &self,
        grant: AccessGrant<'_>,
        client_id: &str,
        scope: &str,
        now: i64,
        ttl_secs: i64,
    ) -> Result<IssuedAccess, KeyError> {
        self.issue_for(grant, client_id, Some(scope), now, ttl_secs)
    }

    fn issue_for(
        &self,
        grant: AccessGrant<'_>,
        audience: &str,
        scope: Option<&str>,
        now: i64,
        ttl_secs: i64,
    ) -> Result<IssuedAccess, KeyError> {
        let expires_at = now + ttl_secs;
        let claims = AccessClaims {
            sub: grant.user_id.to_owned(),
            name: grant.username.to_owned(),
            role: grant.role,
            sid: grant.session_id.to_owned(),
            jti: random_id()?,
            iat: now,
            nbf: now,
            exp: expires_at,
            iss: self.issuer.clone(),
            aud: audience.to_owned(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
            scope: scope.map(str::to_owned),
        };
        Ok(IssuedAccess {
            token: self.sign(&claims)?,
            expires_at,
        })
    }

    /// Issues a service's own access token (`client_credentials`), valid from `now`
    /// for `ttl_secs`.
    pub fn issue_for_service(
        &self,
        client_id: &str,
        now: i64,
        ttl_secs: i64,
    ) -> Result<IssuedAccess, KeyError> {
        let expires_at = now + ttl_secs;
        let claims = ServiceClaims {
            sub: client_id.to_owned(),
            client_id: client_id.to_owned(),
            jti: random_id()?,
            iat: now,
            nbf: now,
            exp: expires_at,
            iss: self.issuer.clone(),
            aud: client_id.to_owned(),
            typ: SERVICE_TOKEN_TYPE.to_owned(),
        };
        Ok(IssuedAccess {
            token: self.sign(&claims)?,
            expires_at,
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid.clone();
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }

    /// A token for Gatehouse itself.
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        let claims = self.verify_any_audience(token, now)?;
        if claims.aud != OWN_AUDIENCE {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }

    /// A token issued to an OpenID Connect client (any one: the caller compares `aud`).
    pub fn verify_for_client(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<AccessClaims>, TokenError> {
        let claims = self.verify_any_audience(token, now)?;
        if claims.aud == OWN_AUDIENCE || claims.scope.is_none() {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }

    fn verify_any_audience(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            check_time(&claims, now)?;
            return Ok(claims);
        }
        let claims = Arc::new(self.verify_uncached(token, now)?);
        self.verified.insert(token, claims.clone());
        Ok(claims)
    }

    /// A service's own token (`client_credentials`): signature, type, issuer and time.
    /// Not cached: only introspection asks, and rarely.
    pub fn verify_service(&self, token: &str, now: i64) -> Result<ServiceClaims, TokenError> {
        let claims: ServiceClaims = self.signed_claims(token)?;
        if claims.typ != SERVICE_TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        check_times(claims.exp, claims.nbf, claims.iat, now)?;
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.signed_claims(token)?;
        if claims.typ != ACCESS_TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        check_time(&claims, now)?;
        Ok(claims)
    }

    /// The claims of a token this signer signed: size, algorithm, key and signature.
    fn signed_claims<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_BYTES || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != self.algorithm {
            return Err(TokenError::WrongAlgorithm);
        }
        let key = match self.verifying.as_slice() {
            // A shared secret has no id: whatever `kid` a token names, it is this key.
            [only] if only.kid.is_none() => only,
            keys => keys
                .iter()
                .find(|key| key.kid.is_some() && key.kid == header.kid)
                .ok_or(TokenError::UnknownKey)?,
        };
        jsonwebtoken::decode::<T>(token, &key.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                _ => TokenError::Malformed,
            })
    }
}

fn ed25519_verifying(
    kid: &str,
    public_raw: &[u8],
    published_until: Option<i64>,
) -> Result<VerifyingKey, KeyError> {
    if public_raw.len() != 32 {
        return Err(KeyError::Invalid("the public key is not 32 bytes".into()));
    }
    Ok(VerifyingKey {
        kid: Some(kid.to_owned()),
        decoding: DecodingKey::from_ed_der(public_raw),
        jwk: Some(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(public_raw),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        })),
        published_until,
    })
}

fn check_time(claims: &AccessClaims, now: i64) -> Result<(), TokenError> {
    check_times(claims.exp, claims.nbf, claims.iat, now)
}

fn check_times(exp: i64, nbf: i64, iat: i64, now: i64) -> Result<(), TokenError> {
    if exp <= now - LEEWAY_SECS {
        return Err(TokenError::Expired);
    }
    if nbf > now + LEEWAY_SECS || iat > now + LEEWAY_SECS {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::RefreshSecret;
    use crate::domain::RefreshHash;

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "gatehouse-test";

    fn claims(now: i64) -> AccessClaims {
        AccessClaims {
            sub: "user-1".into(),
            name: "ada".into(),
            role: Role::User,
            sid: "session-1".into(),
            jti: "jti-1".into(),
            iat: now,
            nbf: now,
            exp: now + 900,
            iss: ISSUER.into(),
            aud: OWN_AUDIENCE.into(),
            typ: ACCESS_TOKEN_TYPE.into(),
            scope: None,
        }
    }

    fn ed25519_signer() -> TokenSigner {
        TokenSigner::ed25519(&Ed25519KeyMaterial::generate().unwrap(), ISSUER).unwrap()
    }

    fn hs256_signer(secret: &[u8]) -> TokenSigner {
        TokenSigner::hs256(secret, ISSUER)
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let signer = ed25519_signer();
        let token = signer.sign(&claims(NOW)).unwrap();
        assert_eq!(*signer.verify(&token, NOW).unwrap(), claims(NOW));
        assert_eq!(signer.verify(&token, NOW + 899).unwrap().sub, "user-1");
        assert_eq!(
            signer.verify(&token, NOW + 900 + LEEWAY_SECS),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_verified_token_still_expires_and_still_waits_for_nbf_when_cached() {
        let signer = ed25519_signer();
        let token = signer.sign(&claims(NOW)).unwrap();
        assert!(signer.verify(&token, NOW).is_ok());
        assert!(signer.verify(&token, NOW + 1).is_ok());
        assert_eq!(
            signer.verify(&token, NOW + 900 + LEEWAY_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(
            signer.verify(&token, NOW - 60),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn a_token_for_a_client_is_refused_by_gatehouse_and_gatehouses_by_client_checks() {
        let signer = ed25519_signer();
        let grant = AccessGrant {
            user_id: "user-1",
            username: "ada",
            role: Role::User,
            session_id: "session-1",
        };
        let for_wiki = signer
            .issue_for_client(grant, "wiki", "openid profile", NOW, 900)
            .unwrap()
            .token;
        let own = signer.issue(grant, NOW, 900).unwrap().token;
        assert_eq!(
            signer.verify(&for_wiki, NOW),
            Err(TokenError::WrongAudience)
        );
        let claims = signer.verify_for_client(&for_wiki, NOW).unwrap();
        assert_eq!(
            (claims.aud.as_str(), claims.scope.as_deref()),
            ("wiki", Some("openid profile"))
        );
        assert_eq!(
            signer.verify_for_client(&own, NOW),
            Err(TokenError::WrongAudience)
        );
        // Cached after the first check: the audience is still checked every time.
        assert_eq!(signer.verify(&own, NOW).unwrap().aud, OWN_AUDIENCE);
        assert_eq!(
            signer.verify(&for_wiki, NOW),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn a_services_token_is_no_users_token_and_a_users_is_no_services() {
        let signer = ed25519_signer();
        let grant = AccessGrant {
            user_id: "user-1",
            username: "ada",
            role: Role::User,
            session_id: "session-1",
        };
        let service = signer.issue_for_service("billing", NOW, 900).unwrap().token;
        let claims = signer.verify_service(&service, NOW).unwrap();
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.aud.as_str(),
                claims.client_id.as_str()
            ),
            ("billing", "billing", "billing")
        );
        assert_eq!(
            signer.verify_service(&service, NOW + 900 + LEEWAY_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(signer.verify(&service, NOW), Err(TokenError::Malformed));
        assert_eq!(
            signer.verify_for_client(&service, NOW),
            Err(TokenError::Malformed)
        );
        let for_wiki = signer
            .issue_for_client(grant, "wiki", "openid", NOW, 900)
            .unwrap()
            .token;
        assert_eq!(
            signer.verify_service(&for_wiki, NOW),
            Err(TokenError::Malformed)
        );
        let other = ed25519_signer();
        assert_eq!(
            other.verify_service(&service, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_refused_token_is_refused_again_not_remembered() {
        let signer = ed25519_signer();
        let mut foreign = claims(NOW);
        foreign.iss = "someone-else".into();
        let token = signer.sign(&foreign).unwrap();
        for _ in 0..2 {
            assert_eq!(signer.verify(&token, NOW), Err(TokenError::WrongIssuer));
        }
    }

    #[test]
    fn a_token_from_the_future_is_not_valid_yet() {
        let signer = ed25519_signer();
        let token = signer.sign(&claims(NOW + 60)).unwrap();
        assert_eq!(signer.verify(&token, NOW), Err(TokenError::NotYetValid));
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let token = ed25519_signer().sign(&claims(NOW)).unwrap();
        let other = ed25519_signer();
        assert!(other.verify(&token, NOW).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let signer = ed25519_signer();
        let header = serde_json::json!({"alg": "none", "typ": "JWT"});
        let body = serde_json::to_value(claims(NOW)).unwrap();
        let token = format!("{}.{}.", b64(&header), b64(&body));
        assert!(signer.verify(&token, NOW).is_err());
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused_by_an_ed25519_server() {
        let key = Ed25519KeyMaterial::generate().unwrap();
        let signer = TokenSigner::ed25519(&key, ISSUER).unwrap();
        let forged = hs256_signer(&key.public_raw).sign(&claims(NOW)).unwrap();
        assert_eq!(signer.verify(&forged, NOW), Err(TokenError::WrongAlgorithm));
    }

    #[test]
    fn hs256_with_a_guessed_secret_is_refused() {
        let signer = hs256_signer(b"the-real-secret-that-nobody-guesses-0123456789");
        for guess in [&b"secret"[..], b"", b"changeme", b"gatehouse"] {
            let forged = hs256_signer(guess).sign(&claims(NOW)).unwrap();
            assert_eq!(signer.verify(&forged, NOW), Err(TokenError::BadSignature));
        }
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let signer = ed25519_signer();
        let token = signer.sign(&claims(NOW)).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut escalated = claims(NOW);
        escalated.role = Role::Admin;
        let body = b64(&serde_json::to_value(escalated).unwrap());
        parts[1] = &body;
        assert_eq!(
            signer.verify(&parts.join("."), NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn the_wrong_issuer_is_refused() {
        let signer = ed25519_signer();
        let mut foreign = claims(NOW);
        foreign.iss = "someone-else".into();
        let token = signer.sign(&foreign).unwrap();
        assert_eq!(signer.verify(&token, NOW), Err(TokenError::WrongIssuer));
    }

    #[test]
    fn a_token_of_another_type_is_refused() {
        let signer = ed25519_signer();
        let mut refresh_like = claims(NOW);
        refresh_like.typ = "refresh".into();
        let token = signer.sign(&refresh_like).unwrap();
        assert_eq!(signer.verify(&token, NOW), Err(TokenError::WrongType));
    }

    #[test]
    fn a_refresh_token_is_not_a_jwt() {
        let signer = ed25519_signer();
        let refresh = RefreshSecret::generate().unwrap();
        assert_eq!(
            signer.verify(refresh.expose(), NOW),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let signer = ed25519_signer();
        for garbage in [
            "",
            ".",
            "..",
            "a.b.c",
            "\u{0}.\u{0}.\u{0}",
            &"x.".repeat(3000),
        ] {
            assert!(signer.verify(garbage, NOW).is_err());
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_only_their_shape_is_hashed() {
        let a = RefreshSecret::generate().unwrap();
        let b = RefreshSecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(RefreshHash::of_presented(a.expose()), Some(a.hash()));
        assert_eq!(RefreshHash::of_presented("rt_short"), None);
        assert_eq!(RefreshHash::of_presented("eyJhbGciOi.x.y"), None);
    }

    #[test]
    fn after_a_rotation_the_old_key_verifies_and_is_published_until_its_time_is_up() {
        let old_key = Ed25519KeyMaterial::generate().unwrap();
        let before = TokenSigner::ed25519(&old_key, ISSUER).unwrap();
        let signed_before = before.sign(&claims(NOW)).unwrap();

        let new_key = Ed25519KeyMaterial::generate().unwrap();
        let superseded = SupersededKey {
            kid: old_key.kid.clone(),
            public_raw: old_key.public_raw.clone(),
            published_until: NOW + 900,
        };
        let after = TokenSigner::ed25519_line(&new_key, &[superseded], ISSUER).unwrap();
        let signed_after = after.sign(&claims(NOW)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&signed_after).unwrap().kid,
            Some(new_key.kid.clone())
        );
        assert_eq!(after.signing_kid(), Some(new_key.kid.as_str()));
        assert!(after.verify(&signed_before, NOW).is_ok());
        assert!(after.verify(&signed_after, NOW).is_ok());
        // The server that has not reloaded yet does not know the new key.
        assert_eq!(
            before.verify(&signed_after, NOW),
            Err(TokenError::UnknownKey)
        );

        let kids = |now: i64| -> Vec<String> {
            after.jwks(now)["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|key| key["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(kids(NOW), vec![new_key.kid.clone(), old_key.kid.clone()]);
        assert_eq!(kids(NOW + 900), vec![new_key.kid.clone()]);
    }

    #[test]
    fn the_jwks_publishes_the_ed25519_public_key() {
        let key = Ed25519KeyMaterial::generate().unwrap();
        let signer = TokenSigner::ed25519(&key, ISSUER).unwrap();
        let published = &signer.jwks(NOW)["keys"][0];
        assert_eq!(published["kid"], key.kid.as_str());
        assert_eq!(published["crv"], "Ed25519");
        let x = URL_SAFE_NO_PAD
            .decode(published["x"].as_str().unwrap())
            .unwrap();
        assert_eq!(x, key.public_raw);
    }
}
