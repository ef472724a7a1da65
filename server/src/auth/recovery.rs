//! Proving an address and getting back into an account by email: verification links,
//! password-reset links, and the account's address itself.
//!
//! A reset request answers the same whatever it names: it is parsed, counted against the
//! throttles, and answered; looking the account up, making the link and queueing the mail
//! happen afterwards, in a task of their own, so neither the answer nor its timing says
//! whether an account or an address exists.

use std::sync::Arc;

use app::model::{Role, UserView};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal, TokenProblem, audit::AuditActor,
    notices::AccountChange, service::view_of, token::random_token, ways::password_usable,
};
use crate::{
    domain::{Email, FieldError, LINK_PREFIX, LinkHash, LinkPurpose, Password, Username, WaysOff},
    mail::Mail,
    store::{NewEmail, NewLink, UserRecord},
};

/// Where the links in mails lead: pages of the web app.
pub const RESET_PAGE: &str = "/reset-password";
pub const VERIFY_PAGE: &str = "/verify-email";

/// What "forgot my password" (or "email me a code") names: a username, or an address.
#[derive(Debug, Clone)]
pub(super) enum AccountName {
    Username(Username),
    Email(Email),
}

impl AccountName {
    pub(super) fn parse(raw: &str) -> Result<AccountName, FieldError> {
        let parsed = if raw.contains('@') {
            Email::parse(raw).map(AccountName::Email)
        } else {
            Username::parse(raw).map(AccountName::Username)
        };
        parsed.map_err(|_| FieldError::new("login", "is neither a username nor an email address"))
    }

    pub(super) fn key(&self) -> &str {
        match self {
            AccountName::Username(name) => name.key(),
            AccountName::Email(email) => email.key(),
        }
    }
}

impl AuthService {
    pub(super) async fn user_named(&self, name: &AccountName) -> AuthResult<Option<UserRecord>> {
        Ok(match name {
            AccountName::Username(username) => {
                self.store.user_by_username_key(username.key()).await?
            }
            AccountName::Email(email) => self.store.user_by_email_key(email.key()).await?,
        })
    }
}

impl From<&Email> for NewEmail {
    fn from(email: &Email) -> Self {
        NewEmail {
            address: email.as_str().to_owned(),
            key: email.key().to_owned(),
        }
    }
}

/// A mail to an account named by whoever asks for it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum NamedMail {
    ResetLink,
    SignInCode,
}

impl NamedMail {
    /// The per-name limit's key prefix: each kind has its own allowance.
    fn asked_key(self) -> &'static str {
        match self {
            NamedMail::ResetLink => "asked",
            NamedMail::SignInCode => "code asked",
        }
    }

    fn not_sent_event(self) -> &'static str {
        match self {
            NamedMail::ResetLink => "password_reset_not_sent",
            NamedMail::SignInCode => "sign_in_code_not_sent",
        }
    }
}

/// Whether the caller already counted a mail to the account against its limit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MailCounted {
    Already,
    NotYet,
}

/// A link's token as mailed once; only its hash is stored.
struct LinkSecret(String);

impl LinkSecret {
    fn generate() -> AuthResult<LinkSecret> {
        Ok(LinkSecret(random_token(LINK_PREFIX)?))
    }
}

impl AuthService {
    /// "Forgot your password?": always `Ok` for a well-formed name that is not throttled.
    /// A mail goes out only to an enabled account's address (a verified one, unless
    /// configured otherwise).
    #[tracing::instrument(name = "request password reset", skip_all)]
    pub async fn request_password_reset(
        self: &Arc<Self>,
        login: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        self.mail_named_account(login, NamedMail::ResetLink, client)
    }

