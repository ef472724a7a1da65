//! Sign in with another provider: an OpenID Connect provider the admin configured
//! (`GATEHOUSE_PROVIDERS`) vouches for who someone is, and its account is linked to one
//! account here.
//!
//! The protocol is the `openidconnect` crate's (a relying-party library other people
//! wrote): discovery and the provider's keys, the authorization request with PKCE, a
//! `state` and a `nonce`, the code exchange, and the ID token's signature, `iss`, `aud`,
//! `exp` and `nonce`. What this module adds is what Gatehouse decides: which account an
//! answer signs in to, when an account is made, and that the account's own rules (a
//! disabled account, the lockout, its second factor) still hold.
//!
//! Between the start and the callback the sign-in waits in the browser, sealed with the
//! factor keys (a cookie only the callback's path reads): any instance can finish it,
//! and nothing is stored for a request that never comes back. The `state` binds the
//! provider's answer to that browser; the provider's code works once at the provider.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::model::{ProviderButton, Role};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
        CoreProviderMetadata,
    },
};
use serde::{Deserialize, Serialize};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal, audit::AuditActor, login::SignIn,
    recovery::MailCounted, service::new_id,
};
use crate::{
    config::{ProviderKind, ProviderSettings},
    domain::{Email, FirstStep, SignInMethod, Username},
    store::{LinkedIdentity, NewEmail, NewUser, StoreError, UserRecord},
};

/// How long a started sign-in waits for the provider's answer.
pub const PROVIDER_FLOW_TTL_SECS: i64 = 600;
/// What a provider's discovery document and keys are trusted for before asked again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A discovery older than this is asked again when an ID token's key is not in it (the
/// provider rotated its keys); younger, the token is refused without another request.
const REDISCOVER_AFTER: Duration = Duration::from_secs(60);
/// No answer from a provider is this large; a bigger one is refused unread.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// What the sealed flow's associated data says: a sealed value of another purpose
/// (a second factor's secret) does not open as a flow.
const FLOW_SEAL_CONTEXT: &str = "provider sign-in flow";

/// The providers this server offers, and the one HTTP client their calls share.
pub struct UpstreamProviders {
    /// `GATEHOUSE_PROVIDERS`, read at start: on an id clash with a stored provider, the
    /// file's wins (what the operator wrote is not overruled from the console).
    pub(super) from_file: Vec<Arc<UpstreamProvider>>,
    /// Those on offer (the file's, then the stored ones enabled), with the access
    /// memory's generation they were read in: see `AuthService::offered_providers`.
    pub(super) remembered: std::sync::RwLock<Option<(u64, OfferedProviders)>>,
    http: reqwest::Client,
    /// `{public URL}/login/with/`: each provider's callback is under it.
    callback_base: String,
}

pub(super) type OfferedProviders = Arc<[Arc<UpstreamProvider>]>;

pub(super) struct UpstreamProvider {
    pub(super) settings: ProviderSettings,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<CoreProviderMetadata>)>>,
}

impl UpstreamProvider {
    pub(super) fn new(settings: ProviderSettings) -> UpstreamProvider {
        UpstreamProvider {
            settings,
            discovered: tokio::sync::Mutex::new(None),
        }
    }
}

impl UpstreamProviders {
    pub fn new(settings: &[ProviderSettings], public_url: &str) -> Result<Self, String> {
        // Mozilla's roots (as mail uses): the same answer in a minimal container as on
        // a full system. ring is the TLS crypto already linked for mail.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // A provider's endpoints answer; they never send the server elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            // Shorter than the keep-alive of common servers (node's is 5 s): a request
            // written into an idle connection the provider is closing fails at once,
            // and reqwest does not retry it (a discovery failed so, in 1 ms, in a test run).
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .map_err(|error| error.to_string())?;
        Ok(UpstreamProviders {
            from_file: settings
                .iter()
                .map(|settings| Arc::new(UpstreamProvider::new(settings.clone())))
                .collect(),
            remembered: std::sync::RwLock::new(None),
            http,
            callback_base: format!("{}/login/with/", public_url.trim_end_matches('/')),
        })
    }

