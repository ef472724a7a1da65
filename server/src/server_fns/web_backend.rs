//! `WebBackend`: each `AuthBackend` call is one call into the auth core, its errors
//! described as the REST door describes them.

use std::sync::Arc;

use app::{
    backend::{
        AuthBackend, CookiePolicy, IssuedSession, PresentedTokens, ProviderFinish, ProviderStart,
        SignedIn,
    },
    error::AppError,
    model::{
        AppView, AuditPage, AuthorizeAnswer, ClientAction, ClientCreated, ClientInput, ClientView,
        ConsentDecision, EndSessionAnswer, ForwardRuleInput, ForwardRuleView, KeysRotated,
        LinkedAccountsView, PasskeyView, ProviderAction, ProviderInput, ProviderView, Role,
        SessionView, SignInWaysView, TotpSetupView, TwoStepView, UserPage, UserView, Viewer,
        WaysWanted,
    },
};
use async_trait::async_trait;
use axum::http::request::Parts;

use super::{app_error, ceremony_parts};
use crate::{
    api::extract::client_info,
    auth::{
        AdminPrincipal, AuthError, AuthService, ClientInfo, IssuedTokens, PasskeySignup, Principal,
        SignIn, SignupRequest,
    },
    config::Config,
    domain::{PageRequest, WaysOff},
    store::UserChange,
};

const USERS_PER_PAGE: u64 = 20;
const AUDIT_EVENTS_PER_PAGE: u64 = 25;

pub struct WebBackend {
    auth: Arc<AuthService>,
    config: Arc<Config>,
}

impl WebBackend {
    pub fn new(auth: Arc<AuthService>, config: Arc<Config>) -> Self {
        WebBackend { auth, config }
    }

    fn client(&self, request: &Parts) -> ClientInfo {
        client_info(request, &self.config)
    }

    async fn principal(&self, access: Option<&str>) -> Result<Principal, AppError> {
        self.auth.authenticate(access).await.map_err(app_error)
    }

    async fn admin(&self, access: Option<&str>) -> Result<AdminPrincipal, AppError> {
        self.auth
            .authenticate_admin(access)
            .await
            .map_err(app_error)
    }

    fn issued(&self, issued: IssuedTokens) -> IssuedSession {
        let now = issued.issued_at;
        IssuedSession {
            access_token: issued.access_token,
            access_max_age_secs: issued.access_expires_at - now,
            refresh_token: issued.refresh_token.expose().to_owned(),
            refresh_max_age_secs: issued.refresh_expires_at - now,
            viewer: Viewer {
                user: issued.user,
                session_id: issued.session_id,
                access_expires_in: issued.access_expires_at - now,
            },
            device: issued.device,
        }
    }

    fn signed_in(&self, sign_in: SignIn) -> SignedIn {
        match sign_in {
            SignIn::Tokens(issued) => SignedIn::Session(self.issued(issued)),
            SignIn::SecondFactor(step_up) => SignedIn::SecondFactor {
                ticket: step_up.ticket().to_owned(),
                max_age_secs: step_up.expires_at - self.auth.now(),
            },
        }
    }
}

#[async_trait]
impl AuthBackend for WebBackend {
    fn cookie_policy(&self) -> CookiePolicy {
        CookiePolicy {
            secure: self.config.https,
        }
    }

    fn cookie_domain(&self) -> Option<&str> {
        self.config.forward.return_hosts.domain.as_deref()
    }

    fn return_hosts(&self) -> &app::next_path::ReturnHosts {
        &self.config.forward.return_hosts
    }

    async fn sign_in_providers(&self) -> Vec<app::model::ProviderButton> {
        self.auth.sign_in_providers().await
    }

    async fn begin_provider_sign_in(
        &self,
        request: &Parts,
        provider: &str,
        next: Option<&str>,
    ) -> Result<ProviderStart, AppError> {
        self.auth
            .begin_provider_sign_in(provider, next, &self.client(request))
            .await
            .map(provider_start)
            .map_err(app_error)
    }

