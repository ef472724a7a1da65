//! Gatehouse as an OpenID Connect provider: the apps admins register (clients), the
//! authorization request and its consent, the token endpoint's code exchange, ID tokens
//! and UserInfo. Sign-in itself is Gatehouse's own (its pages, second step, passkeys,
//! lockout); a client's tokens belong to a session of their own, so every revocation
//! that ends sessions (sign-out everywhere, disabling, a password reset) ends them too,
//! within the revocation bound on every instance.

use std::{collections::HashMap, sync::Arc};

use app::model::{
    AppView, AuthorizeAnswer as Authorization, ClientCreated, ClientInput, ClientView,
    ConsentDecision, ConsentView, EndSessionAnswer, Role,
};
use serde_json::{Value, json};

use super::{
    AdminPrincipal, AuthError, AuthResult, AuthService, ClientInfo, Principal,
    audit::AuditActor,
    key_ring::IdTokenKeys,
    service::new_id,
    token::random_token,
    token::{AccessClaims, AccessGrant, RefreshSecret},
};
use crate::{
    domain::oidc::{
        ClientRegistration, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS,
        GRANT_REFRESH_TOKEN, IdTokenAlgorithm, SCOPES, granted_scopes, parse_code_challenge,
        redirect_uri_matches, secret_hash, secret_matches, verifier_matches,
    },
    domain::sign_in::ACR_VALUES,
    domain::{RefreshHash, SignInMethod},
    store::{
        AuthorizationCode, ClientGrant, CodeRedemption, Consent, NewSession, OidcClient, Rotation,
        SessionAuthentication,
    },
};

/// How long an authorization code may wait for its exchange (RFC 9700: short).
const CODE_TTL_SECS: i64 = 60;
/// The most a parameter of an authorization request may hold.
const MAX_PARAMETER_CHARS: usize = 2048;
/// A `prompt=login` sign-in must be this fresh when the request comes back.
const FRESH_SIGN_IN_SECS: i64 = 60;

/// An error of the token or UserInfo endpoint, in RFC 6749 §5.2 form.
#[derive(Debug)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", description)
    }

    fn invalid_client() -> Self {
        Self::new(
            401,
            "invalid_client",
            "The client is unknown or its secret is wrong.",
        )
    }
}

impl From<AuthError> for OAuthError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unavailable(_) | AuthError::Busy { .. } => Self::new(
                503,
                "temporarily_unavailable",
                "The service is temporarily unavailable.",
            ),
            AuthError::Throttled { .. } => {
                Self::new(429, "slow_down", "Too many requests; slow down.")
            }
            AuthError::InvalidToken(_) => Self::new(
                401,
                "invalid_token",
                "The access token is missing, invalid, expired or revoked.",
            ),
            other => {
                tracing::error!(error = %other, "the token endpoint failed");
                Self::new(500, "server_error", "unexpected error")
            }
        }
    }
}

/// A token request's form, as sent (RFC 6749 §4.1.3); the client's credentials may also
/// come in a Basic header.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    /// What revocation and introspection are asked about.
    pub token: Option<String>,
}

/// Credentials from an `Authorization: Basic` header, decoded.
pub struct BasicCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// With `offline_access`, to a client allowed the `refresh_token` grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// On the code exchange; a refresh answers without one (Core §12.2 allows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Empty (and left out) for a service's token: it is granted no user scope.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// An authorization request, its app and redirect URI checked: from here on errors go
/// back to the app.
struct ValidRequest<'q> {
    client: OidcClient,
    redirect_uri: &'q str,
    state: Option<&'q str>,
    nonce: Option<&'q str>,
    scopes: Vec<&'static str>,
    code_challenge: Option<String>,
    prompt: Prompt,
    max_age: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

impl AuthService {
    /// The issuer: Gatehouse's public URL, as clients reach it.
    pub fn oidc_issuer(&self) -> &str {
        self.links.public_url.trim_end_matches('/')
    }