    /// The origins a form starting a link at `provider` may be answered with a
    /// redirect to (a page's `form-action` must allow them): the issuer's, and its
    /// authorization endpoint's when discovery is remembered. Never waits for the
    /// provider: a page that shows the form must not hang on it.
    pub(super) fn authorization_origins(provider: &UpstreamProvider) -> Vec<String> {
        let origin = |url: &str| {
            url::Url::parse(url)
                .ok()
                .map(|url| url.origin().ascii_serialization())
        };
        let mut origins: Vec<String> = origin(&provider.settings.issuer).into_iter().collect();
        if let Ok(discovered) = provider.discovered.try_lock()
            && let Some((_, metadata)) = discovered.as_ref()
            && let Some(endpoint) = origin(metadata.authorization_endpoint().as_str())
            && !origins.contains(&endpoint)
        {
            origins.push(endpoint);
        }
        origins
    }

    /// Where a provider sends the browser back: what its admin registers there.
    pub fn callback_url(&self, id: &str) -> String {
        format!("{}{id}/callback", self.callback_base)
    }

    /// The provider's metadata and keys, asked for at most once an hour (or, with
    /// `fresher_than`, again when the remembered ones are older than that).
    async fn metadata(
        &self,
        provider: &UpstreamProvider,
        fresher_than: Option<Duration>,
    ) -> AuthResult<Arc<CoreProviderMetadata>> {
        let mut discovered = provider.discovered.lock().await;
        let max_age = fresher_than.unwrap_or(DISCOVERY_TTL);
        if let Some((at, metadata)) = discovered.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(metadata.clone());
        }
        let unavailable = || AuthError::ProviderUnavailable(provider.settings.name.clone());
        let issuer = IssuerUrl::new(provider.settings.issuer.clone()).map_err(|_| unavailable())?;
        let http = |request| send(self.http.clone(), request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|error| {
                tracing::warn!(provider = %provider.settings.id, %error, "provider discovery failed");
                unavailable()
            })?;
        let metadata = Arc::new(metadata);
        *discovered = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        provider: &UpstreamProvider,
        metadata: &CoreProviderMetadata,
    ) -> AuthResult<OidcClient> {
        let redirect = RedirectUrl::new(self.callback_url(&provider.settings.id))
            .map_err(|error| AuthError::Unexpected(error.into()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(provider.settings.client_id.clone()),
            provider
                .settings
                .client_secret
                .clone()
                .map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }
}

impl UpstreamProviders {
    /// GitHub's OAuth 2.0 endpoints, under its sign-in address (or an Enterprise
    /// Server's).
    fn github_client(&self, provider: &UpstreamProvider) -> AuthResult<GithubClient> {
        let web = provider.settings.issuer.trim_end_matches('/');
        let unexpected = |error: url::ParseError| AuthError::Unexpected(error.into());
        let mut client =
            oauth2::basic::BasicClient::new(ClientId::new(provider.settings.client_id.clone()))
                .set_auth_uri(
                    AuthUrl::new(format!("{web}/login/oauth/authorize")).map_err(unexpected)?,
                )
                .set_token_uri(
                    TokenUrl::new(format!("{web}/login/oauth/access_token")).map_err(unexpected)?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(self.callback_url(&provider.settings.id))
                        .map_err(unexpected)?,
                );
        if let Some(secret) = &provider.settings.client_secret {
            // In the form, as GitHub's documentation sends it.
            client = client
                .set_client_secret(ClientSecret::new(secret.clone()))
                .set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }

    /// One of GitHub's API answers, as JSON (its API wants a `User-Agent`).
    async fn github_api<T: serde::de::DeserializeOwned>(
        &self,
        provider: &UpstreamProvider,
        path: &str,
        access_token: &str,
    ) -> Result<T, String> {
        let api = provider.settings.api_url.as_deref().unwrap_or_default();
        let request =
            openidconnect::http::Request::get(format!("{}{path}", api.trim_end_matches('/')))
                .header("accept", "application/vnd.github+json")
                .header("authorization", format!("Bearer {access_token}"))
                .header("user-agent", "Gatehouse")
                .header("x-github-api-version", "2022-11-28")
                .body(Vec::new())
                .map_err(|error| error.to_string())?;
        let answer = send(self.http.clone(), request)
            .await
            .map_err(|error| error.to_string())?;
        if !answer.status().is_success() {
            return Err(format!("{path} answered {}", answer.status()));
        }
        serde_json::from_slice(answer.body()).map_err(|error| format!("{path}: {error}"))
    }
}

type GithubClient = oauth2::basic::BasicClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
>;

/// What GitHub's `/user` says (the fields used).
#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    name: Option<String>,
    email: Option<String>,
}

/// One of GitHub's `/user/emails`.
#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The library's HTTP calls, made with this server's client; an answer over
/// `MAX_ANSWER_BYTES` is refused before it is all read.
async fn send(
    client: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, ProviderCallError> {
    let (parts, body) = request.into_parts();
    let mut response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ProviderCallError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    answer
        .body(body)
        .map_err(|error| ProviderCallError::Malformed(error.to_string()))
}

#[derive(Debug, thiserror::Error)]
enum ProviderCallError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("the answer is over {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("a malformed answer: {0}")]
    Malformed(String),
}

/// Where the browser goes to sign in at the provider, and the sealed sign-in it keeps
/// meanwhile (in a cookie the callback reads).
#[derive(Debug)]
pub struct ProviderRedirect {
    pub location: String,
    pub sealed_flow: String,
    pub max_age_secs: i64,
}

/// What the provider sent back to the callback, as the browser brought it.
#[derive(Clone, Debug, Default)]
pub struct ProviderCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: which issuer answers (checked when given: an answer from another
    /// provider than the one asked is refused).
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What a provider's answer did.
pub enum ProviderOutcome {
    /// Signed in (or on to the second step), and where to go next.
    SignedIn {
        sign_in: Box<SignIn>,
        next: Option<String>,
    },
    /// Linked to the account that asked for it on `/account`.
    Linked { provider_name: String },
}

/// The sign-in between its start and the callback.
#[derive(Serialize, Deserialize)]
struct PendingFlow {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    next: Option<String>,
    /// A link asked for on `/account` by this user: the answer links the provider's
    /// account to it instead of signing in.
    #[serde(default)]
    link_to: Option<String>,
    expires_at: i64,
}

/// What the provider said about the person, once its ID token verified.
pub(super) struct Vouched {
    pub(super) subject: String,
    pub(super) email: Option<String>,
    email_verified: bool,
    names: Vec<String>,
    multi_factor: bool,
}

impl AuthService {
    /// The providers the sign-in and sign-up pages offer: the file's in its order, then
    /// those added from the console, oldest first.
    /// With the store unreadable, the file's still show (they need nothing stored).
    pub async fn sign_in_providers(&self) -> Vec<ProviderButton> {
        let offered = match self.offered_providers().await {
            Ok(offered) => offered,
            Err(error) => {
                tracing::warn!(%error, "the stored providers cannot be read: only the file's are offered");
                self.upstream.from_file.clone().into()
            }
        };
        offered
            .iter()
            .map(|provider| ProviderButton {
                id: provider.settings.id.clone(),
                name: provider.settings.name.clone(),
            })
            .collect()
    }

    /// Starts a sign-in at provider `id`: where to send the browser, and the sealed
    /// flow its callback needs. Limited per address like every ceremony start.
    #[tracing::instrument(name = "begin provider sign-in", skip_all, fields(provider = id))]
    pub async fn begin_provider_sign_in(
        &self,
        id: &str,
        next: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<ProviderRedirect> {
        self.begin_provider_flow(id, next.map(str::to_owned), None, client)
            .await
    }

    /// The redirect to provider `id` and the sealed flow; `link_to` makes it a link.
    pub(super) async fn begin_provider_flow(
        &self,
        id: &str,
        next: Option<String>,
        link_to: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<ProviderRedirect> {
        let provider = self.provider(id).await?;
        self.ceremony_limiter
            .hit(&client.throttle_key(), self.now())
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = if provider.settings.kind == ProviderKind::Github {
            let (url, state) = self
                .upstream
                .github_client(&provider)?
                .authorize_url(CsrfToken::new_random)
                .add_scope(Scope::new("read:user".into()))
                .add_scope(Scope::new("user:email".into()))
                .set_pkce_challenge(challenge)
                .url();
            // No ID token, so nothing for a nonce to bind.
            (url, state, String::new())
        } else {
            let metadata = self.upstream.metadata(&provider, None).await?;
            let oidc = self.upstream.client(&provider, &metadata)?;
            let (url, state, nonce) = oidc
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                )
                .add_scope(Scope::new("email".into()))
                .add_scope(Scope::new("profile".into()))
                .set_pkce_challenge(challenge)
                .url();
            (url, state, nonce.secret().clone())
        };
        let flow = PendingFlow {
            provider: id.to_owned(),
            state: state.secret().clone(),
            nonce,
            verifier: verifier.secret().clone(),
            next,
            link_to,
            expires_at: self.now() + PROVIDER_FLOW_TTL_SECS,
        };
        let sealed_flow = self
            .factor_keys
            .seal(
                FLOW_SEAL_CONTEXT,
                &serde_json::to_vec(&flow).map_err(|error| AuthError::Unexpected(error.into()))?,
            )
            .map_err(|error| AuthError::Unexpected(error.into()))?;
        Ok(ProviderRedirect {
            location: url.to_string(),
            sealed_flow,
            max_age_secs: PROVIDER_FLOW_TTL_SECS,
        })
    }

    /// The provider's answer: verified, then the linked account signed in (tokens, or
    /// its second step), or a new one made when the provider allows sign-ups; or, for a
    /// link asked for on `/account`, linked to the account that asked, which must still
    /// be the one signed in here (`signed_in_as`). Every refusal after the flow opened is
    /// audited `provider_sign_in_failed`.
    #[tracing::instrument(name = "provider sign-in", skip_all, fields(provider = id, user_id))]
    pub async fn finish_provider_sign_in(
        self: &Arc<Self>,
        id: &str,
        callback: ProviderCallback,
        sealed_flow: Option<&str>,
        signed_in_as: Option<&Principal>,
        client: &ClientInfo,
    ) -> AuthResult<ProviderOutcome> {
        let provider = self.provider(id).await?;
        let name = provider.settings.name.clone();
        let flow = self.open_flow(id, sealed_flow, &callback);
        let Some(flow) = flow else {
            self.audit(
                "provider_sign_in_failed",
                AuditActor::Nobody,
                client,
                Some(&format!("{id}: no sign-in started in this browser matches")),
            )
            .await;
            return Err(AuthError::ProviderFlowInvalid(name));
        };
        let vouched = match self.verify_answer(&provider, &flow, &callback).await {
            Ok(vouched) => vouched,
            Err((error, reason)) => {
                self.audit(
                    "provider_sign_in_failed",
                    AuditActor::Nobody,
                    client,
                    Some(&format!("{id}: {reason}")),
                )
                .await;
                return Err(error);
            }
        };
        if let Some(user_id) = &flow.link_to {
            return self
                .link_vouched(&provider, user_id, &vouched, signed_in_as, client)
                .await
                .map(|()| ProviderOutcome::Linked {
                    provider_name: name,
                });
        }
        let user = self.account_for(&provider, &vouched, client).await?;
        tracing::Span::current().record("user_id", user.id.as_str());
        let now = self.now();
        let attempt = self
            .reserve_attempt(self.login_keys(&user.username, client), now)
            .await?;
        // Used, once the account's lockout let it through.
        self.store
            .record_identity_use(id, &vouched.subject, now)
            .await?;
        let vouched_two_factors = provider.settings.trust_amr && vouched.multi_factor;
        let sign_in =
            if !vouched_two_factors && self.store.second_factors(&user.id).await?.required() {
                self.second_step_after(&user, attempt, client, FirstStep::Provider, now)
                    .await?
            } else {
                let method = if vouched_two_factors {
                    SignInMethod::ProviderWithMfa
                } else {
                    SignInMethod::Provider
                };
                SignIn::Tokens(self.admit(&user, attempt, client, now, method).await?)
            };
        Ok(ProviderOutcome::SignedIn {
            sign_in: Box::new(sign_in),
            next: flow.next,
        })
    }

    /// The flow this browser started with this provider, unexpired, whose `state` is
    /// the one the provider sent back.
    fn open_flow(
        &self,
        id: &str,
        sealed_flow: Option<&str>,
        callback: &ProviderCallback,
    ) -> Option<PendingFlow> {
        let opened = self
            .factor_keys
            .open(FLOW_SEAL_CONTEXT, sealed_flow?)
            .ok()?;
        let flow: PendingFlow = serde_json::from_slice(&opened.plaintext).ok()?;
        let state_matches = callback.state.as_deref().is_some_and(|state| {
            subtle::ConstantTimeEq::ct_eq(state.as_bytes(), flow.state.as_bytes()).into()
        });
        (flow.provider == id && flow.expires_at > self.now() && state_matches).then_some(flow)
    }

    /// The code exchanged and the ID token verified; a refusal with what the audit says.
    async fn verify_answer(
        &self,
        provider: &UpstreamProvider,
        flow: &PendingFlow,
        callback: &ProviderCallback,
    ) -> Result<Vouched, (AuthError, String)> {
        let name = provider.settings.name.clone();
        if let Some(error) = &callback.error {
            let said = plain_words(error, callback.error_description.as_deref());
            return Err((
                AuthError::ProviderRefused(name, said.clone()),
                format!("the provider answered {said}"),
            ));
        }
        if let Some(iss) = &callback.iss
            && iss.trim_end_matches('/') != provider.settings.issuer.trim_end_matches('/')
        {
            return Err((
                AuthError::ProviderAnswerInvalid(name),
                "the answer names another issuer".into(),
            ));
        }
        let Some(code) = callback.code.clone().filter(|code| !code.is_empty()) else {
            return Err((
                AuthError::ProviderFlowInvalid(name),
                "the answer has no code".into(),
            ));
        };
        let unavailable = |error: AuthError| {
            let reason = format!("{error}");
            (error, reason)
        };
        if provider.settings.kind == ProviderKind::Github {
            return self.github_vouched(provider, flow, code).await;
        }
        let metadata = self
            .upstream
            .metadata(provider, None)
            .await
            .map_err(unavailable)?;
        let oidc = self
            .upstream
            .client(provider, &metadata)
            .map_err(unavailable)?;
        let http = |request| send(self.upstream.http.clone(), request);
        let exchange = oidc
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|error| unavailable(AuthError::Unexpected(error.into())))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&http)
            .await;
        let tokens = match exchange {
            Ok(tokens) => tokens,
            Err(RequestTokenError::ServerResponse(refusal)) => {
                return Err((
                    AuthError::ProviderAnswerInvalid(name),
                    format!("the code was refused: {}", refusal.error()),
                ));
            }
            Err(error) => {
                tracing::warn!(provider = %provider.settings.id, %error, "the code exchange failed");
                return Err((
                    AuthError::ProviderUnavailable(name),
                    "the token endpoint did not answer usably".into(),
                ));
            }
        };
        let Some(id_token) = tokens.id_token() else {
            return Err((
                AuthError::ProviderAnswerInvalid(name),
                "no ID token came with the code".into(),
            ));
        };
        let nonce = Nonce::new(flow.nonce.clone());
        let verified = {
            let verifier = oidc.id_token_verifier().set_allowed_algs(SIGNATURES);
            id_token.claims(&verifier, &nonce).map(vouched_from)
        };
        match verified {
            Ok(vouched) => Ok(vouched),
            Err(first_error) => {
                // Signed by a key the remembered set lacks: the provider may have
                // rotated; asked again once (not more than once a minute).
                let fresh = self
                    .upstream
                    .metadata(provider, Some(REDISCOVER_AFTER))
                    .await
                    .map_err(unavailable)?;
                if Arc::ptr_eq(&fresh, &metadata) {
                    return Err((
                        AuthError::ProviderAnswerInvalid(name),
                        format!("the ID token was refused: {first_error}"),
                    ));
                }
                let oidc = self
                    .upstream
                    .client(provider, &fresh)
                    .map_err(unavailable)?;
                let verifier = oidc.id_token_verifier().set_allowed_algs(SIGNATURES);
                id_token
                    .claims(&verifier, &nonce)
                    .map(vouched_from)
                    .map_err(|error| {
                        (
                            AuthError::ProviderAnswerInvalid(name),
                            format!("the ID token was refused: {error}"),
                        )
                    })
            }
        }
    }

    /// GitHub's answer: the code exchanged for an access token, then who it belongs to
    /// from its user API. The subject is GitHub's numeric user id (a login can be
    /// renamed and taken by someone else; the id stays). The address is the primary one
    /// `/user/emails` lists, verified as GitHub says, or the public one, unverified.
    async fn github_vouched(
        &self,
        provider: &UpstreamProvider,
        flow: &PendingFlow,
        code: String,
    ) -> Result<Vouched, (AuthError, String)> {
        let name = provider.settings.name.clone();
        let github = self
            .upstream
            .github_client(provider)
            .map_err(|error| (error, "the provider's addresses are not usable".to_owned()))?;
        let http = |request| send(self.upstream.http.clone(), request);
        let exchange = github
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&http)
            .await;
        let token = match exchange {
            Ok(token) => token,
            Err(RequestTokenError::ServerResponse(refusal)) => {
                return Err((
                    AuthError::ProviderAnswerInvalid(name),
                    format!("the code was refused: {}", refusal.error()),
                ));
            }
            // GitHub answers a refused code with 200 and `{"error": …}`: not a token.
            Err(RequestTokenError::Parse(_, body)) => {
                let said = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|answer| answer["error"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "an answer that is not a token".to_owned());
                return Err((
                    AuthError::ProviderAnswerInvalid(name),
                    format!("the code was refused: {}", plain_words(&said, None)),
                ));
            }
            Err(error) => {
                tracing::warn!(provider = %provider.settings.id, %error, "the code exchange failed");
                return Err((
                    AuthError::ProviderUnavailable(name),
                    "the token endpoint did not answer usably".into(),
                ));
            }
        };
        let access_token = token.access_token().secret();
        let user: GithubUser = self
            .upstream
            .github_api(provider, "/user", access_token)
            .await
            .map_err(|reason| {
                (
                    AuthError::ProviderUnavailable(name.clone()),
                    format!("its user API did not answer usably: {reason}"),
                )
            })?;
        // Without the `user:email` grant the list is refused: then only the public address.
        let emails: Vec<GithubEmail> = self
            .upstream
            .github_api(provider, "/user/emails", access_token)
            .await
            .unwrap_or_default();
        let (email, email_verified) = match emails.into_iter().find(|email| email.primary) {
            Some(primary) => (Some(primary.email), primary.verified),
            None => (user.email.clone(), false),
        };
        let mut names = vec![user.login.clone()];
        names.extend(user.name.clone());
        Ok(Vouched {
            subject: user.id.to_string(),
            email,
            email_verified,
            names,
            // GitHub does not say how its user signed in.
            multi_factor: false,
        })
    }

    /// The account the provider's subject is linked to; else, where the admin allowed
    /// it, the account that verified the address the provider says is verified; else a
    /// new account, where sign-ups through this provider are on.
    async fn account_for(
        self: &Arc<Self>,
        provider: &UpstreamProvider,
        vouched: &Vouched,
        client: &ClientInfo,
    ) -> AuthResult<UserRecord> {
        let id = provider.settings.id.as_str();
        if let Some(linked) = self.store.linked_identity(id, &vouched.subject).await? {
            return self
                .store
                .user_by_id(&linked.user_id)
                .await?
                .ok_or(AuthError::NoLinkedAccount(provider.settings.name.clone()));
        }
        let now = self.now();
        let identity = LinkedIdentity {
            provider: id.to_owned(),
            subject: vouched.subject.clone(),
            user_id: String::new(),
            email: vouched.email.clone(),
            linked_at: now,
            last_used_at: None,
        };
        if provider.settings.link_verified_email
            && vouched.email_verified
            && let Some(address) = vouched
                .email
                .as_deref()
                .and_then(|email| Email::parse(email).ok())
            && let Some(owner) = self.store.user_by_email_key(address.key()).await?
            && owner.email_verified
        {
            self.store
                .link_identity(LinkedIdentity {
                    user_id: owner.id.clone(),
                    ..identity
                })
                .await?;
            self.audit(
                "identity_linked",
                AuditActor::User(&owner),
                client,
                Some(&format!("{id}, by its verified address")),
            )
            .await;
            return Ok(owner);
        }
        if !provider.settings.sign_up {
            self.audit(
                "provider_sign_in_failed",
                AuditActor::Nobody,
                client,
                Some(&format!(
                    "{id}: no linked account, and sign-up through it is off"
                )),
            )
            .await;
            return Err(AuthError::NoLinkedAccount(provider.settings.name.clone()));
        }
        self.signup_limiter
            .hit(&client.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let user = self.create_linked_account(identity, vouched).await?;
        self.audit(
            "signup",
            AuditActor::User(&user),
            client,
            Some(&format!("provider {id}")),
        )
        .await;
        self.audit("identity_linked", AuditActor::User(&user), client, Some(id))
            .await;
        self.confirm_address_later(&user, client, MailCounted::NotYet);
        Ok(user)
    }

    /// A new account with no password, named after what the provider calls the person
    /// (with a number added while that name is taken). Its address, when the provider
    /// gave one, is unverified until its own link is used: the provider's word is not
    /// this server's proof.
    async fn create_linked_account(
        &self,
        identity: LinkedIdentity,
        vouched: &Vouched,
    ) -> AuthResult<UserRecord> {
        let email = vouched
            .email
            .as_deref()
            .and_then(|email| Email::parse(email).ok());
        let base = vouched
            .names
            .iter()
            .find_map(|name| username_from(name))
            .unwrap_or_else(|| "user".to_owned());
        for attempt in 0..8u32 {
            let candidate = match attempt {
                0 => base.clone(),
                1..=4 => format!("{base}-{}", attempt + 1),
                _ => format!("{base}-{}", &new_id().replace('-', "")[24..32]),
            };
            let Ok(username) = Username::parse(&candidate) else {
                continue;
            };
            let user_id = new_id();
            let created = self
                .store
                .create_user_with_identity(
                    NewUser {
                        id: user_id.clone(),
                        username: username.as_str().to_owned(),
                        username_key: username.key().to_owned(),
                        email: email.as_ref().map(NewEmail::from),
                        password_hash: None,
                        role: Role::User,
                        created_at: identity.linked_at,
                    },
                    LinkedIdentity {
                        user_id,
                        ..identity.clone()
                    },
                )
                .await;
            match created {
                Ok(user) => return Ok(user),
                Err(StoreError::Conflict("username")) => continue,
                // The same first sign-in finished in another tab a moment ago.
                Err(StoreError::Conflict("identity")) => {
                    let linked = self
                        .store
                        .linked_identity(&identity.provider, &identity.subject)
                        .await?
                        .ok_or(AuthError::NotFound("identity"))?;
                    return self
                        .store
                        .user_by_id(&linked.user_id)
                        .await?
                        .ok_or(AuthError::NotFound("identity"));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AuthError::UsernameTaken)
    }
}

/// Asymmetric signatures only: a provider's ID token is never checked with a secret
/// both sides hold, nor unsigned.
const SIGNATURES: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn vouched_from(claims: &CoreIdTokenClaims) -> Vouched {
    let mut names = Vec::new();
    if let Some(name) = claims.preferred_username() {
        names.push(name.as_str().to_owned());
    }
    if let Some(email) = claims.email()
        && let Some((local, _)) = email.as_str().split_once('@')
    {
        names.push(local.to_owned());
    }
    if let Some(name) = claims.name().and_then(|name| name.get(None)) {
        names.push(name.as_str().to_owned());
    }
    Vouched {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified() == Some(true),
        names,
        multi_factor: claims
            .auth_method_refs()
            .is_some_and(|methods| methods.iter().any(|method| method.as_str() == "mfa")),
    }
}

/// A username made of what a provider calls someone: its letters and digits kept, runs
/// of anything else one `-`, at most 40 characters (room for a number); `None` when too
/// little is left.
fn username_from(name: &str) -> Option<String> {
    let mut made = String::new();
    for character in name.trim().chars() {
        if character.is_alphanumeric() || matches!(character, '.' | '_') {
            made.push(character);
        } else if !made.ends_with('-') && !made.is_empty() {
            made.push('-');
        }
        if made.chars().count() >= 40 {
            break;
        }
    }
    let made = made.trim_matches(|character| matches!(character, '-' | '.' | '_'));
    Username::parse(made)
        .ok()
        .map(|name| name.as_str().to_owned())
}

/// A provider's error as a person can read it: its code (RFC 6749 error codes are
/// printable ASCII) and its description, cut short and stripped of anything else.
fn plain_words(error: &str, description: Option<&str>) -> String {
    let printable = |text: &str, limit: usize| {
        text.chars()
            .filter(|character| character.is_ascii_graphic() || *character == ' ')
            .take(limit)
            .collect::<String>()
    };
    match description.map(|description| printable(description, 200)) {
        Some(description) if !description.trim().is_empty() => {
            format!("{} ({})", printable(error, 64), description.trim())
        }
        _ => printable(error, 64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_made_of_what_the_provider_calls_someone() {
        assert_eq!(username_from("ada").as_deref(), Some("ada"));
        assert_eq!(
            username_from("Ada Lovelace").as_deref(),
            Some("Ada-Lovelace")
        );
        assert_eq!(username_from("  o'brien!! ").as_deref(), Some("o-brien"));
        assert_eq!(username_from("José").as_deref(), Some("José"));
        assert_eq!(username_from("a"), None, "too short");
        assert_eq!(username_from("!!!"), None);
        let long = "x".repeat(100);
        assert_eq!(username_from(&long).map(|name| name.len()), Some(40));
    }

    #[test]
    fn a_providers_error_is_shown_in_plain_printable_words() {
        assert_eq!(plain_words("access_denied", None), "access_denied");
        assert_eq!(
            plain_words("access_denied", Some("The user said no\n<script>")),
            "access_denied (The user said no<script>)"
        );
        assert_eq!(plain_words("x".repeat(500).as_str(), None).len(), 64);
    }
}
