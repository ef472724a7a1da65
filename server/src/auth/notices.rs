//! Mails that tell an account's owner about a change to how the account is entered: a
//! thief who got in changes exactly these, and the owner should hear of it at once.

use super::{AuthService, ClientInfo};
use crate::{mail::Mail, store::UserRecord};

/// A change the owner is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AccountChange {
    PasswordChanged,
    PasswordReset {
        factors_removed: bool,
    },
    PasskeyAdded,
    PasskeyRemoved,
    AuthenticatorAdded,
    RecoveryCodesReplaced,
    SecondStepRemoved,
    SecondStepResetByAdmin,
    /// Sent to the address the account had before.
    AddressChanged,
    AddressRemoved,
    /// Sent to the owner of a verified address that another account was given.
    AddressClaimed,
    WaysChanged,
    IdentityLinked,
    IdentityUnlinked,
}

impl AccountChange {
    fn subject(self) -> &'static str {
        match self {
            AccountChange::PasswordChanged | AccountChange::PasswordReset { .. } => {
                "Your Gatehouse password was changed"
            }
            AccountChange::PasskeyAdded => "A passkey was added to your Gatehouse account",
            AccountChange::PasskeyRemoved => "A passkey was removed from your Gatehouse account",
            AccountChange::AuthenticatorAdded => {
                "Two-step sign-in was turned on for your Gatehouse account"
            }
            AccountChange::RecoveryCodesReplaced => {
                "New recovery codes were made for your Gatehouse account"
            }
            AccountChange::SecondStepRemoved | AccountChange::SecondStepResetByAdmin => {
                "Two-step sign-in was turned off for your Gatehouse account"
            }
            AccountChange::AddressChanged | AccountChange::AddressRemoved => {
                "The email address of your Gatehouse account was changed"
            }
            AccountChange::AddressClaimed => "Someone tried to use your email address on Gatehouse",
            AccountChange::WaysChanged => {
                "The ways to sign in to your Gatehouse account were changed"
            }
            AccountChange::IdentityLinked => {
                "Another provider's account can now sign in to your Gatehouse account"
            }
            AccountChange::IdentityUnlinked => {
                "Another provider's account was unlinked from your Gatehouse account"
            }
        }
    }

    fn what_happened(self) -> &'static str {
        match self {
            AccountChange::PasswordChanged => "the password of your account was changed",
            AccountChange::PasswordReset {
                factors_removed: false,
            } => {
                "the password of your account was reset with a link we mailed you; every session was signed out"
            }
            AccountChange::PasswordReset {
                factors_removed: true,
            } => {
                "the password of your account was reset with a link we mailed you; every session was signed out and every passkey and the authenticator app were removed"
            }
            AccountChange::PasskeyAdded => "a new passkey can now sign in to your account",
            AccountChange::PasskeyRemoved => "a passkey was removed from your account",
            AccountChange::AuthenticatorAdded => {
                "an authenticator app now gives the second step of every sign-in to your account"
            }
            AccountChange::RecoveryCodesReplaced => {
                "new recovery codes were made for your account; the earlier ones no longer work"
            }
            AccountChange::SecondStepRemoved => {
                "the authenticator app and the recovery codes were removed from your account"
            }
            AccountChange::SecondStepResetByAdmin => {
                "an administrator removed the authenticator app, the recovery codes and every passkey of your account"
            }
            AccountChange::AddressChanged => {
                "your account now has another email address: this one gets no more mail about it"
            }
            AccountChange::AddressRemoved => {
                "the email address was removed from your account: this one gets no more mail about it"
            }
            AccountChange::AddressClaimed => {
                "someone gave this address to another Gatehouse account; it stays yours, and that account cannot verify or use it"
            }
            AccountChange::WaysChanged => {
                "the ways your account may sign in were changed on its account page"
            }
            AccountChange::IdentityLinked => {
                "an account at another provider was linked to your account: signing in there now signs in here"
            }
            AccountChange::IdentityUnlinked => {
                "an account at another provider was unlinked from your account and no longer signs in here"
            }
        }
    }
}

impl AuthService {
    /// Tells the owner at the account's verified address (an unverified one may not be
    /// theirs); `previous` names the address the account had before an address change.
    /// Queued, never awaited: a mail that cannot go out is logged, the change stands.
    pub(super) fn tell_owner(
        &self,
        user: &UserRecord,
        change: AccountChange,
        client: &ClientInfo,
        previous: Option<(&str, bool)>,
    ) {
        let (address, verified) = match previous {
            Some(previous) => previous,
            None => match &user.email {
                Some(address) => (address.as_str(), user.email_verified),
                None => return,
            },
        };
        if !verified {
            return;
        }
        match notice_mail(user, address, change, client) {
            Ok(mail) => self.mailer.send(mail),
            Err(error) => tracing::error!(
                error = &error as &dyn std::error::Error,
                "a notice to the account's owner could not be written"
            ),
        }
    }
}

fn notice_mail(
    user: &UserRecord,
    address: &str,
    change: AccountChange,
    client: &ClientInfo,
) -> super::AuthResult<Mail> {
    let what = change.what_happened();
    // The address is parsed, so it is safe in HTML; the browser's own description is not
    // and stays out.
    let from = client
        .ip
        .map(|ip| format!(" (from the address {ip})"))
        .unwrap_or_default();
    let name = &user.username;
    Ok(Mail {
        to: super::recovery::recipient(user, address)?,
        subject: change.subject().to_owned(),
        text: format!(
            "Hello {name},\n\n{what}{from}.\n\n\
             If this was you, there is nothing to do. If it was not, reset your password at once \
             (\"Forgot your password?\" on the sign-in page) and tell your administrator.\n"
        ),
        html: format!(
            "<p>Hello {name},</p><p>{what}{from}.</p><p>If this was you, there is nothing to do. \
             If it was not, reset your password at once (&ldquo;Forgot your password?&rdquo; on \
             the sign-in page) and tell your administrator.</p>"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_has_its_own_words_and_none_ends_in_a_full_stop_twice() {
        let changes = [
            AccountChange::PasswordChanged,
            AccountChange::PasswordReset {
                factors_removed: false,
            },
            AccountChange::PasswordReset {
                factors_removed: true,
            },
            AccountChange::PasskeyAdded,
            AccountChange::PasskeyRemoved,
            AccountChange::AuthenticatorAdded,
            AccountChange::RecoveryCodesReplaced,
            AccountChange::SecondStepRemoved,
            AccountChange::SecondStepResetByAdmin,
            AccountChange::AddressChanged,
            AccountChange::AddressRemoved,
            AccountChange::AddressClaimed,
        ];
        let mut seen = std::collections::HashSet::new();
        for change in changes {
            assert!(seen.insert(change.what_happened()), "{change:?}");
            assert!(!change.what_happened().ends_with('.'), "{change:?}");
        }
    }
}