    /// `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
    pub fn discovery(&self) -> Value {
        let issuer = self.oidc_issuer();
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
            "end_session_endpoint": format!("{issuer}/oauth2/logout"),
            "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
            "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post"],
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported":
                [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported":
                IdTokenAlgorithm::ALL.map(IdTokenAlgorithm::name),
            "scopes_supported": SCOPES,
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp",
                "at_hash", "sid", "preferred_username", "name", "email", "email_verified", "roles"
            ],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            "acr_values_supported": ACR_VALUES,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
        })
    }

    // ----- clients -----

    #[tracing::instrument(name = "register client", skip_all, fields(by = %admin.principal().user_id()))]
    pub async fn register_client(
        &self,
        admin: &AdminPrincipal,
        input: ClientInput,
        client: &ClientInfo,
    ) -> AuthResult<ClientCreated> {
        let created = self.insert_client(input).await?;
        self.audit(
            "oidc_client_registered",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&format!(
                "{} {}",
                created.client.client_id, created.client.name
            )),
        )
        .await;
        Ok(created)
    }

    async fn insert_client(&self, input: ClientInput) -> AuthResult<ClientCreated> {
        let (stored, created) = new_client(input, self.now())?;
        self.store.add_client(stored).await?;
        Ok(created)
    }

    pub async fn list_clients(&self, _admin: &AdminPrincipal) -> AuthResult<Vec<ClientView>> {
        let mut clients = self.store.clients().await?;
        clients.sort_by(|a, b| (&a.name, a.created_at).cmp(&(&b.name, b.created_at)));
        Ok(clients.iter().map(view_of_client).collect())
    }

    /// Replaces a client's registration (name, URIs, grants, pre-consent). Its id,
    /// secret, state and kind stay: a confidential client cannot become public or the
    /// other way round (its secret would be orphaned or missing).
    #[tracing::instrument(name = "update client", skip_all, fields(%client_id, by = %admin.principal().user_id()))]
    pub async fn update_client(
        &self,
        admin: &AdminPrincipal,
        client_id: &str,
        input: ClientInput,
        client_info: &ClientInfo,
    ) -> AuthResult<ClientView> {
        let registration = ClientRegistration::parse(input)?;
        let updated = self
            .save_client_change(
                admin,
                client_id,
                "oidc_client_changed",
                client_info,
                |current, now| {
                    if registration.public != current.secret_hash.is_none() {
                        return Err(crate::domain::FieldError::new(
                            "public",
                            "cannot change: register a new client instead",
                        )
                        .into());
                    }
                    Ok(OidcClient {
                        name: registration.name,
                        redirect_uris: registration.redirect_uris,
                        post_logout_redirect_uris: registration.post_logout_redirect_uris,
                        grant_types: registration.grant_types,
                        pre_consented: registration.pre_consented,
                        id_token_alg: registration.id_token_alg.name().to_owned(),
                        updated_at: now,
                        ..current
                    })
                },
            )
            .await?;
        Ok(view_of_client(&updated))
    }

    /// A new secret for a confidential client, shown this once; the old one stops working
    /// at once (every instance reads the client from the store on each request).
    #[tracing::instrument(name = "rotate client secret", skip_all, fields(%client_id, by = %admin.principal().user_id()))]
    pub async fn rotate_client_secret(
        &self,
        admin: &AdminPrincipal,
        client_id: &str,
        client_info: &ClientInfo,
    ) -> AuthResult<ClientCreated> {
        let secret = random_token("gcs_")?;
        let updated = self
            .save_client_change(
                admin,
                client_id,
                "oidc_client_secret_rotated",
                client_info,
                |current, now| {
                    if current.secret_hash.is_none() {
                        return Err(crate::domain::FieldError::new(
                            "public",
                            "is true: the client has no secret",
                        )
                        .into());
                    }
                    Ok(OidcClient {
                        secret_hash: Some(secret_hash(&secret)),
                        updated_at: now,
                        ..current
                    })
                },
            )
            .await?;
        Ok(ClientCreated {
            client_secret: Some(secret),
            client: view_of_client(&updated),
        })
    }

    /// Disables or enables a client. Disabling ends every session its users' grants
    /// hold (so its tokens are refused everywhere within the revocation bound) and stops
    /// its sign-ins and token requests; enabling lets it start again from scratch.
    #[tracing::instrument(name = "disable client", skip_all, fields(%client_id, by = %admin.principal().user_id()))]
    pub async fn set_client_disabled(
        &self,
        admin: &AdminPrincipal,
        client_id: &str,
        disabled: bool,
        client_info: &ClientInfo,
    ) -> AuthResult<ClientView> {
        let event = if disabled {
            "oidc_client_disabled"
        } else {
            "oidc_client_enabled"
        };
        let updated = self
            .save_client_change(admin, client_id, event, client_info, |current, now| {
                Ok(OidcClient {
                    disabled,
                    updated_at: now,
                    ..current
                })
            })
            .await?;
        if disabled {
            self.store
                .revoke_client_sessions(client_id, updated.updated_at)
                .await?;
        }
        Ok(view_of_client(&updated))
    }

    /// The one path every admin change to a registration takes: read it (404 when
    /// gone), let `change` make the new state or refuse, store it, audit it.
    async fn save_client_change(
        &self,
        admin: &AdminPrincipal,
        client_id: &str,
        event: &'static str,
        client_info: &ClientInfo,
        change: impl FnOnce(OidcClient, i64) -> AuthResult<OidcClient>,
    ) -> AuthResult<OidcClient> {
        let current = self.existing_client(client_id).await?;
        let updated = change(current, self.now())?;
        self.store.replace_client(updated.clone()).await?;
        self.audit(
            event,
            AuditActor::Principal(admin.principal()),
            client_info,
            Some(client_id),
        )
        .await;
        Ok(updated)
    }

    async fn existing_client(&self, client_id: &str) -> AuthResult<OidcClient> {
        self.store
            .client(client_id)
            .await?
            .ok_or(AuthError::NotFound("client"))
    }

    /// Removes a client and ends every session its users' grants hold.
    #[tracing::instrument(name = "remove client", skip_all, fields(%client_id, by = %admin.principal().user_id()))]
    pub async fn remove_client(
        &self,
        admin: &AdminPrincipal,
        client_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        if !self.store.remove_client(client_id).await? {
            return Err(AuthError::NotFound("client"));
        }
        self.store
            .revoke_client_sessions(client_id, self.now())
            .await?;
        self.audit(
            "oidc_client_removed",
            AuditActor::Principal(admin.principal()),
            client,
            Some(client_id),
        )
        .await;
        Ok(())
    }

    // ----- the authorization endpoint -----

    /// An authorization request (`raw_query`, as the browser sent it to
    /// `/oauth2/authorize`), for the signed-in `principal` if any, with the user's
    /// `decision` when the consent form was sent.
    #[tracing::instrument(name = "authorize", skip_all)]
    pub async fn authorize(
        &self,
        raw_query: &str,
        principal: Option<&Principal>,
        decision: ConsentDecision,
        client_info: &ClientInfo,
    ) -> AuthResult<Authorization> {
        let parameters = match parameters(raw_query) {
            Ok(parameters) => parameters,
            Err(refusal) => return Ok(Authorization::Refused(refusal)),
        };
        let request = match self.valid_request(&parameters).await? {
            Ok(request) => request,
            Err(answer) => return Ok(answer),
        };
        let Some(principal) = principal else {
            if request.prompt.none {
                return Ok(error_redirect(
                    &request,
                    self,
                    "login_required",
                    "Sign-in needed.",
                ));
            }
            return Ok(Authorization::Redirect(sign_in_url(&parameters, false)));
        };
        let now = self.now();
        let authentication = self
            .store
            .session_authentication(principal.user_id(), principal.session_id(), now)
            .await?
            .unwrap_or(SessionAuthentication {
                at: now,
                method: SignInMethod::Unrecorded {
                    second_factor: principal.second_factor,
                },
            });
        let auth_time = authentication.at;
        let too_old = request
            .max_age
            .is_some_and(|max_age| now - auth_time > max_age)
            || (request.prompt.login && now - auth_time > FRESH_SIGN_IN_SECS);
        if too_old {
            if request.prompt.none {
                return Ok(error_redirect(
                    &request,
                    self,
                    "login_required",
                    "A fresher sign-in is needed.",
                ));
            }
            return Ok(Authorization::Redirect(sign_in_url(
                &parameters,
                request.prompt.login,
            )));
        }
        let consented = !request.prompt.consent
            && (request.client.pre_consented
                || self
                    .store
                    .consent(principal.user_id(), &request.client.id)
                    .await?
                    .is_some_and(|consent| {
                        let allowed: Vec<&str> = consent.scope.split(' ').collect();
                        request.scopes.iter().all(|scope| allowed.contains(scope))
                    }));
        match (decision, consented) {
            (ConsentDecision::Deny, _) => Ok(error_redirect(
                &request,
                self,
                "access_denied",
                "The user did not allow it.",
            )),
            (ConsentDecision::Ask, false) if request.prompt.none => Ok(error_redirect(
                &request,
                self,
                "consent_required",
                "The user has not allowed this app yet.",
            )),
            (ConsentDecision::Ask, false) => {
                let (redirect_host, redirect_origin) = where_it_goes(request.redirect_uri);
                Ok(Authorization::Consent(ConsentView {
                    client_name: request.client.name.clone(),
                    redirect_host,
                    asks_for: request.scopes.iter().filter_map(|s| describe(s)).collect(),
                    redirect_origin,
                }))
            }
            (ConsentDecision::Allow, _) | (ConsentDecision::Ask, true) => {
                if decision == ConsentDecision::Allow {
                    self.remember_consent(principal, &request, now).await?;
                }
                let code = self
                    .issue_code(&request, principal, authentication, now)
                    .await?;
                self.audit(
                    "oidc_authorized",
                    AuditActor::Principal(principal),
                    client_info,
                    Some(&format!(
                        "{} {}",
                        request.client.id,
                        request.scopes.join(" ")
                    )),
                )
                .await;
                let mut answer = vec![("code", code.as_str())];
                answer.extend(request.state.map(|state| ("state", state)));
                answer.push(("iss", self.oidc_issuer()));
                Ok(Authorization::Redirect(with_query(
                    request.redirect_uri,
                    &answer,
                )))
            }
        }
    }

    /// Checks the app and redirect URI first (`Err`: the page's answer); every later
    /// problem goes back to the app as an error redirect.
    async fn valid_request<'q>(
        &self,
        parameters: &'q HashMap<String, String>,
    ) -> AuthResult<Result<ValidRequest<'q>, Authorization>> {
        let refuse = |why: &str| Ok(Err(Authorization::Refused(why.to_owned())));
        let get = |name: &str| parameters.get(name).map(String::as_str);
        let Some(client_id) = get("client_id") else {
            return refuse("The request names no app (client_id is missing).");
        };
        let client = match self.store.client(client_id).await? {
            Some(client) if !client.disabled => client,
            _ => return refuse("The app asking you to sign in is not known here."),
        };
        let Some(redirect_uri) = get("redirect_uri") else {
            return refuse("The request does not say where to go back to (redirect_uri).");
        };
        if !client
            .redirect_uris
            .iter()
            .any(|registered| redirect_uri_matches(registered, redirect_uri))
        {
            return refuse("The address to go back to is not one registered for this app.");
        }
        let mut request = ValidRequest {
            client,
            redirect_uri,
            state: get("state"),
            nonce: get("nonce"),
            scopes: Vec::new(),
            code_challenge: None,
            prompt: Prompt::default(),
            max_age: None,
        };
        let fail = |request: &ValidRequest<'q>, error: &str, why: &str| {
            Ok(Err(error_redirect(request, self, error, why)))
        };
        if !request
            .client
            .grant_types
            .iter()
            .any(|grant| grant == GRANT_AUTHORIZATION_CODE)
        {
            return fail(
                &request,
                "unauthorized_client",
                "This app may not use the authorization code flow.",
            );
        }
        if parameters.contains_key("request") {
            return fail(
                &request,
                "request_not_supported",
                "Request objects are not supported.",
            );
        }
        if parameters.contains_key("request_uri") {
            return fail(
                &request,
                "request_uri_not_supported",
                "request_uri is not supported.",
            );
        }
        if get("response_type") != Some("code") {
            return fail(
                &request,
                "unsupported_response_type",
                "Only response_type=code is supported.",
            );
        }
        if get("response_mode").is_some_and(|mode| mode != "query") {
            return fail(
                &request,
                "invalid_request",
                "Only response_mode=query is supported.",
            );
        }
        let Some(scopes) = granted_scopes(get("scope").unwrap_or_default()) else {
            return fail(&request, "invalid_scope", "The scope must include openid.");
        };
        request.scopes = scopes;
        request.code_challenge =
            match parse_code_challenge(get("code_challenge"), get("code_challenge_method")) {
                Ok(challenge) => challenge,
                Err(why) => return fail(&request, "invalid_request", why),
            };
        if request.client.secret_hash.is_none() && request.code_challenge.is_none() {
            return fail(
                &request,
                "invalid_request",
                "This app must use PKCE (code_challenge with S256).",
            );
        }
        for value in get("prompt").into_iter().flat_map(|p| p.split(' ')) {
            match value {
                "none" => request.prompt.none = true,
                "login" => request.prompt.login = true,
                "consent" => request.prompt.consent = true,
                "" | "select_account" => {}
                _ => return fail(&request, "invalid_request", "Unknown prompt value."),
            }
        }
        if request.prompt.none && (request.prompt.login || request.prompt.consent) {
            return fail(
                &request,
                "invalid_request",
                "prompt=none cannot be combined with other values.",
            );
        }
        if let Some(max_age) = get("max_age") {
            match max_age.parse::<i64>() {
                Ok(max_age) if max_age >= 0 => request.max_age = Some(max_age),
                _ => {
                    return fail(
                        &request,
                        "invalid_request",
                        "max_age must be a whole number of seconds.",
                    );
                }
            }
        }
        Ok(Ok(request))
    }

    /// What the user allowed now, added to what they allowed this app before.
    async fn remember_consent(
        &self,
        principal: &Principal,
        request: &ValidRequest<'_>,
        now: i64,
    ) -> AuthResult<()> {
        let before = self
            .store
            .consent(principal.user_id(), &request.client.id)
            .await?;
        let mut scopes: Vec<&str> = before
            .as_ref()
            .map(|consent| consent.scope.split(' ').collect())
            .unwrap_or_default();
        for scope in &request.scopes {
            if !scopes.contains(scope) {
                scopes.push(scope);
            }
        }
        self.store
            .save_consent(Consent {
                user_id: principal.user_id().to_owned(),
                client_id: request.client.id.clone(),
                scope: scopes.join(" "),
                granted_at: now,
            })
            .await?;
        Ok(())
    }

    async fn issue_code(
        &self,
        request: &ValidRequest<'_>,
        principal: &Principal,
        authentication: SessionAuthentication,
        now: i64,
    ) -> AuthResult<String> {
        let code = random_token("gac_")?;
        self.store
            .save_code(AuthorizationCode {
                code_hash: secret_hash(&code),
                client_id: request.client.id.clone(),
                user_id: principal.user_id().to_owned(),
                redirect_uri: request.redirect_uri.to_owned(),
                scope: request.scopes.join(" "),
                nonce: request.nonce.map(str::to_owned),
                code_challenge: request.code_challenge.clone(),
                session_id: new_id(),
                auth_time: authentication.at,
                sign_in: authentication.method,
                created_at: now,
                expires_at: now + CODE_TTL_SECS,
            })
            .await?;
        Ok(code)
    }

    // ----- the token endpoint -----

    #[tracing::instrument(name = "token endpoint", skip_all)]
    pub async fn exchange(
        &self,
        form: TokenRequest,
        basic: Option<BasicCredentials>,
        client_info: &ClientInfo,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.token_client(&form, basic).await?;
        match form.grant_type.as_deref() {
            Some(GRANT_AUTHORIZATION_CODE) => self.redeem(form, client, client_info).await,
            Some(GRANT_REFRESH_TOKEN) => self.refresh_for_client(form, client, client_info).await,
            Some(GRANT_CLIENT_CREDENTIALS) => self.service_token(client, client_info).await,
            Some(_) => Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                "Only authorization_code, refresh_token and client_credentials are supported.",
            )),
            None => Err(OAuthError::invalid_request("grant_type is missing.")),
        }
    }

    /// Who is asking, by `client_secret_basic`, `client_secret_post` or (a public
    /// client, which then must prove PKCE) its id alone.
    async fn token_client(
        &self,
        form: &TokenRequest,
        basic: Option<BasicCredentials>,
    ) -> Result<OidcClient, OAuthError> {
        let (client_id, secret) = match (basic, &form.client_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "Use one way of client authentication, not two.",
                ));
            }
            (Some(basic), None) => {
                if form
                    .client_id
                    .as_ref()
                    .is_some_and(|id| *id != basic.client_id)
                {
                    return Err(OAuthError::invalid_request("Two different client ids."));
                }
                (basic.client_id, Some(basic.client_secret))
            }
            (None, secret) => {
                let Some(client_id) = form.client_id.clone() else {
                    return Err(OAuthError::invalid_client());
                };
                (client_id, secret.clone())
            }
        };
        let client = self
            .store
            .client(&client_id)
            .await
            .map_err(AuthError::from)?
            .filter(|client| !client.disabled)
            .ok_or_else(OAuthError::invalid_client)?;
        match (&client.secret_hash, secret) {
            (Some(stored), Some(presented)) if secret_matches(&presented, stored) => Ok(client),
            (None, None) => Ok(client),
            _ => Err(OAuthError::invalid_client()),
        }
    }

    async fn redeem(
        &self,
        form: TokenRequest,
        client: OidcClient,
        client_info: &ClientInfo,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = form
            .code
            .filter(|code| !code.is_empty() && code.len() <= MAX_PARAMETER_CHARS)
            .ok_or_else(|| OAuthError::invalid_request("code is missing."))?;
        let now = self.now();
        let code = match self
            .store
            .redeem_code(&secret_hash(&presented), now)
            .await
            .map_err(AuthError::from)?
        {
            CodeRedemption::Redeemed(code) => code,
            CodeRedemption::Replayed(code) => {
                // RFC 6749 §4.1.2: whatever the first use got is no longer to be trusted.
                self.store
                    .revoke_session(&code.user_id, &code.session_id, now)
                    .await
                    .map_err(AuthError::from)?;
                self.audit(
                    "oidc_code_replayed",
                    AuditActor::Nobody,
                    client_info,
                    Some(&code.client_id),
                )
                .await;
                return Err(OAuthError::invalid_grant(
                    "The code was used before; what it gave is revoked.",
                ));
            }
            CodeRedemption::Unknown => {
                return Err(OAuthError::invalid_grant("The code is unknown or expired."));
            }
        };
        if code.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "The code was issued to another client.",
            ));
        }
        if form.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's.",
            ));
        }
        match (&code.code_challenge, form.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) if verifier_matches(verifier, challenge) => {}
            (None, None) => {}
            // A verifier without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
            _ => {
                return Err(OAuthError::invalid_grant(
                    "The PKCE code_verifier is wrong.",
                ));
            }
        }
        let user = self
            .store
            .user_by_id(&code.user_id)
            .await
            .map_err(AuthError::from)?
            .filter(|user| !user.disabled)
            .ok_or_else(|| OAuthError::invalid_grant("The account is disabled or gone."))?;
        let offline = code.scope.split(' ').any(|scope| scope == "offline_access")
            && client
                .grant_types
                .iter()
                .any(|grant| grant == GRANT_REFRESH_TOKEN);
        // Without `offline_access` the session's refresh token is never handed out.
        let refresh = RefreshSecret::generate_for_client().map_err(AuthError::from)?;
        self.store
            .create_session(NewSession {
                id: code.session_id.clone(),
                user_id: user.id.clone(),
                refresh_hash: refresh.hash(),
                created_at: now,
                expires_at: now + self.refresh_ttl,
                user_agent: Some(format!("{} (signed in through Gatehouse)", client.name)),
                ip: client_info.ip_string(),
                sign_in: code.sign_in,
                grant: Some(ClientGrant {
                    client_id: client.id.clone(),
                    scope: code.scope.clone(),
                }),
            })
            .await
            .map_err(AuthError::from)?;
        let keys = self.keys().await?;
        let access = keys
            .signer
            .issue_for_client(
                AccessGrant {
                    user_id: &user.id,
                    username: &user.username,
                    role: user.role,
                    session_id: &code.session_id,
                },
                &client.id,
                &code.scope,
                now,
                self.access_ttl,
            )
            .map_err(AuthError::from)?;
        let scopes: Vec<&str> = code.scope.split(' ').collect();
        let id_token_keys = self.id_token_keys().await?;
        // The one algorithm this client registered (RS256 unless it chose another).
        let signer = id_token_keys.signer(
            IdTokenAlgorithm::parse(&client.id_token_alg).unwrap_or(IdTokenAlgorithm::Rs256),
        )?;
        let mut id_claims = json!({
            "iss": self.oidc_issuer(),
            "sub": user.id,
            "aud": client.id,
            "azp": client.id,
            "exp": now + self.access_ttl,
            "iat": now,
            "auth_time": code.auth_time,
            "amr": code.sign_in.amr(),
            "acr": code.sign_in.acr(),
            // The app's session: what RP-initiated logout ends.
            "sid": code.session_id,
            "at_hash": signer.token_hash(&access.token),
        });
        if let Some(nonce) = &code.nonce {
            id_claims["nonce"] = json!(nonce);
        }
        add_scoped_claims(
            &mut id_claims,
            &scopes,
            &user.username,
            user.email
                .as_deref()
                .map(|email| (email, user.email_verified)),
            user.role,
        );
        let id_token = signer.sign(&id_claims).map_err(AuthError::from)?;
        self.audit(
            "oidc_tokens_issued",
            AuditActor::User(&user),
            client_info,
            Some(&client.id),
        )
        .await;
        Ok(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_at - now,
            refresh_token: offline.then(|| refresh.expose().to_owned()),
            id_token: Some(id_token),
            scope: code.scope,
        })
    }

    /// The `refresh_token` grant: the same rotation as Gatehouse's own sessions (one
    /// atomic store step, the grace for racing retries, reuse ending the session), for a
    /// token of this client's session only.
    async fn refresh_for_client(
        &self,
        form: TokenRequest,
        client: OidcClient,
        client_info: &ClientInfo,
    ) -> Result<TokenResponse, OAuthError> {
        if !client
            .grant_types
            .iter()
            .any(|grant| grant == GRANT_REFRESH_TOKEN)
        {
            return Err(OAuthError::new(
                400,
                "unauthorized_client",
                "This client may not use refresh tokens.",
            ));
        }
        let now = self.now();
        self.refresh_limiter
            .hit(&client_info.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let presented = form.refresh_token.unwrap_or_default();
        let presented = presented.trim();
        let hash = RefreshHash::of_presented_by_client(presented)
            .ok_or_else(|| OAuthError::invalid_grant("The refresh token is invalid."))?;
        let keys = self.keys().await?;
        let successor = keys.successors.successor_of(presented);
        let rotation = self
            .store
            .rotate_refresh(
                &hash,
                &successor.hash(),
                now,
                now + self.refresh_ttl,
                self.refresh_grace,
            )
            .await
            .map_err(AuthError::from)?;
        let (session, user) = match rotation {
            Rotation::Rotated { session, user } => (session, user),
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                let user = self
                    .store
                    .user_by_id(&user_id)
                    .await
                    .map_err(AuthError::from)?;
                self.audit(
                    "refresh_token_reuse",
                    AuditActor::from_user(user.as_ref()),
                    client_info,
                    Some(&format!("{session_id} {}", client.id)),
                )
                .await;
                return Err(OAuthError::invalid_grant(
                    "The refresh token was used before, so its session has ended.",
                ));
            }
            Rotation::Invalid => {
                return Err(OAuthError::invalid_grant(
                    "The refresh token is invalid, expired or revoked.",
                ));
            }
        };
        let Some(grant) = session.grant.filter(|grant| grant.client_id == client.id) else {
            // Another client's token: it leaked, so the session it belongs to ends.
            self.store
                .revoke_session(&user.id, &session.id, now)
                .await
                .map_err(AuthError::from)?;
            self.audit(
                "oidc_refresh_wrong_client",
                AuditActor::User(&user),
                client_info,
                Some(&client.id),
            )
            .await;
            return Err(OAuthError::invalid_grant(
                "The refresh token was not issued to this client.",
            ));
        };
        let access = keys
            .signer
            .issue_for_client(
                AccessGrant {
                    user_id: &user.id,
                    username: &user.username,
                    role: user.role,
                    session_id: &session.id,
                },
                &client.id,
                &grant.scope,
                now,
                self.access_ttl,
            )
            .map_err(AuthError::from)?;
        self.metrics.refreshed();
        Ok(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_at - now,
            refresh_token: Some(successor.expose().to_owned()),
            id_token: None,
            scope: grant.scope,
        })
    }

    /// The `client_credentials` grant: a service's own token, speaking for no user, so
    /// no user scope is granted and no refresh token issued (RFC 6749 §4.4.3).
    async fn service_token(
        &self,
        client: OidcClient,
        client_info: &ClientInfo,
    ) -> Result<TokenResponse, OAuthError> {
        // A public client's id is no proof of anything (token_client let it in for PKCE).
        if client.secret_hash.is_none()
            || !client
                .grant_types
                .iter()
                .any(|grant| grant == GRANT_CLIENT_CREDENTIALS)
        {
            return Err(OAuthError::new(
                400,
                "unauthorized_client",
                "This client may not use the client_credentials grant.",
            ));
        }
        let now = self.now();
        let access = self
            .keys()
            .await?
            .signer
            .issue_for_service(&client.id, now, self.access_ttl)
            .map_err(AuthError::from)?;
        self.audit(
            "oidc_service_token_issued",
            AuditActor::Nobody,
            client_info,
            Some(&client.id),
        )
        .await;
        Ok(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_at - now,
            refresh_token: None,
            id_token: None,
            scope: String::new(),
        })
    }

    // ----- what each user allowed -----

    /// The apps `principal` allowed, by name.
    pub async fn apps_of(&self, principal: &Principal) -> AuthResult<Vec<AppView>> {
        let mut apps = Vec::new();
        for consent in self.store.consents_of(principal.user_id()).await? {
            // A removed client's consent is moot; it is not listed.
            if let Some(client) = self.store.client(&consent.client_id).await? {
                apps.push(AppView {
                    client_id: client.id,
                    name: client.name,
                    allowed: consent.scope.split(' ').filter_map(describe).collect(),
                    granted_at: consent.granted_at,
                });
            }
        }
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(apps)
    }

    /// Takes back what `principal` allowed `client_id`: the next sign-in asks again, and
    /// every session of that app for this user ends now.
    #[tracing::instrument(name = "forget app", skip_all, fields(%client_id, user_id = %principal.user_id()))]
    pub async fn forget_app(
        &self,
        principal: &Principal,
        client_id: &str,
        client_info: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        let had_consent = self
            .store
            .remove_consent(principal.user_id(), client_id)
            .await?;
        let mut ended = 0;
        for session in self.store.list_sessions(principal.user_id(), now).await? {
            if session
                .grant
                .as_ref()
                .is_some_and(|grant| grant.client_id == client_id)
            {
                self.store
                    .revoke_session(principal.user_id(), &session.id, now)
                    .await?;
                ended += 1;
            }
        }
        if !had_consent && ended == 0 {
            return Err(AuthError::NotFound("app"));
        }
        self.audit(
            "oidc_consent_revoked",
            AuditActor::Principal(principal),
            client_info,
            Some(client_id),
        )
        .await;
        Ok(())
    }

    // ----- RP-initiated logout, revocation, introspection -----

    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an ID token this
    /// provider issued (`id_token_hint`, expired or not) proves which app asks; its
    /// session ends, and so does the browser's own Gatehouse session if it is the same
    /// user's. Without a hint the user is asked (the sign-out page); with one this server
    /// did not sign, nothing happens.
    #[tracing::instrument(name = "end session", skip_all)]
    pub async fn end_session(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
        browser: Option<&Principal>,
        client_info: &ClientInfo,
    ) -> AuthResult<EndSessionAnswer> {
        let Some(hint) = id_token_hint else {
            return Ok(EndSessionAnswer::Confirm);
        };
        let keys = self.id_token_keys().await?;
        let claims = self.our_id_token(&keys, hint).unwrap_or_default();
        let (Some(client_id), Some(user_id)) = (claims["aud"].as_str(), claims["sub"].as_str())
        else {
            return Ok(EndSessionAnswer::Refused(
                "The sign-out request names an ID token this server did not issue.".into(),
            ));
        };
        let Some(client) = self.store.client(client_id).await? else {
            return Ok(EndSessionAnswer::Refused(
                "The app asking to sign you out is not known here.".into(),
            ));
        };
        let back = match post_logout_redirect_uri {
            Some(uri)
                if client
                    .post_logout_redirect_uris
                    .iter()
                    .any(|known| redirect_uri_matches(known, uri)) =>
            {
                let mut answer = Vec::new();
                answer.extend(state.map(|state| ("state", state)));
                Some(with_query(uri, &answer))
            }
            Some(_) => {
                return Ok(EndSessionAnswer::Refused(
                    "The address to go back to after signing out is not registered for this app."
                        .into(),
                ));
            }
            None => None,
        };
        let now = self.now();
        if let Some(session_id) = claims["sid"].as_str() {
            self.store.revoke_session(user_id, session_id, now).await?;
        }
        if let Some(browser) = browser.filter(|browser| browser.user_id() == user_id) {
            self.store
                .revoke_jti(browser.jti(), browser.token_expires_at)
                .await?;
            self.store
                .revoke_session(browser.user_id(), browser.session_id(), now)
                .await?;
        }
        let user = self.store.user_by_id(user_id).await?;
        self.audit(
            "oidc_logout",
            AuditActor::from_user(user.as_ref()),
            client_info,
            Some(client_id),
        )
        .await;
        Ok(EndSessionAnswer::SignedOut(
            back.unwrap_or_else(|| "/login?signed_out=1".to_owned()),
        ))
    }

    /// The claims of an ID token this provider signed (one of its keys, by `kid`, with
    /// that key's algorithm only; its issuer); expiry is not checked: a logout hint may
    /// be old.
    fn our_id_token(&self, keys: &IdTokenKeys, token: &str) -> Option<Value> {
        if token.len() > 8192 {
            return None;
        }
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        // The key found decides the algorithm (`verified_claims`).
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[self.oidc_issuer()]);
        keys.by_kid(&kid)?.verified_claims(token, &validation)
    }

    /// Token revocation (RFC 7009): a refresh token of this client ends its session; an
    /// access token of this client is refused from now on. Anything else is ignored (the
    /// answer is the same, so nobody learns which tokens exist).
    #[tracing::instrument(name = "revoke token", skip_all)]
    pub async fn revoke_token(
        &self,
        form: TokenRequest,
        basic: Option<BasicCredentials>,
        client_info: &ClientInfo,
    ) -> Result<(), OAuthError> {
        let client = self.token_client(&form, basic).await?;
        let token = form
            .token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is missing."))?;
        let now = self.now();
        if let Some(hash) = RefreshHash::of_presented_by_client(token) {
            if let Some(session) = self
                .store
                .session_by_refresh(&hash, now)
                .await
                .map_err(AuthError::from)?
                .filter(|session| {
                    session
                        .grant
                        .as_ref()
                        .is_some_and(|grant| grant.client_id == client.id)
                })
            {
                self.store
                    .revoke_session(&session.user_id, &session.id, now)
                    .await
                    .map_err(AuthError::from)?;
                self.audit(
                    "oidc_token_revoked",
                    AuditActor::Nobody,
                    client_info,
                    Some(&format!("{} {}", client.id, session.id)),
                )
                .await;
            }
            return Ok(());
        }
        let keys = self.keys().await?;
        let own_token = match keys.signer.verify_for_client(token, now) {
            Ok(claims) => (claims.aud == client.id).then(|| (claims.jti.clone(), claims.exp)),
            Err(_) => keys
                .signer
                .verify_service(token, now)
                .ok()
                .filter(|claims| claims.client_id == client.id)
                .map(|claims| (claims.jti, claims.exp)),
        };
        if let Some((jti, expires_at)) = own_token {
            self.store
                .revoke_jti(&jti, expires_at)
                .await
                .map_err(AuthError::from)?;
        }
        Ok(())
    }

    /// Token introspection (RFC 7662), for confidential clients, about their own tokens:
    /// whether it is active now (checked as every request checks it) and what it grants.
    pub async fn introspect(
        &self,
        form: TokenRequest,
        basic: Option<BasicCredentials>,
    ) -> Result<Value, OAuthError> {
        let client = self.token_client(&form, basic).await?;
        if client.secret_hash.is_none() {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                "Introspection is for confidential clients.",
            ));
        }
        let token = form.token.as_deref().map(str::trim).unwrap_or_default();
        let inactive = json!({ "active": false });
        let now = self.now();
        if let Some(hash) = RefreshHash::of_presented_by_client(token) {
            let session = self
                .store
                .session_by_refresh(&hash, now)
                .await
                .map_err(AuthError::from)?;
            return Ok(match session {
                Some(session)
                    if session
                        .grant
                        .as_ref()
                        .is_some_and(|grant| grant.client_id == client.id) =>
                {
                    json!({
                        "active": true,
                        "token_type": "refresh_token",
                        "client_id": client.id,
                        "sub": session.user_id,
                        "scope": session.grant.map(|grant| grant.scope),
                        "exp": session.expires_at,
                        "iss": self.oidc_issuer(),
                    })
                }
                _ => inactive,
            });
        }
        match self.authenticate_client_token(Some(token)).await {
            Ok((principal, claims)) if claims.aud == client.id => Ok(json!({
                "active": true,
                "token_type": "Bearer",
                "client_id": claims.aud,
                "sub": principal.user_id(),
                "username": principal.username,
                "scope": claims.scope,
                "exp": claims.exp,
                "iat": claims.iat,
                "iss": self.oidc_issuer(),
            })),
            Ok(_) => Ok(inactive),
            Err(AuthError::InvalidToken(_)) => self.introspect_service(&client, token, now).await,
            Err(other) => Err(other.into()),
        }
    }

    /// A service's own token, asked about by that service: active while it is unexpired,
    /// not revoked, and the client is still registered and enabled (which a resource
    /// server verifying the JWT alone cannot see).
    async fn introspect_service(
        &self,
        client: &OidcClient,
        token: &str,
        now: i64,
    ) -> Result<Value, OAuthError> {
        let inactive = json!({ "active": false });
        let Ok(claims) = self.keys().await?.signer.verify_service(token, now) else {
            return Ok(inactive);
        };
        if claims.client_id != client.id
            || self
                .store
                .jti_revoked(&claims.jti)
                .await
                .map_err(AuthError::from)?
        {
            return Ok(inactive);
        }
        Ok(json!({
            "active": true,
            "token_type": "Bearer",
            "client_id": claims.client_id,
            "sub": claims.sub,
            "exp": claims.exp,
            "iat": claims.iat,
            "iss": self.oidc_issuer(),
        }))
    }

    // ----- UserInfo -----

    /// The claims the token's scopes allow, about the user as the store holds them now.
    pub async fn userinfo(&self, access_token: Option<&str>) -> AuthResult<Value> {
        let (principal, claims) = self.authenticate_client_token(access_token).await?;
        let scopes: Vec<&str> = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .collect();
        let mut answer = json!({ "sub": principal.user_id() });
        add_scoped_claims(
            &mut answer,
            &scopes,
            &principal.username,
            principal
                .user
                .email
                .as_deref()
                .map(|email| (email, principal.user.email_verified)),
            principal.role,
        );
        Ok(answer)
    }

    /// A client's access token: checked like Gatehouse's own (signature, time, then
    /// revocation, session and user state), for any client's audience.
    pub(super) async fn authenticate_client_token(
        &self,
        access_token: Option<&str>,
    ) -> AuthResult<(Principal, Arc<AccessClaims>)> {
        let outcome = self.check_client_token(access_token).await;
        self.metrics.token_check(outcome.is_ok());
        outcome
    }
}

