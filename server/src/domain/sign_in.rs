//! How the holder of a session proved who they are. The audit's `login` event names it,
//! and an ID token states it as `amr` (RFC 8176) and `acr`, so that an app can ask for
//! more than a password before it lets someone in.

/// The `acr` of a sign-in with one factor.
pub const ACR_ONE_FACTOR: &str = "1fa";
/// The `acr` of a sign-in with two: a password and a second step, or a passkey (which
/// Gatehouse always asks to verify its user, by PIN or biometrics).
pub const ACR_TWO_FACTORS: &str = "2fa";
/// Every `acr` an ID token may carry, weakest first: what discovery publishes.
pub const ACR_VALUES: [&str; 2] = [ACR_ONE_FACTOR, ACR_TWO_FACTORS];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    PasswordAndTotp,
    PasswordAndRecoveryCode,
    PasswordAndPasskey,
    /// A passkey alone (discoverable, user verified).
    Passkey,
    /// A one-time code mailed to the account's verified address.
    EmailCode,
    EmailCodeAndTotp,
    EmailCodeAndRecoveryCode,
    EmailCodeAndPasskey,
    /// Another provider's sign-in (an OpenID Connect ID token for a linked account).
    Provider,
    /// Another provider's sign-in that says it took two factors (`amr` has `mfa`), from
    /// a provider whose word on that the admin trusts.
    ProviderWithMfa,
    ProviderAndTotp,
    ProviderAndRecoveryCode,
    ProviderAndPasskey,
    /// A session or code stored before the method was: only whether a second factor
    /// was used is known.
    Unrecorded {
        second_factor: bool,
    },
}

impl SignInMethod {
    /// Whether the sign-in took two factors: what forward-auth rules and `acr` read.
    pub fn is_multi_factor(self) -> bool {
        match self {
            SignInMethod::Password | SignInMethod::EmailCode | SignInMethod::Provider => false,
            SignInMethod::PasswordAndTotp
            | SignInMethod::PasswordAndRecoveryCode
            | SignInMethod::PasswordAndPasskey
            | SignInMethod::Passkey
            | SignInMethod::EmailCodeAndTotp
            | SignInMethod::EmailCodeAndRecoveryCode
            | SignInMethod::EmailCodeAndPasskey
            | SignInMethod::ProviderWithMfa
            | SignInMethod::ProviderAndTotp
            | SignInMethod::ProviderAndRecoveryCode
            | SignInMethod::ProviderAndPasskey => true,
            SignInMethod::Unrecorded { second_factor } => second_factor,
        }
    }

