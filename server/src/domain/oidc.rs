//! OpenID Connect input, parsed: client registrations, redirect URIs and how a presented
//! one matches a registered one, scopes, PKCE.

use app::model::ClientInput;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::FieldError;

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
const GRANT_TYPES: [&str; 3] = [
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_CLIENT_CREDENTIALS,
];

/// What a client's ID tokens may be signed with: RS256 by default (OpenID Connect Core
/// requires it, and many relying parties accept nothing else), ES256 or EdDSA (Ed25519)
/// if the client registered it. A client gets only its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdTokenAlgorithm {
    Rs256,
    Es256,
    EdDsa,
}

impl IdTokenAlgorithm {
    pub const ALL: [IdTokenAlgorithm; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    /// The JOSE name (`alg`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(name: &str) -> Option<IdTokenAlgorithm> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The line of keys in the store. EdDSA ID tokens have keys of their own, apart from
    /// those of Gatehouse's access tokens (which may be HS256, or rotate on their own).
    pub fn stored_as(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA-id-token",
        }
    }
}

/// The scopes this provider knows; others in a request are ignored (RFC 6749 §3.3 lets
/// a server grant fewer than asked).
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "roles", "offline_access"];

const MAX_NAME_CHARS: usize = 80;
const MAX_URIS: usize = 20;
const MAX_URI_CHARS: usize = 2000;

/// A registration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRegistration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub pre_consented: bool,
    pub id_token_alg: IdTokenAlgorithm,
}

impl ClientRegistration {
    pub fn parse(input: ClientInput) -> Result<ClientRegistration, FieldError> {
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new("name", "must not hold control characters"));
        }
        let mut grant_types = Vec::new();
        for grant in &input.grant_types {
            let grant = grant.trim();
            if !GRANT_TYPES.contains(&grant) {
                return Err(FieldError::new(
                    "grant_types",
                    format!("may hold only {}", GRANT_TYPES.join(", ")),
                ));
            }
            if !grant_types.iter().any(|known| known == grant) {
                grant_types.push(grant.to_owned());
            }
        }
        if grant_types.is_empty() {
            grant_types = vec![
                GRANT_AUTHORIZATION_CODE.to_owned(),
                GRANT_REFRESH_TOKEN.to_owned(),
            ];
        }
        if input.public && grant_types.iter().any(|g| g == GRANT_CLIENT_CREDENTIALS) {
            return Err(FieldError::new(
                "grant_types",
                "may hold client_credentials only for a confidential client (one with a secret)",
            ));
        }
        let redirect_uris = uris("redirect_uris", &input.redirect_uris)?;
        let signs_users_in = grant_types.iter().any(|g| g == GRANT_AUTHORIZATION_CODE);
        if signs_users_in && redirect_uris.is_empty() {
            return Err(FieldError::new(
                "redirect_uris",
                "needs at least one URI for the authorization_code grant",
            ));
        }
        let id_token_alg = match input.id_token_signed_response_alg.as_deref().map(str::trim) {
            None | Some("") => IdTokenAlgorithm::Rs256,
            Some(name) => IdTokenAlgorithm::parse(name).ok_or_else(|| {
                FieldError::new(
                    "id_token_signed_response_alg",
                    "must be RS256, ES256 or EdDSA",
                )
            })?,
        };
        Ok(ClientRegistration {
            id_token_alg,
            name,
            redirect_uris,
            post_logout_redirect_uris: uris(
                "post_logout_redirect_uris",
                &input.post_logout_redirect_uris,
            )?,
            public: input.public,
            grant_types,
            pre_consented: input.pre_consented,
        })
    }
}

fn uris(field: &'static str, given: &[String]) -> Result<Vec<String>, FieldError> {
    if given.len() > MAX_URIS {
        return Err(FieldError::new(
            field,
            format!("may hold at most {MAX_URIS} URIs"),
        ));
    }
    let mut parsed: Vec<String> = Vec::new();
    for uri in given {
        let uri = registrable_uri(uri.trim()).map_err(|why| FieldError::new(field, why))?;
        if !parsed.contains(&uri) {
            parsed.push(uri);
        }
    }
    Ok(parsed)
}

/// A URI a client may be sent back to (RFC 9700 §2.1, RFC 8252): `https`; `http` only to
/// a loopback address or `localhost`; or an app's private scheme in reverse-domain form
/// (`com.example.app:/callback`). Never a fragment or user info.
fn registrable_uri(uri: &str) -> Result<String, String> {
    if uri.is_empty() || uri.len() > MAX_URI_CHARS {
        return Err(format!("must hold URIs of 1 to {MAX_URI_CHARS} characters"));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not hold spaces or control characters".into());
    }
    let parsed = url::Url::parse(uri).map_err(|_| format!("holds `{uri}`, not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(format!("holds `{uri}`, which has a fragment (`#…`)"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("holds `{uri}`, which has user info"));
    }
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => {}
        "http" if parsed.host_str().is_some_and(is_loopback_host) => {}
        "http" => {
            return Err(format!(
                "holds `{uri}`: plain http only to 127.0.0.1, [::1] or localhost"
            ));
        }
        scheme if scheme.contains('.') => {}
        _ => {
            return Err(format!(
                "holds `{uri}`: https, http to a loopback address, or an app's reverse-domain scheme"
            ));
        }
    }
    // Kept as typed: matching is exact, on the string the client registered.
    Ok(uri.to_owned())
}

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