    async fn finish_provider_sign_in(
        &self,
        request: &Parts,
        access: Option<&str>,
        provider: &str,
        query: &str,
        flow: Option<&str>,
    ) -> Result<ProviderFinish, AppError> {
        let mut callback = crate::auth::ProviderCallback::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "iss" => &mut callback.iss,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                _ => continue,
            };
            // A parameter given twice is not an answer any provider sends.
            if slot.replace(value.into_owned()).is_some() {
                return Err(app_error(crate::auth::AuthError::Invalid(
                    crate::domain::FieldError::new(
                        "query",
                        format!("`{name}` is given more than once"),
                    ),
                )));
            }
        }
        // Who is signed in here matters only to a link; a sign-in ignores it.
        let signed_in_as = self.auth.authenticate(access).await.ok();
        let finished = self
            .auth
            .finish_provider_sign_in(
                provider,
                callback,
                flow,
                signed_in_as.as_ref(),
                &self.client(request),
            )
            .await
            .map_err(app_error)?;
        Ok(match finished {
            crate::auth::ProviderOutcome::SignedIn { sign_in, next } => {
                ProviderFinish::SignedIn(Box::new(self.signed_in(*sign_in)), next)
            }
            crate::auth::ProviderOutcome::Linked { .. } => ProviderFinish::Linked,
        })
    }

    async fn linked_accounts(&self, access: Option<&str>) -> Result<LinkedAccountsView, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .linked_accounts(&principal)
            .await
            .map_err(app_error)
    }

    async fn begin_provider_link(
        &self,
        request: &Parts,
        access: Option<&str>,
        provider: &str,
        current_password: String,
    ) -> Result<ProviderStart, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .begin_provider_link(
                &principal,
                provider,
                current_password,
                &self.client(request),
            )
            .await
            .map(provider_start)
            .map_err(app_error)
    }

    async fn unlink_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        provider: &str,
        subject: &str,
        current_password: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .unlink_identity(
                &principal,
                provider,
                subject,
                current_password,
                &self.client(request),
            )
            .await
            .map_err(app_error)
    }

    async fn authorize(
        &self,
        request: &Parts,
        access: Option<&str>,
        query: &str,
        decision: ConsentDecision,
    ) -> Result<AuthorizeAnswer, AppError> {
        let principal = match self.auth.authenticate(access).await {
            Ok(principal) => Some(principal),
            Err(AuthError::InvalidToken(_)) => None,
            Err(error) => return Err(app_error(error)),
        };
        self.auth
            .authorize(query, principal.as_ref(), decision, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn apps(&self, access: Option<&str>) -> Result<Vec<AppView>, AppError> {
        let principal = self.principal(access).await?;
        self.auth.apps_of(&principal).await.map_err(app_error)
    }

    async fn forget_app(
        &self,
        request: &Parts,
        access: Option<&str>,
        client_id: &str,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .forget_app(&principal, client_id, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn end_session(
        &self,
        request: &Parts,
        access: Option<&str>,
        query: &str,
    ) -> Result<EndSessionAnswer, AppError> {
        let mut hint = None;
        let mut back = None;
        let mut state = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "id_token_hint" => hint = Some(value.into_owned()),
                "post_logout_redirect_uri" => back = Some(value.into_owned()),
                "state" => state = Some(value.into_owned()),
                _ => {}
            }
        }
        let browser = self.auth.authenticate(access).await.ok();
        self.auth
            .end_session(
                hint.as_deref(),
                back.as_deref(),
                state.as_deref(),
                browser.as_ref(),
                &self.client(request),
            )
            .await
            .map_err(app_error)
    }

    async fn viewer(&self, access: Option<&str>) -> Result<Viewer, AppError> {
        let principal = self.principal(access).await?;
        Ok(Viewer {
            user: principal.view(),
            session_id: principal.session_id().to_owned(),
            access_expires_in: principal.token_expires_at - self.auth.now(),
        })
    }

    async fn signup(
        &self,
        request: &Parts,
        username: String,
        password: String,
        email: Option<String>,
    ) -> Result<UserView, AppError> {
        let signup = SignupRequest {
            username,
            password,
            email,
            role: None,
        };
        self.auth
            .signup(signup, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn login(
        &self,
        request: &Parts,
        username: String,
        password: String,
    ) -> Result<SignedIn, AppError> {
        let sign_in = self
            .auth
            .login(&username, password, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.signed_in(sign_in))
    }

    async fn request_sign_in_code(&self, request: &Parts, login: String) -> Result<(), AppError> {
        self.auth
            .request_sign_in_code(&login, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn sign_in_with_email_code(
        &self,
        request: &Parts,
        login: String,
        code: String,
    ) -> Result<SignedIn, AppError> {
        let sign_in = self
            .auth
            .sign_in_with_email_code(&login, &code, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.signed_in(sign_in))
    }

    async fn complete_sign_in(
        &self,
        request: &Parts,
        ticket: &str,
        code: String,
    ) -> Result<IssuedSession, AppError> {
        let issued = self
            .auth
            .complete_sign_in(ticket, &code, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.issued(issued))
    }

    async fn two_step(&self, access: Option<&str>) -> Result<TwoStepView, AppError> {
        let principal = self.principal(access).await?;
        self.auth.two_step(&principal).await.map_err(app_error)
    }

    async fn pending_totp(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<Option<TotpSetupView>, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .pending_totp(&principal, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn begin_totp(&self, request: &Parts, access: Option<&str>) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .begin_totp(&principal, None, &self.client(request))
            .await
            .map(|_| ())
            .map_err(app_error)
    }

    async fn confirm_totp(
        &self,
        request: &Parts,
        access: Option<&str>,
        code: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .confirm_totp(&principal, &code, None, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn regenerate_recovery_codes(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .regenerate_recovery_codes(&principal, None, &self.client(request), true)
            .await
            .map(|_| ())
            .map_err(app_error)
    }

    async fn shown_recovery_codes(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<Option<Vec<String>>, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .shown_recovery_codes(&principal, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn forget_shown_recovery_codes(&self, access: Option<&str>) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .forget_shown_recovery_codes(&principal)
            .await
            .map_err(app_error)
    }

    async fn begin_passkey_registration(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<(String, String, i64), AppError> {
        let principal = self.principal(access).await?;
        let ceremony = self
            .auth
            .begin_passkey_registration(&principal, None, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(ceremony_parts(ceremony))
    }

    async fn finish_passkey_registration(
        &self,
        request: &Parts,
        access: Option<&str>,
        ceremony: &str,
        credential: String,
        name: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .finish_passkey_registration(
                &principal,
                ceremony,
                &credential,
                &name,
                &self.client(request),
            )
            .await
            .map(|_| ())
            .map_err(app_error)
    }

    async fn begin_passkey_sign_in(
        &self,
        request: &Parts,
    ) -> Result<(String, String, i64), AppError> {
        let ceremony = self
            .auth
            .begin_passkey_sign_in(&self.client(request))
            .await
            .map_err(app_error)?;
        Ok(ceremony_parts(ceremony))
    }

    async fn finish_passkey_sign_in(
        &self,
        request: &Parts,
        ceremony: &str,
        credential: String,
    ) -> Result<IssuedSession, AppError> {
        let issued = self
            .auth
            .finish_passkey_sign_in(ceremony, &credential, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.issued(issued))
    }

    async fn begin_passkey_signup(
        &self,
        request: &Parts,
        username: String,
        email: Option<String>,
    ) -> Result<(String, String, i64), AppError> {
        let ceremony = self
            .auth
            .begin_passkey_signup(PasskeySignup { username, email }, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(ceremony_parts(ceremony))
    }

    async fn finish_passkey_signup(
        &self,
        request: &Parts,
        ceremony: &str,
        credential: String,
    ) -> Result<IssuedSession, AppError> {
        let issued = self
            .auth
            .finish_passkey_signup(ceremony, &credential, "", &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.issued(issued))
    }

    async fn step_up_offers_passkey(&self, ticket: &str) -> Result<bool, AppError> {
        self.auth
            .step_up_offers_passkey(ticket)
            .await
            .map_err(app_error)
    }

    async fn begin_step_up_passkey(
        &self,
        request: &Parts,
        ticket: &str,
    ) -> Result<(String, String, i64), AppError> {
        let ceremony = self
            .auth
            .begin_step_up_passkey(ticket, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(ceremony_parts(ceremony))
    }

    async fn complete_sign_in_with_passkey(
        &self,
        request: &Parts,
        ticket: &str,
        ceremony: &str,
        credential: String,
    ) -> Result<IssuedSession, AppError> {
        let issued = self
            .auth
            .complete_sign_in_with_passkey(ticket, ceremony, &credential, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.issued(issued))
    }

    async fn begin_reauthentication_with_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<(String, String, i64), AppError> {
        let principal = self.principal(access).await?;
        let ceremony = self
            .auth
            .begin_reauthentication_with_passkey(&principal, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(ceremony_parts(ceremony))
    }

    async fn reauthenticate_with_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
        ceremony: &str,
        credential: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .reauthenticate_with_passkey(&principal, ceremony, &credential, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn passkeys(&self, access: Option<&str>) -> Result<Vec<PasskeyView>, AppError> {
        let principal = self.principal(access).await?;
        self.auth.passkeys(&principal).await.map_err(app_error)
    }

    async fn rename_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: String,
        name: String,
    ) -> Result<PasskeyView, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .rename_passkey(&principal, &id, &name, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn remove_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: String,
        current_password: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .remove_passkey(&principal, &id, current_password, &self.client(request))
            .await
            .map(|_| ())
            .map_err(app_error)
    }

    async fn remove_second_factors(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
    ) -> Result<u64, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .remove_second_factors(&principal, current_password, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn refresh(&self, request: &Parts, refresh: &str) -> Result<IssuedSession, AppError> {
        let issued = self
            .auth
            .refresh(refresh, &self.client(request))
            .await
            .map_err(app_error)?;
        Ok(self.issued(issued))
    }

    async fn logout(&self, request: &Parts, tokens: &PresentedTokens) -> Result<(), AppError> {
        let client = self.client(request);
        if let Ok(principal) = self.auth.authenticate(tokens.access.as_deref()).await {
            return self
                .auth
                .logout(&principal, &client)
                .await
                .map_err(app_error);
        }
        // The access cookie had expired: end the session through the refresh cookie.
        if let Some(refresh) = &tokens.refresh {
            match self.auth.logout_with_refresh(refresh, &client).await {
                Ok(()) | Err(AuthError::InvalidRefreshToken) => {}
                Err(error) => return Err(app_error(error)),
            }
        }
        Ok(())
    }

    async fn sessions(&self, access: Option<&str>) -> Result<Vec<SessionView>, AppError> {
        let principal = self.principal(access).await?;
        self.auth.sessions(&principal).await.map_err(app_error)
    }

    async fn revoke_session(
        &self,
        request: &Parts,
        access: Option<&str>,
        session_id: &str,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .revoke_session(&principal, session_id, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn revoke_other_sessions(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<u64, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .revoke_other_sessions(&principal, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn change_password(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
        new_password: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .change_password(
                &principal,
                current_password,
                new_password,
                &self.client(request),
            )
            .await
            .map_err(app_error)
    }

    async fn forgot_password(&self, request: &Parts, login: String) -> Result<(), AppError> {
        self.auth
            .request_password_reset(&login, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn reset_password(
        &self,
        request: &Parts,
        token: String,
        new_password: String,
        remove_factors: bool,
    ) -> Result<(), AppError> {
        self.auth
            .reset_password(&token, new_password, remove_factors, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn reauthenticate(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
    ) -> Result<(), AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .reauthenticate(&principal, current_password, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn verify_email(&self, request: &Parts, token: String) -> Result<UserView, AppError> {
        self.auth
            .verify_email(&token, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn change_email(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
        email: String,
    ) -> Result<UserView, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .change_email(&principal, current_password, &email, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn request_verification(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<UserView, AppError> {
        let principal = self.principal(access).await?;
        self.auth
            .request_verification(&principal, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn list_users(
        &self,
        access: Option<&str>,
        search: Option<String>,
        page: u64,
    ) -> Result<UserPage, AppError> {
        let admin = self.admin(access).await?;
        let page = PageRequest::parse(page, USERS_PER_PAGE)
            .map_err(|invalid| app_error(invalid.into()))?;
        let found = self
            .auth
            .list_users(&admin, search, page)
            .await
            .map_err(app_error)?;
        Ok(UserPage {
            users: found.items,
            total: found.total,
            page: page.page(),
            per_page: page.per_page(),
        })
    }

    async fn update_user(
        &self,
        request: &Parts,
        access: Option<&str>,
        user_id: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<UserView, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .update_user(
                &admin,
                user_id,
                UserChange { role, disabled },
                &self.client(request),
            )
            .await
            .map_err(app_error)
    }

    async fn unlock_sign_in(
        &self,
        request: &Parts,
        access: Option<&str>,
        user_id: &str,
    ) -> Result<(), AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .unlock_sign_in(&admin, user_id, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn reset_second_factors(
        &self,
        request: &Parts,
        access: Option<&str>,
        user_id: &str,
    ) -> Result<u64, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .reset_second_factors(&admin, user_id, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn sign_in_ways(&self, access: Option<&str>) -> Result<SignInWaysView, AppError> {
        let principal = self.principal(access).await?;
        self.auth.sign_in_ways(&principal).await.map_err(app_error)
    }

    async fn set_sign_in_ways(
        &self,
        request: &Parts,
        access: Option<&str>,
        wanted: WaysWanted,
        current_password: String,
    ) -> Result<SignInWaysView, AppError> {
        let principal = self.principal(access).await?;
        let off = WaysOff {
            password: !wanted.password,
            passkey: !wanted.passkey,
            email_code: !wanted.email_code,
        };
        self.auth
            .set_sign_in_ways(&principal, off, current_password, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn own_sign_in_locked(&self, access: Option<&str>) -> Result<bool, AppError> {
        let principal = self.auth.authenticate(access).await.map_err(app_error)?;
        self.auth
            .own_sign_in_locked(&principal)
            .await
            .map_err(app_error)
    }

    async fn audit_log(&self, access: Option<&str>, page: u64) -> Result<AuditPage, AppError> {
        let admin = self.admin(access).await?;
        let page = PageRequest::parse(page, AUDIT_EVENTS_PER_PAGE)
            .map_err(|invalid| app_error(invalid.into()))?;
        let found = self
            .auth
            .audit_log(&admin, None, page)
            .await
            .map_err(app_error)?;
        Ok(AuditPage {
            events: found.items,
            total: found.total,
            page: page.page(),
            per_page: page.per_page(),
        })
    }

    async fn forward_rules(&self, access: Option<&str>) -> Result<Vec<ForwardRuleView>, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .list_forward_rules(&admin)
            .await
            .map_err(app_error)
    }

    async fn save_forward_rule(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: Option<&str>,
        input: &ForwardRuleInput,
    ) -> Result<ForwardRuleView, AppError> {
        let admin = self.admin(access).await?;
        let client = self.client(request);
        match id {
            Some(id) => {
                self.auth
                    .change_forward_rule(&admin, id, input, &client)
                    .await
            }
            None => self.auth.add_forward_rule(&admin, input, &client).await,
        }
        .map_err(app_error)
    }

    async fn remove_forward_rule(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
    ) -> Result<(), AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .remove_forward_rule(&admin, id, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn oidc_clients(&self, access: Option<&str>) -> Result<Vec<ClientView>, AppError> {
        let admin = self.admin(access).await?;
        self.auth.list_clients(&admin).await.map_err(app_error)
    }

    async fn register_oidc_client(
        &self,
        request: &Parts,
        access: Option<&str>,
        input: ClientInput,
    ) -> Result<ClientCreated, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .register_client(&admin, input, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn manage_oidc_client(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
        action: ClientAction,
    ) -> Result<Option<String>, AppError> {
        let admin = self.admin(access).await?;
        let client = self.client(request);
        match action {
            ClientAction::Disable | ClientAction::Enable => self
                .auth
                .set_client_disabled(&admin, id, action == ClientAction::Disable, &client)
                .await
                .map(|_| None),
            ClientAction::RotateSecret => self
                .auth
                .rotate_client_secret(&admin, id, &client)
                .await
                .map(|created| created.client_secret),
            ClientAction::Remove => self
                .auth
                .remove_client(&admin, id, &client)
                .await
                .map(|()| None),
        }
        .map_err(app_error)
    }

    async fn sign_in_provider_list(
        &self,
        access: Option<&str>,
    ) -> Result<Vec<ProviderView>, AppError> {
        let admin = self.admin(access).await?;
        self.auth.list_providers(&admin).await.map_err(app_error)
    }

    async fn add_sign_in_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        input: ProviderInput,
    ) -> Result<ProviderView, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .add_provider(&admin, input, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn change_sign_in_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
        input: ProviderInput,
    ) -> Result<ProviderView, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .change_provider(&admin, id, input, &self.client(request))
            .await
            .map_err(app_error)
    }

    async fn manage_sign_in_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
        action: ProviderAction,
    ) -> Result<(), AppError> {
        let admin = self.admin(access).await?;
        let client = self.client(request);
        match action {
            ProviderAction::Disable | ProviderAction::Enable => self
                .auth
                .set_provider_disabled(&admin, id, action == ProviderAction::Disable, &client)
                .await
                .map(drop),
            ProviderAction::Remove => self.auth.remove_provider(&admin, id, &client).await,
        }
        .map_err(app_error)
    }

    async fn rotate_signing_keys(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<KeysRotated, AppError> {
        let admin = self.admin(access).await?;
        self.auth
            .rotate_signing_keys(&admin, &self.client(request))
            .await
            .map_err(app_error)
    }
}

fn provider_start(redirect: crate::auth::ProviderRedirect) -> ProviderStart {
    ProviderStart {
        location: redirect.location,
        flow: redirect.sealed_flow,
        max_age_secs: redirect.max_age_secs,
    }
}