    /// RFC 8176 method references. A passkey is `hwk`: a key an authenticator holds,
    /// whose private half never leaves it (no attestation is asked for, so whether it
    /// syncs is not known). A recovery code is one of the account's saved one-time
    /// secrets, not an RFC 6238 code, so it adds only `mfa`. A mailed code is none of
    /// RFC 8176's methods (its `otp` means RFC 4226 and 6238): it is `email`, the name
    /// other providers give it. Another provider's sign-in is `fed` (federated), the
    /// name Microsoft's and others' tokens use.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            SignInMethod::Password => &["pwd"],
            SignInMethod::PasswordAndTotp => &["pwd", "otp", "mfa"],
            SignInMethod::PasswordAndRecoveryCode => &["pwd", "mfa"],
            SignInMethod::PasswordAndPasskey => &["pwd", "hwk", "mfa"],
            SignInMethod::Passkey => &["hwk", "mfa"],
            SignInMethod::EmailCode => &["email"],
            SignInMethod::EmailCodeAndTotp => &["email", "otp", "mfa"],
            SignInMethod::EmailCodeAndRecoveryCode => &["email", "mfa"],
            SignInMethod::EmailCodeAndPasskey => &["email", "hwk", "mfa"],
            SignInMethod::Provider => &["fed"],
            SignInMethod::ProviderWithMfa => &["fed", "mfa"],
            SignInMethod::ProviderAndTotp => &["fed", "otp", "mfa"],
            SignInMethod::ProviderAndRecoveryCode => &["fed", "mfa"],
            SignInMethod::ProviderAndPasskey => &["fed", "hwk", "mfa"],
            SignInMethod::Unrecorded {
                second_factor: true,
            } => &["mfa"],
            SignInMethod::Unrecorded {
                second_factor: false,
            } => &["pwd"],
        }
    }

    pub fn acr(self) -> &'static str {
        if self.is_multi_factor() {
            ACR_TWO_FACTORS
        } else {
            ACR_ONE_FACTOR
        }
    }

    /// The detail of the audit's `login` event (none for a password alone).
    pub fn audit_detail(self) -> Option<&'static str> {
        match self {
            SignInMethod::Password | SignInMethod::Unrecorded { .. } => None,
            SignInMethod::PasswordAndTotp => Some("totp"),
            SignInMethod::PasswordAndRecoveryCode => Some("recovery code"),
            SignInMethod::PasswordAndPasskey | SignInMethod::Passkey => Some("passkey"),
            SignInMethod::EmailCode => Some("email code"),
            SignInMethod::EmailCodeAndTotp => Some("email code, totp"),
            SignInMethod::EmailCodeAndRecoveryCode => Some("email code, recovery code"),
            SignInMethod::EmailCodeAndPasskey => Some("email code, passkey"),
            SignInMethod::Provider => Some("provider"),
            SignInMethod::ProviderWithMfa => Some("provider, its mfa"),
            SignInMethod::ProviderAndTotp => Some("provider, totp"),
            SignInMethod::ProviderAndRecoveryCode => Some("provider, recovery code"),
            SignInMethod::ProviderAndPasskey => Some("provider, passkey"),
        }
    }

    /// The ways the sign-in took, for the owner's choice of ways (an unrecorded one is
    /// an old session: nothing to refuse). Another provider is no way the owner turns
    /// off: unlinking it is how.
    pub fn ways(self) -> &'static [Way] {
        match self {
            SignInMethod::Password
            | SignInMethod::PasswordAndTotp
            | SignInMethod::PasswordAndRecoveryCode => &[Way::Password],
            SignInMethod::PasswordAndPasskey => &[Way::Password, Way::Passkey],
            SignInMethod::Passkey => &[Way::Passkey],
            SignInMethod::EmailCode
            | SignInMethod::EmailCodeAndTotp
            | SignInMethod::EmailCodeAndRecoveryCode => &[Way::EmailCode],
            SignInMethod::EmailCodeAndPasskey => &[Way::EmailCode, Way::Passkey],
            SignInMethod::ProviderAndPasskey => &[Way::Passkey],
            SignInMethod::Provider
            | SignInMethod::ProviderWithMfa
            | SignInMethod::ProviderAndTotp
            | SignInMethod::ProviderAndRecoveryCode
            | SignInMethod::Unrecorded { .. } => &[],
        }
    }

    /// The name a store keeps (none for an unrecorded method).
    pub fn stored(self) -> Option<&'static str> {
        match self {
            SignInMethod::Password => Some("pwd"),
            SignInMethod::PasswordAndTotp => Some("pwd+totp"),
            SignInMethod::PasswordAndRecoveryCode => Some("pwd+recovery"),
            SignInMethod::PasswordAndPasskey => Some("pwd+passkey"),
            SignInMethod::Passkey => Some("passkey"),
            SignInMethod::EmailCode => Some("email"),
            SignInMethod::EmailCodeAndTotp => Some("email+totp"),
            SignInMethod::EmailCodeAndRecoveryCode => Some("email+recovery"),
            SignInMethod::EmailCodeAndPasskey => Some("email+passkey"),
            SignInMethod::Provider => Some("fed"),
            SignInMethod::ProviderWithMfa => Some("fed+mfa"),
            SignInMethod::ProviderAndTotp => Some("fed+totp"),
            SignInMethod::ProviderAndRecoveryCode => Some("fed+recovery"),
            SignInMethod::ProviderAndPasskey => Some("fed+passkey"),
            SignInMethod::Unrecorded { .. } => None,
        }
    }

    /// Reads back what [`SignInMethod::stored`] wrote; a missing or unknown name (a row
    /// from before, or from a newer version) falls back to the second-factor flag.
    pub fn from_stored(stored: Option<&str>, second_factor: bool) -> Self {
        match stored {
            Some("pwd") => SignInMethod::Password,
            Some("pwd+totp") => SignInMethod::PasswordAndTotp,
            Some("pwd+recovery") => SignInMethod::PasswordAndRecoveryCode,
            Some("pwd+passkey") => SignInMethod::PasswordAndPasskey,
            Some("passkey") => SignInMethod::Passkey,
            Some("email") => SignInMethod::EmailCode,
            Some("email+totp") => SignInMethod::EmailCodeAndTotp,
            Some("email+recovery") => SignInMethod::EmailCodeAndRecoveryCode,
            Some("email+passkey") => SignInMethod::EmailCodeAndPasskey,
            Some("fed") => SignInMethod::Provider,
            Some("fed+mfa") => SignInMethod::ProviderWithMfa,
            Some("fed+totp") => SignInMethod::ProviderAndTotp,
            Some("fed+recovery") => SignInMethod::ProviderAndRecoveryCode,
            Some("fed+passkey") => SignInMethod::ProviderAndPasskey,
            _ => SignInMethod::Unrecorded { second_factor },
        }
    }
}