/// Whether a presented redirect URI is one registered: the same string, except that for
/// `http` to a loopback IP the port may differ (a native app listens on whichever port it
/// got, RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(registered), Ok(presented)) = (url::Url::parse(registered), url::Url::parse(presented))
    else {
        return false;
    };
    let loopback_ip = |url: &url::Url| {
        url.scheme() == "http" && matches!(url.host_str(), Some("127.0.0.1" | "[::1]"))
    };
    if !loopback_ip(&registered) || !loopback_ip(&presented) {
        return false;
    }
    let without_port = |url: &url::Url| {
        let mut url = url.clone();
        url.set_port(None).ok().map(|()| url.to_string())
    };
    without_port(&registered).is_some() && without_port(&registered) == without_port(&presented)
}

/// The scopes of a request this provider grants, in a stable order; `None` when
/// `openid` is not among them (then it is no OpenID Connect request).
pub fn granted_scopes(requested: &str) -> Option<Vec<&'static str>> {
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    asked.contains(&"openid").then(|| {
        SCOPES
            .iter()
            .copied()
            .filter(|scope| asked.contains(scope))
            .collect()
    })
}

/// A PKCE challenge as sent: S256 only (RFC 9700 §2.1.1: `plain` gives no protection
/// against a code seen in transit), 43 base64url characters.
pub fn parse_code_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, &'static str> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("code_challenge_method was sent without code_challenge"),
        (Some(_), Some(method)) if method != "S256" => Err("code_challenge_method must be S256"),
        (Some(_), None) => Err("code_challenge_method must be S256 (plain is not accepted)"),
        (Some(challenge), Some(_)) => {
            let valid = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if valid {
                Ok(Some(challenge.to_owned()))
            } else {
                Err("code_challenge must be 43 base64url characters (S256)")
            }
        }
    }
}

/// Whether `verifier` (RFC 7636 §4.1: 43 to 128 unreserved characters) hashes to
/// `challenge`.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// The stored form of a client secret or an authorization code: both are 256 random
/// bits, so SHA-256 is enough.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn secret_matches(presented: &str, stored_hash: &str) -> bool {
    secret_hash(presented)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(redirect_uris: &[&str]) -> ClientInput {
        ClientInput {
            name: "Wiki".into(),
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn redirect_uris_must_be_https_loopback_http_or_an_apps_scheme() {
        for good in [
            "https://wiki.example.org/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(ClientRegistration::parse(input(&[good])).is_ok(), "{good}");
        }
        for bad in [
            "http://wiki.example.org/callback",
            "https://wiki.example.org/cb#frag",
            "https://user:pw@wiki.example.org/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
            "https://wiki.example.org/a b",
            "",
        ] {
            let refused = ClientRegistration::parse(input(&[bad])).unwrap_err();
            assert_eq!(refused.field, "redirect_uris", "{bad}");
        }
        assert_eq!(
            ClientRegistration::parse(input(&[])).unwrap_err().field,
            "redirect_uris"
        );
    }

    #[test]
    fn grant_types_default_to_code_and_refresh_and_public_clients_get_no_client_credentials() {
        let parsed = ClientRegistration::parse(input(&["https://a.example/cb"])).unwrap();
        assert_eq!(parsed.grant_types, ["authorization_code", "refresh_token"]);
        let service = ClientInput {
            grant_types: vec!["client_credentials".into()],
            ..input(&[])
        };
        assert!(ClientRegistration::parse(service.clone()).is_ok());
        let public = ClientInput {
            public: true,
            ..service
        };
        assert_eq!(
            ClientRegistration::parse(public).unwrap_err().field,
            "grant_types"
        );
        let unknown = ClientInput {
            grant_types: vec!["password".into()],
            ..input(&["https://a.example/cb"])
        };
        assert_eq!(
            ClientRegistration::parse(unknown).unwrap_err().field,
            "grant_types"
        );
    }

    #[test]
    fn redirect_uris_match_exactly_except_a_loopback_ips_port() {
        let registered = "https://wiki.example.org/callback";
        assert!(redirect_uri_matches(registered, registered));
        for other in [
            "https://wiki.example.org/callback/",
            "https://wiki.example.org/callback?x=1",
            "https://WIKI.example.org/callback",
            "https://wiki.example.org:8443/callback",
            "https://wiki.example.org.evil.test/callback",
        ] {
            assert!(!redirect_uri_matches(registered, other), "{other}");
        }
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:80/cb",
            "http://[::1]:9/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/other"
        ));
        assert!(!redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:51234/cb"
        ));
    }

    #[test]
    fn only_s256_challenges_are_taken_and_a_verifier_must_hash_to_its_challenge() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            parse_code_challenge(Some(challenge), Some("S256")),
            Ok(Some(challenge.to_owned()))
        );
        assert!(parse_code_challenge(Some(challenge), Some("plain")).is_err());
        assert!(parse_code_challenge(Some(challenge), None).is_err());
        assert!(parse_code_challenge(Some("short"), Some("S256")).is_err());
        assert_eq!(parse_code_challenge(None, None), Ok(None));
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        assert!(!verifier_matches("short", challenge));
    }

    #[test]
    fn scopes_need_openid_and_unknown_ones_are_dropped() {
        assert_eq!(
            granted_scopes("email openid  unknown profile"),
            Some(vec!["openid", "profile", "email"])
        );
        assert_eq!(granted_scopes("profile email"), None);
    }
}