fn add_scoped_claims(
    claims: &mut Value,
    scopes: &[&str],
    username: &str,
    email: Option<(&str, bool)>,
    role: Role,
) {
    if scopes.contains(&"profile") {
        claims["preferred_username"] = json!(username);
        claims["name"] = json!(username);
    }
    if scopes.contains(&"email")
        && let Some((email, verified)) = email
    {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(verified);
    }
    if scopes.contains(&"roles") {
        claims["roles"] = json!([role.as_str()]);
    }
}

fn describe(scope: &str) -> Option<String> {
    match scope {
        "openid" => Some("Know who you are here (an identifier of your account)".into()),
        "profile" => Some("See your username".into()),
        "email" => Some("See your email address".into()),
        "roles" => Some("See your role (user or admin)".into()),
        "offline_access" => Some("Stay signed in while you are away".into()),
        _ => None,
    }
}

/// A client as registered: its id and (unless public) its secret, random; the secret
/// kept only as a hash, and given back this once.
pub(super) fn new_client(input: ClientInput, now: i64) -> AuthResult<(OidcClient, ClientCreated)> {
    let registration = ClientRegistration::parse(input)?;
    let secret = if registration.public {
        None
    } else {
        Some(random_token("gcs_")?)
    };
    let stored = OidcClient {
        id: random_token("gc_")?,
        name: registration.name,
        secret_hash: secret.as_deref().map(secret_hash),
        redirect_uris: registration.redirect_uris,
        post_logout_redirect_uris: registration.post_logout_redirect_uris,
        grant_types: registration.grant_types,
        pre_consented: registration.pre_consented,
        id_token_alg: registration.id_token_alg.name().to_owned(),
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let created = ClientCreated {
        client_secret: secret,
        client: view_of_client(&stored),
    };
    Ok((stored, created))
}

/// The redirect URI's host, for people, and its origin as a CSP source (`https://host`,
/// or an app's scheme, `com.example.app:`).
fn where_it_goes(redirect_uri: &str) -> (String, String) {
    match url::Url::parse(redirect_uri) {
        Ok(url) if url.has_host() => (
            url.host_str().unwrap_or_default().to_owned(),
            url.origin().ascii_serialization(),
        ),
        Ok(url) => (url.scheme().to_owned(), format!("{}:", url.scheme())),
        Err(_) => (redirect_uri.to_owned(), "'none'".to_owned()),
    }
}

pub fn view_of_client(client: &OidcClient) -> ClientView {
    ClientView {
        client_id: client.id.clone(),
        name: client.name.clone(),
        redirect_uris: client.redirect_uris.clone(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        public: client.secret_hash.is_none(),
        grant_types: client.grant_types.clone(),
        pre_consented: client.pre_consented,
        id_token_signed_response_alg: client.id_token_alg.clone(),
        disabled: client.disabled,
        created_at: client.created_at,
        updated_at: client.updated_at,
    }
}

/// The query's parameters, decoded, each at most once (RFC 6749 §3.1) and of a sane
/// length; an empty value counts as absent.
fn parameters(raw_query: &str) -> Result<HashMap<String, String>, String> {
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        if value.chars().count() > MAX_PARAMETER_CHARS || name.len() > 64 {
            return Err(format!("The request's {name} is too long."));
        }
        if !value.is_empty()
            && parameters
                .insert(name.to_string(), value.into_owned())
                .is_some()
        {
            return Err(format!("The request names {name} twice."));
        }
    }
    Ok(parameters)
}

/// The app's redirect URI with `pairs` added to its query.
fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

fn error_redirect(
    request: &ValidRequest<'_>,
    service: &AuthService,
    error: &str,
    description: &str,
) -> Authorization {
    let mut answer = vec![("error", error), ("error_description", description)];
    answer.extend(request.state.map(|state| ("state", state)));
    answer.push(("iss", service.oidc_issuer()));
    Authorization::Redirect(with_query(request.redirect_uri, &answer))
}

/// The sign-in page, coming back to this very request. After a `prompt=login` sign-in
/// the request comes back without it (or it would ask again forever), and the fresh
/// sign-in is then required by time instead (`max_age`).
fn sign_in_url(parameters: &HashMap<String, String>, prompt_login: bool) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut names: Vec<&String> = parameters.keys().collect();
    names.sort();
    for name in names {
        let value = &parameters[name];
        match name.as_str() {
            "prompt" if prompt_login => {
                let kept: Vec<&str> = value.split(' ').filter(|v| *v != "login").collect();
                if !kept.is_empty() {
                    query.append_pair(name, &kept.join(" "));
                }
            }
            "max_age" if prompt_login => {}
            _ => {
                query.append_pair(name, value);
            }
        }
    }
    if prompt_login {
        let fresh = parameters
            .get("max_age")
            .and_then(|max_age| max_age.parse::<i64>().ok())
            .map_or(FRESH_SIGN_IN_SECS, |max_age| {
                max_age.min(FRESH_SIGN_IN_SECS)
            });
        query.append_pair("max_age", &fresh.to_string());
    }
    format!(
        "/login?next={}",
        app::forms::encode_query_value(&format!("/oauth2/authorize?{}", query.finish()))
    )
}