/// A way in an account's owner may turn off on `/account`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Password,
    Passkey,
    EmailCode,
}

impl Way {
    pub const ALL: [Way; 3] = [Way::Password, Way::Passkey, Way::EmailCode];

    /// The name the stores keep and the audit shows.
    pub fn name(self) -> &'static str {
        match self {
            Way::Password => "password",
            Way::Passkey => "passkey",
            Way::EmailCode => "email_code",
        }
    }
}

/// The ways an account's owner turned off: each is refused for that account even with a
/// right proof. Nothing is off unless the owner said so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaysOff {
    pub password: bool,
    pub passkey: bool,
    pub email_code: bool,
}

impl WaysOff {
    pub fn is_off(self, way: Way) -> bool {
        match way {
            Way::Password => self.password,
            Way::Passkey => self.passkey,
            Way::EmailCode => self.email_code,
        }
    }

    /// Comma-separated names, "" when nothing is off: how the stores keep it.
    pub fn stored(self) -> String {
        Way::ALL
            .into_iter()
            .filter(|way| self.is_off(*way))
            .map(Way::name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads back what [`WaysOff::stored`] wrote. A name this version does not know (a
    /// newer version's way) is not one of the ways it can refuse, so it is left out.
    pub fn from_stored(stored: &str) -> Self {
        let mut off = WaysOff::default();
        for name in stored.split(',').map(str::trim) {
            match name {
                "password" => off.password = true,
                "passkey" => off.passkey = true,
                "email_code" => off.email_code = true,
                _ => {}
            }
        }
        off
    }
}

/// What proved the user before a second step was asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FirstStep {
    #[default]
    Password,
    EmailCode,
    /// Another provider's sign-in.
    Provider,
}

impl FirstStep {
    /// The way the owner may have turned off (none for another provider: unlinking it
    /// is how that one is turned off).
    pub fn ways(self) -> &'static [Way] {
        match self {
            FirstStep::Password => &[Way::Password],
            FirstStep::EmailCode => &[Way::EmailCode],
            FirstStep::Provider => &[],
        }
    }
}

/// What completed a sign-in that needed a second step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondStep {
    Totp,
    RecoveryCode,
    Passkey,
}

impl FirstStep {
    pub fn then(self, second: SecondStep) -> SignInMethod {
        match (self, second) {
            (FirstStep::Password, SecondStep::Totp) => SignInMethod::PasswordAndTotp,
            (FirstStep::Password, SecondStep::RecoveryCode) => {
                SignInMethod::PasswordAndRecoveryCode
            }
            (FirstStep::Password, SecondStep::Passkey) => SignInMethod::PasswordAndPasskey,
            (FirstStep::EmailCode, SecondStep::Totp) => SignInMethod::EmailCodeAndTotp,
            (FirstStep::EmailCode, SecondStep::RecoveryCode) => {
                SignInMethod::EmailCodeAndRecoveryCode
            }
            (FirstStep::EmailCode, SecondStep::Passkey) => SignInMethod::EmailCodeAndPasskey,
            (FirstStep::Provider, SecondStep::Totp) => SignInMethod::ProviderAndTotp,
            (FirstStep::Provider, SecondStep::RecoveryCode) => {
                SignInMethod::ProviderAndRecoveryCode
            }
            (FirstStep::Provider, SecondStep::Passkey) => SignInMethod::ProviderAndPasskey,
        }
    }

