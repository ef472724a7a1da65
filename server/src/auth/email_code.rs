//! Signing in with a code sent by email: eight digits mailed to an account's verified
//! address, good for ten minutes and one sign-in. The mail also carries a link to the
//! page that takes the code, filled in; opening it signs nobody in (mail scanners open
//! links), a button on it does.
//!
//! Asking for a code answers the same whatever it names, as a reset request does: the
//! account is looked up and the mail sent in a task of its own. A guess at a code takes
//! a slot of the same lockout as a password before it is checked. The store keeps a
//! keyed tag of the code (`FactorKeys::code_tag`), never the code. On an account with a
//! second factor the code is the first step and the second is asked for as after a
//! password.

use std::sync::Arc;

use super::{
    AuthError, AuthResult, AuthService, ClientInfo,
    audit::AuditActor,
    login::SignIn,
    recovery::{AccountName, NamedMail, minutes, recipient},
    second_factor::random_bytes,
};
use crate::{
    domain::{FieldError, FirstStep, LinkHash, LinkPurpose, SignInMethod},
    mail::Mail,
    store::{NewLink, UserRecord},
};

/// How long a mailed code works.
pub const SIGN_IN_CODE_TTL_SECS: i64 = 600;
const CODE_DIGITS: usize = 8;
/// Where the link in the mail leads.
pub const SIGN_IN_CODE_PAGE: &str = "/login/email-code";

/// A code as typed: eight digits, spaces and dashes ignored (people copy "1234 5678").
fn parse_code(raw: &str) -> Result<String, FieldError> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .take(CODE_DIGITS + 1)
        .collect();
    if digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(FieldError::new(
            "code",
            "must be the 8 digits from the mail",
        ))
    }
}

/// Eight uniformly random digits: a 32-bit draw, redrawn above the largest multiple of
/// 10^8 below 2^32 so that no code is likelier than another.
fn new_code() -> AuthResult<String> {
    const RANGE: u32 = 100_000_000;
    const LIMIT: u32 = u32::MAX - (u32::MAX % RANGE);
    loop {
        let draw = u32::from_le_bytes(random_bytes::<4>()?);
        if draw < LIMIT {
            return Ok(format!("{:08}", draw % RANGE));
        }
    }
}

impl AuthService {
    fn sign_in_code_hash(&self, user_id: &str, code: &str) -> LinkHash {
        LinkHash::of_code_tag(&self.factor_keys.code_tag(user_id, code))
    }

    /// "Email me a code": `Ok` for every well-formed name that is not throttled. A code
    /// goes out only to an enabled account's verified address.
    #[tracing::instrument(name = "request sign-in code", skip_all)]
    pub async fn request_sign_in_code(
        self: &Arc<Self>,
        login: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        self.mail_named_account(login, NamedMail::SignInCode, client)
    }

    /// The mail itself, once `mail_named_account` found the account may have it.
    pub(super) async fn send_sign_in_code(
        &self,
        user: &UserRecord,
        address: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        let code = new_code()?;
        self.store
            .create_link(NewLink {
                hash: self.sign_in_code_hash(&user.id, &code),
                user_id: user.id.clone(),
                purpose: LinkPurpose::SignInCode,
                email: address.to_owned(),
                created_at: now,
                expires_at: now + SIGN_IN_CODE_TTL_SECS,
            })
            .await?;
        let link = format!(
            "{}{SIGN_IN_CODE_PAGE}?login={}&code={code}",
            self.links.public_url,
            app::forms::encode_query_value(&user.username)
        );
        self.mailer.send(code_mail(user, address, &code, &link)?);
        self.audit("sign_in_code_sent", AuditActor::User(user), client, None)
            .await;
        Ok(())
    }