    /// The shape every mail to an account named by whoever asks shares (a reset link, a
    /// sign-in code): throttled by the asker's address and by the name asked for, then
    /// the same `Ok` whether or not the name is an account. The account is looked up and
    /// the mail sent in a task of its own, so neither the answer nor its time tells.
    pub(super) fn mail_named_account(
        self: &Arc<Self>,
        login: &str,
        kind: NamedMail,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        self.recovery_limiter
            .hit(&client.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let name = AccountName::parse(login)?;
        // Counted by the name asked for, whether or not it exists: the same answer either way.
        self.mail_limiter
            .hit(&format!("{}:{}", kind.asked_key(), name.key()), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let service = self.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(error) = service.mail_if_allowed(&name, kind, &client).await {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    mail = kind.not_sent_event(),
                    "a mail to a named account could not be sent"
                );
            }
        });
        Ok(())
    }

    /// Whether the named account may be mailed (enabled, with an address, verified where
    /// `kind` needs it, under its per-account limit), and if so the mail itself. Every
    /// "no" is audited with its reason; the asker never hears it.
    async fn mail_if_allowed(
        &self,
        name: &AccountName,
        kind: NamedMail,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let user = self.user_named(name).await?;
        let needs_verified = match kind {
            NamedMail::ResetLink => self.links.reset_needs_verified_email,
            NamedMail::SignInCode => true,
        };
        let why_not = match &user {
            None => Some("no such account"),
            Some(user) if user.disabled => Some("account disabled"),
            Some(user) if user.email.is_none() => Some("no address on the account"),
            Some(user) if needs_verified && !user.email_verified => Some("address not verified"),
            Some(user) if kind == NamedMail::SignInCode && user.ways_off.email_code => {
                Some("codes by email turned off by the owner")
            }
            Some(user)
                if self
                    .mail_limiter
                    .hit(&format!("account:{}", user.id), self.now())
                    .is_err() =>
            {
                Some("throttled")
            }
            Some(_) => None,
        };
        let (Some(user), None) = (&user, why_not) else {
            self.audit(
                kind.not_sent_event(),
                AuditActor::from_user(user.as_ref()),
                client,
                why_not,
            )
            .await;
            return Ok(());
        };
        let Some(address) = user.email.clone() else {
            return Ok(());
        };
        match kind {
            NamedMail::ResetLink => self.send_reset_link(user, &address, client).await,
            NamedMail::SignInCode => self.send_sign_in_code(user, &address, client).await,
        }
    }

    async fn send_reset_link(
        &self,
        user: &UserRecord,
        address: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let link = self
            .issue_link(user, LinkPurpose::ResetPassword, address)
            .await?;
        self.mailer
            .send(reset_mail(user, address, &link, self.links.reset_ttl)?);
        self.audit(
            "password_reset_requested",
            AuditActor::User(user),
            client,
            None,
        )
        .await;
        Ok(())
    }

    /// Sets a new password with a reset link, once. Every session of the account ends; the
    /// browser then signs in with the new password like any other.
    #[tracing::instrument(name = "reset password", skip_all, fields(user_id))]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: String,
        remove_factors: bool,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        self.recovery_limiter
            .hit(&client.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let hash = LinkHash::of_presented(token).ok_or(AuthError::InvalidLink)?;
        let new_password = Password::parse_new(new_password, "new_password")?;
        // Checked before hashing, so a dead link costs no argon2 run.
        self.store
            .find_link(&hash, LinkPurpose::ResetPassword, now)
            .await?
            .ok_or(AuthError::InvalidLink)?;
        let new_hash = self.hasher.hash(&new_password).await?;
        let user = self
            .store
            .use_reset_link(&hash, &new_hash, now)
            .await?
            .ok_or(AuthError::InvalidLink)?;
        tracing::Span::current().record("user_id", user.id.as_str());
        // Whoever was guessing the old password has nothing left to guess: the lockout
        // and the cumulative cap are lifted.
        self.clear_sign_in_failures(&user.username).await?;
        self.audit("password_reset", AuditActor::User(&user), client, None)
            .await;
        // A password chosen through the mailed link is one to sign in with: the owner who
        // had turned password sign-in off has just said otherwise, and the verified
        // address stays a way back in whatever else was turned off.
        if user.ways_off.password {
            self.store
                .set_ways_off(
                    &user.id,
                    WaysOff {
                        password: false,
                        ..user.ways_off
                    },
                )
                .await?;
        }
        // Whoever forced the reset may have added a passkey or an app of their own; by
        // default they go too. After the password and the sessions, so that an
        // interruption here leaves the account in its owner's hands, factors to remove
        // by hand from the account page.
        let factors_removed = remove_factors && self.remove_every_factor(&user.id).await?;
        if factors_removed {
            self.audit(
                "second_factors_removed",
                AuditActor::User(&user),
                client,
                Some("with a password reset"),
            )
            .await;
        }
        self.tell_owner(
            &user,
            AccountChange::PasswordReset { factors_removed },
            client,
            None,
        );
        Ok(())
    }

    /// Marks the address a verification link was sent to as verified, once.
    #[tracing::instrument(name = "verify email", skip_all, fields(user_id))]
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> AuthResult<UserView> {
        self.recovery_limiter
            .hit(&client.throttle_key(), self.now())
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let hash = LinkHash::of_presented(token).ok_or(AuthError::InvalidLink)?;
        let user = self
            .store
            .use_verification_link(&hash, self.now())
            .await?
            .ok_or(AuthError::InvalidLink)?;
        tracing::Span::current().record("user_id", user.id.as_str());
        self.audit("email_verified", AuditActor::User(&user), client, None)
            .await;
        Ok(view_of(&user))
    }

    /// Sends a new verification link to the signed-in user's address.
    #[tracing::instrument(name = "request verification", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn request_verification(
        self: &Arc<Self>,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<UserView> {
        let user = self.current_user(principal).await?;
        if user.email.is_none() {
            return Err(AuthError::Invalid(FieldError::new(
                "email",
                "is not set: add an address first",
            )));
        }
        if !user.email_verified {
            self.mail_limiter
                .hit(&format!("account:{}", user.id), self.now())
                .map_err(|retry_after| AuthError::Throttled { retry_after })?;
            self.confirm_address_later(&user, client, MailCounted::Already);
        }
        Ok(view_of(&user))
    }

    /// Sets, changes or (with an empty address) removes the signed-in user's address.
    /// Needs the current password (a wrong one counts toward the login lockout); a new
    /// address is unverified and gets a verification link.
    #[tracing::instrument(name = "change email", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn change_email(
        self: &Arc<Self>,
        principal: &Principal,
        current_password: String,
        email: &str,
        client: &ClientInfo,
    ) -> AuthResult<UserView> {
        let email = match email.trim() {
            "" => None,
            given => Some(Email::parse(given)?),
        };
        let user = self
            .confirm_current_password(principal, current_password, client)
            .await?;
        if self.links.require_verified_email && email.is_none() && user.role != Role::Admin {
            return Err(AuthError::Invalid(FieldError::new(
                "email",
                "is required on this server",
            )));
        }
        if email.as_ref().map(Email::as_str) == user.email.as_deref() {
            return Ok(view_of(&user));
        }
        // Without a password, a passkey or another provider it may use, the address is
        // the account's only way in.
        if email.is_none()
            && !password_usable(&user)
            && !self.passkey_usable(&user).await?
            && !self.provider_usable(&user.id).await?
        {
            return Err(AuthError::LastFactor);
        }
        let previous = user
            .email
            .clone()
            .map(|address| (address, user.email_verified));
        let user = self
            .store
            .set_email(&user.id, email.as_ref().map(NewEmail::from).as_ref())
            .await?;
        self.audit("email_changed", AuditActor::User(&user), client, None)
            .await;
        if let Some((address, verified)) = &previous {
            let change = match email {
                Some(_) => AccountChange::AddressChanged,
                None => AccountChange::AddressRemoved,
            };
            self.tell_owner(&user, change, client, Some((address, *verified)));
        }
        self.confirm_address_later(&user, client, MailCounted::NotYet);
        Ok(view_of(&user))
    }

    /// After an address was given (a sign-up, a change): a verification link to it — or,
    /// when another account verified it first, a word to that account's owner instead, and
    /// nothing that would tell the asker (the answer is the same, status, body and time:
    /// this runs in a task of its own). A failure to send is logged, never a failed request.
    pub(super) fn confirm_address_later(
        self: &Arc<Self>,
        user: &UserRecord,
        client: &ClientInfo,
        counted: MailCounted,
    ) {
        if user.email.is_none() {
            return;
        }
        let service = self.clone();
        let user = user.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(error) = service.confirm_address(&user, &client, counted).await {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "a verification link could not be sent"
                );
            }
        });
    }

    async fn confirm_address(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
        counted: MailCounted,
    ) -> AuthResult<()> {
        let Some(address) = &user.email else {
            return Ok(());
        };
        let key = Email::parse(address)?.key().to_owned();
        let now = self.now();
        if let Some(holder) = self.store.user_by_email_key(&key).await?
            && holder.id != user.id
            && holder.email_verified
        {
            self.audit(
                "email_claim_refused",
                AuditActor::User(user),
                client,
                Some("the address is another account's, verified"),
            )
            .await;
            if self
                .mail_limiter
                .hit(&format!("account:{}", holder.id), now)
                .is_ok()
            {
                self.tell_owner(&holder, AccountChange::AddressClaimed, client, None);
            }
            return Ok(());
        }
        if counted == MailCounted::Already
            || self
                .mail_limiter
                .hit(&format!("account:{}", user.id), now)
                .is_ok()
        {
            self.send_verification(user, client).await?;
        }
        Ok(())
    }

    /// Whether this account may sign in under the verified-address rule.
    pub(super) fn check_verified_email(&self, user: &UserRecord) -> AuthResult<()> {
        let verified = user.email.is_some() && user.email_verified;
        if self.links.require_verified_email && !verified && user.role != Role::Admin {
            return Err(AuthError::EmailNotVerified);
        }
        Ok(())
    }

    pub(super) fn email_required_at_signup(&self) -> bool {
        self.links.require_verified_email
    }

    async fn send_verification(&self, user: &UserRecord, client: &ClientInfo) -> AuthResult<()> {
        let Some(address) = user.email.clone() else {
            return Ok(());
        };
        let link = self
            .issue_link(user, LinkPurpose::VerifyEmail, &address)
            .await?;
        self.mailer.send(verification_mail(
            user,
            &address,
            &link,
            self.links.verify_ttl,
        )?);
        self.audit(
            "email_verification_sent",
            AuditActor::User(user),
            client,
            None,
        )
        .await;
        Ok(())
    }

    pub(super) async fn current_user(&self, principal: &Principal) -> AuthResult<UserRecord> {
        self.store
            .user_by_id(principal.user_id())
            .await?
            .ok_or(AuthError::InvalidToken(TokenProblem::UserInactive))
    }

    /// Stores a new link's hash and returns the URL to mail.
    async fn issue_link(
        &self,
        user: &UserRecord,
        purpose: LinkPurpose,
        address: &str,
    ) -> AuthResult<String> {
        let now = self.now();
        let (page, ttl) = match purpose {
            LinkPurpose::ResetPassword => (RESET_PAGE, self.links.reset_ttl),
            LinkPurpose::VerifyEmail => (VERIFY_PAGE, self.links.verify_ttl),
            // Not a link: a code, made by `send_sign_in_code`.
            LinkPurpose::SignInCode => {
                return Err(AuthError::Unexpected(
                    "a sign-in code is not issued as a link".into(),
                ));
            }
        };
        let secret = LinkSecret::generate()?;
        self.store
            .create_link(NewLink {
                hash: LinkHash::of_issued(&secret.0),
                user_id: user.id.clone(),
                purpose,
                email: address.to_owned(),
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        Ok(format!(
            "{}{page}?token={}",
            self.links.public_url, secret.0
        ))
    }
}

pub(super) fn recipient(user: &UserRecord, address: &str) -> AuthResult<lettre::message::Mailbox> {
    let address = address
        .parse()
        .map_err(|error: lettre::address::AddressError| AuthError::Unexpected(error.into()))?;
    Ok(lettre::message::Mailbox::new(
        Some(user.username.clone()),
        address,
    ))
}

pub(super) fn minutes(secs: i64) -> String {
    match secs {
        s if s % 3600 == 0 && s >= 3600 => format!("{} hours", s / 3600),
        s if s < 120 => "1 minute".to_owned(),
        s => format!("{} minutes", s / 60),
    }
}

// Usernames hold only letters, digits, '.', '_' and '-', and links only URL-safe
// characters (both checked at parse), so nothing put into these bodies needs HTML escaping.

fn reset_mail(user: &UserRecord, address: &str, link: &str, ttl: i64) -> AuthResult<Mail> {
    let within = minutes(ttl);
    Ok(Mail {
        to: recipient(user, address)?,
        subject: "Reset your Gatehouse password".to_owned(),
        text: format!(
            "Hello {name},\n\nsomeone (we hope you) asked to reset the password of your Gatehouse account.\n\
             To choose a new password, open this link within {within}:\n\n{link}\n\n\
             It works once. Choosing a new password signs you out everywhere.\n\
             If you did not ask for this, ignore this mail: your password stays as it is.\n",
            name = user.username
        ),
        html: format!(
            "<p>Hello {name},</p><p>someone (we hope you) asked to reset the password of your \
             Gatehouse account. To choose a new password, open this link within {within}:</p>\
             <p><a href=\"{link}\">Choose a new password</a></p><p>It works once. Choosing a new \
             password signs you out everywhere. If you did not ask for this, ignore this mail: your \
             password stays as it is.</p>",
            name = user.username
        ),
    })
}

fn verification_mail(user: &UserRecord, address: &str, link: &str, ttl: i64) -> AuthResult<Mail> {
    let within = minutes(ttl);
    Ok(Mail {
        to: recipient(user, address)?,
        subject: "Confirm your email address for Gatehouse".to_owned(),
        text: format!(
            "Hello {name},\n\nplease confirm that {address} is your address by opening this link within {within}:\n\n{link}\n\n\
             If you did not give this address to Gatehouse, ignore this mail.\n",
            name = user.username
        ),
        html: format!(
            "<p>Hello {name},</p><p>please confirm that this is your address by opening this link \
             within {within}:</p><p><a href=\"{link}\">Confirm my address</a></p><p>If you did not \
             give this address to Gatehouse, ignore this mail.</p>",
            name = user.username
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_names_a_username_or_an_address_and_nothing_else() {
        assert!(matches!(
            AccountName::parse("Ada"),
            Ok(AccountName::Username(_))
        ));
        assert!(matches!(
            AccountName::parse(" Ada@Example.org "),
            Ok(AccountName::Email(email)) if email.key() == "ada@example.org"
        ));
        for bad in ["", "a b", "ada@example.org\r\nBcc: eve@example.org", "x@y"] {
            let error = AccountName::parse(bad).unwrap_err();
            assert_eq!(error.field, "login", "{bad:?}");
        }
    }

    #[test]
    fn a_link_token_is_256_random_bits_that_hash_only_when_well_formed() {
        let first = LinkSecret::generate().unwrap();
        let second = LinkSecret::generate().unwrap();
        assert_ne!(first.0, second.0);
        assert_eq!(first.0.len(), LINK_PREFIX.len() + 43);
        assert_eq!(
            LinkHash::of_presented(&first.0),
            Some(LinkHash::of_issued(&first.0))
        );
        assert_eq!(LinkHash::of_presented("ml_short"), None);
        assert_eq!(LinkHash::of_presented(&first.0.replace("ml_", "rt_")), None);
    }

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(minutes(1800), "30 minutes");
        assert_eq!(minutes(86_400), "24 hours");
        assert_eq!(minutes(30), "1 minute");
    }
}