    /// The name a store keeps; none for a password, which is what a ticket stored
    /// before first steps were recorded always stood for.
    pub fn stored(self) -> Option<&'static str> {
        match self {
            FirstStep::Password => None,
            FirstStep::EmailCode => Some("email"),
            FirstStep::Provider => Some("fed"),
        }
    }

    pub fn from_stored(stored: Option<&str>) -> FirstStep {
        match stored {
            Some("email") => FirstStep::EmailCode,
            Some("fed") => FirstStep::Provider,
            _ => FirstStep::Password,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ways_turned_off_round_trip_through_their_stored_names() {
        for bits in 0..8u8 {
            let off = WaysOff {
                password: bits & 1 != 0,
                passkey: bits & 2 != 0,
                email_code: bits & 4 != 0,
            };
            assert_eq!(WaysOff::from_stored(&off.stored()), off);
        }
        assert_eq!(WaysOff::default().stored(), "");
        // A name from a newer version is not a way this one can refuse.
        assert_eq!(
            WaysOff::from_stored("passkey,carrier_pigeon"),
            WaysOff {
                passkey: true,
                ..WaysOff::default()
            }
        );
    }

    #[test]
    fn a_sign_in_took_the_ways_its_method_names() {
        assert_eq!(
            SignInMethod::PasswordAndPasskey.ways(),
            [Way::Password, Way::Passkey]
        );
        assert_eq!(SignInMethod::EmailCodeAndTotp.ways(), [Way::EmailCode]);
        assert_eq!(SignInMethod::Passkey.ways(), [Way::Passkey]);
        assert!(
            SignInMethod::Unrecorded {
                second_factor: true
            }
            .ways()
            .is_empty()
        );
    }

    const RECORDED: [SignInMethod; 14] = [
        SignInMethod::Password,
        SignInMethod::PasswordAndTotp,
        SignInMethod::PasswordAndRecoveryCode,
        SignInMethod::PasswordAndPasskey,
        SignInMethod::Passkey,
        SignInMethod::EmailCode,
        SignInMethod::EmailCodeAndTotp,
        SignInMethod::EmailCodeAndRecoveryCode,
        SignInMethod::EmailCodeAndPasskey,
        SignInMethod::Provider,
        SignInMethod::ProviderWithMfa,
        SignInMethod::ProviderAndTotp,
        SignInMethod::ProviderAndRecoveryCode,
        SignInMethod::ProviderAndPasskey,
    ];

    #[test]
    fn every_recorded_method_reads_back_as_itself_whatever_the_flag_says() {
        for method in RECORDED {
            for flag in [false, true] {
                assert_eq!(SignInMethod::from_stored(method.stored(), flag), method);
            }
        }
    }

    #[test]
    fn an_unknown_or_missing_name_falls_back_to_the_flag() {
        for stored in [None, Some("sms"), Some("")] {
            for second_factor in [false, true] {
                let method = SignInMethod::from_stored(stored, second_factor);
                assert_eq!(method, SignInMethod::Unrecorded { second_factor });
                assert_eq!(method.is_multi_factor(), second_factor);
                assert_eq!(method.stored(), None);
            }
        }
    }

    #[test]
    fn mfa_and_the_stronger_acr_go_exactly_with_two_factors() {
        for method in RECORDED.into_iter().chain([
            SignInMethod::Unrecorded {
                second_factor: false,
            },
            SignInMethod::Unrecorded {
                second_factor: true,
            },
        ]) {
            assert_eq!(method.amr().contains(&"mfa"), method.is_multi_factor());
            assert_eq!(method.acr() == ACR_TWO_FACTORS, method.is_multi_factor());
            assert!(ACR_VALUES.contains(&method.acr()));
        }
        assert_eq!(SignInMethod::PasswordAndTotp.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(SignInMethod::Passkey.amr(), ["hwk", "mfa"]);
        assert_eq!(SignInMethod::Password.amr(), ["pwd"]);
        assert_eq!(SignInMethod::EmailCode.amr(), ["email"]);
        assert_eq!(SignInMethod::Provider.amr(), ["fed"]);
        assert!(
            SignInMethod::ProviderAndTotp.ways().is_empty(),
            "unlinking turns it off"
        );
    }

    #[test]
    fn a_second_step_keeps_what_the_first_one_was() {
        for first in [
            FirstStep::Password,
            FirstStep::EmailCode,
            FirstStep::Provider,
        ] {
            assert_eq!(FirstStep::from_stored(first.stored()), first);
            for second in [
                SecondStep::Totp,
                SecondStep::RecoveryCode,
                SecondStep::Passkey,
            ] {
                let method = first.then(second);
                assert!(method.is_multi_factor());
                assert_eq!(
                    method.amr().contains(&"email"),
                    first == FirstStep::EmailCode
                );
                assert_eq!(method.amr().contains(&"pwd"), first == FirstStep::Password);
            }
        }
    }
}