    /// Signs in with a mailed code: tokens, or a step-up ticket when the account has a
    /// second factor. Every refusal of a well-formed guess is the same `InvalidCode`
    /// (unknown name, wrong, used or expired code) and takes a slot of the lockout.
    #[tracing::instrument(name = "sign in with code", skip_all, fields(user_id))]
    pub async fn sign_in_with_email_code(
        &self,
        login: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AuthResult<SignIn> {
        let now = self.now();
        let name = AccountName::parse(login)?;
        let code = parse_code(code)?;
        let user = self.user_named(&name).await?;
        // Counted under the account's username however it was named, so that naming it
        // by its address gets no second lockout to spend.
        let lockout_name = user.as_ref().map_or(login, |user| user.username.as_str());
        let attempt = self
            .reserve_attempt(self.login_keys(lockout_name, client), now)
            .await?;
        let used = match &user {
            Some(user) => {
                self.store
                    .use_sign_in_code(&self.sign_in_code_hash(&user.id, &code), now)
                    .await?
            }
            None => None,
        };
        let user = match (user, used) {
            // The code proves the address it was sent to, and only while it is the
            // account's verified one (changing the address ends codes, too).
            (Some(user), Some(used))
                if user.email_verified && user.email.as_deref() == Some(used.email.as_str()) =>
            {
                user
            }
            (user, _) => {
                let detail = if user.is_some() {
                    "email code"
                } else {
                    "email code, unknown account"
                };
                self.audit(
                    "login_failed",
                    AuditActor::from_user(user.as_ref()),
                    client,
                    Some(detail),
                )
                .await;
                return Err(AuthError::InvalidCode);
            }
        };
        tracing::Span::current().record("user_id", user.id.as_str());
        if !self.store.second_factors(&user.id).await?.required() {
            return self
                .admit(&user, attempt, client, now, SignInMethod::EmailCode)
                .await
                .map(SignIn::Tokens);
        }
        self.second_step_after(&user, attempt, client, FirstStep::EmailCode, now)
            .await
    }
}

fn code_mail(user: &UserRecord, address: &str, code: &str, link: &str) -> AuthResult<Mail> {
    let within = minutes(SIGN_IN_CODE_TTL_SECS);
    let spaced = format!("{} {}", &code[..4], &code[4..]);
    Ok(Mail {
        to: recipient(user, address)?,
        subject: format!("Your Gatehouse sign-in code: {spaced}"),
        text: format!(
            "Hello {name},\n\nyour code to sign in to Gatehouse is\n\n    {spaced}\n\n\
             Type it on the sign-in page within {within}, or open this link and press the button:\n\n{link}\n\n\
             It works once. If you did not ask for it, ignore this mail: nobody can sign in \
             without the code.\n",
            name = user.username
        ),
        // Usernames hold only letters, digits, '.', '_' and '-', the code digits and the
        // link percent-encoded text (all checked when made): nothing here needs escaping.
        html: format!(
            "<p>Hello {name},</p><p>your code to sign in to Gatehouse is</p>\
             <p style=\"font-size:1.5em;letter-spacing:0.1em\"><strong>{spaced}</strong></p>\
             <p>Type it on the sign-in page within {within}, or \
             <a href=\"{link}\">open the sign-in page with it filled in</a>.</p>\
             <p>It works once. If you did not ask for it, ignore this mail: nobody can sign in \
             without the code.</p>",
            name = user.username
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_eight_digits_however_it_was_spaced() {
        assert_eq!(parse_code("1234 5678").unwrap(), "12345678");
        assert_eq!(parse_code(" 1234-5678 ").unwrap(), "12345678");
        for bad in ["", "1234567", "123456789", "1234567a", "١٢٣٤٥٦٧٨", "$ne"] {
            assert!(parse_code(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn new_codes_are_eight_digits_and_differ() {
        let codes: std::collections::HashSet<String> =
            (0..64).map(|_| new_code().unwrap()).collect();
        assert!(
            codes
                .iter()
                .all(|code| parse_code(code).as_deref() == Ok(code))
        );
        // 64 draws from 10^8 repeat with a chance of about 2 in 10^5.
        assert!(codes.len() >= 63);
    }
}
