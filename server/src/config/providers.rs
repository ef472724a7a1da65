//! Other providers people may sign in with (`GATEHOUSE_PROVIDERS`, a TOML file read at
//! start): an OpenID Connect provider found from its issuer URL, or a preset — Google
//! (OpenID Connect at a known issuer) and GitHub (OAuth 2.0 and its user API, not
//! OpenID Connect).

use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, values::invalid};
use crate::domain::FieldError;

const VARIABLE: &str = "GATEHOUSE_PROVIDERS";

/// How a provider says who someone is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: discovery from the issuer, an ID token.
    Oidc,
    /// OpenID Connect at `https://accounts.google.com`.
    Google,
    /// OAuth 2.0 with GitHub's endpoints (or a GitHub Enterprise Server's), then its
    /// user API: there is no ID token.
    Github,
}

impl ProviderKind {
    pub fn parse(text: &str) -> Option<ProviderKind> {
        match text {
            "oidc" => Some(ProviderKind::Oidc),
            "google" => Some(ProviderKind::Google),
            "github" => Some(ProviderKind::Github),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Oidc => "oidc",
            ProviderKind::Google => "google",
            ProviderKind::Github => "github",
        }
    }
}

const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const GITHUB_WEB: &str = "https://github.com";
const GITHUB_API: &str = "https://api.github.com";

/// One provider as configured. The client secret never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// In the provider's URLs and the store: lowercase letters, digits and `-`.
    pub id: String,
    /// What the buttons say: "Continue with {name}".
    pub name: String,
    pub kind: ProviderKind,
    /// Its issuer: `https://…`, or `http://` on a loopback address (tests, development).
    /// For GitHub, where its sign-in pages are: `https://github.com`, or a GitHub
    /// Enterprise Server's address.
    pub issuer: String,
    /// GitHub's API: `https://api.github.com`, or `{issuer}/api/v3` on an Enterprise
    /// Server; `None` for the other kinds.
    pub api_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// A first sign-in with an unknown account of this provider makes a Gatehouse
    /// account (default); off, only accounts linked on `/account` sign in.
    pub sign_up: bool,
    /// A sign-in whose ID token says `amr` includes `mfa` counts as two factors, and the
    /// account's own second factor is not asked again. Off by default: the provider's
    /// word is taken only where the admin says it can be.
    pub trust_amr: bool,
    /// A first sign-in whose address the provider says is verified joins the account
    /// that verified the same address here. Off by default: with it on, whoever controls
    /// that address at the provider controls the account here.
    pub link_verified_email: bool,
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ProviderSettings")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field("sign_up", &self.sign_up)
            .field("trust_amr", &self.trust_amr)
            .field("link_verified_email", &self.link_verified_email)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersFile {
    #[serde(default, rename = "provider")]
    providers: Vec<ProviderEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    id: String,
    name: String,
    #[serde(default = "oidc")]
    kind: String,
    issuer: Option<String>,
    api_url: Option<String>,
    client_id: String,
    client_secret: Option<String>,
    #[serde(default = "yes")]
    sign_up: bool,
    #[serde(default)]
    trust_amr: bool,
    #[serde(default)]
    link_verified_email: bool,
}

fn oidc() -> String {
    "oidc".into()
}

fn yes() -> bool {
    true
}

pub(super) fn read_providers_file(path: &Path) -> Result<Vec<ProviderSettings>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        invalid(
            VARIABLE,
            &format!("cannot read {}: {error}", path.display()),
        )
    })?;
    parse_providers(&text)
}

/// The file's providers, each checked; the first mistake names the provider.
pub fn parse_providers(text: &str) -> Result<Vec<ProviderSettings>, ConfigError> {
    let file: ProvidersFile =
        toml::from_str(text).map_err(|error| invalid(VARIABLE, &error.to_string()))?;
    let mut providers: Vec<ProviderSettings> = Vec::new();
    for entry in file.providers {
        let settings = provider_settings(entry)?;
        if providers.iter().any(|known| known.id == settings.id) {
            return Err(invalid(
                VARIABLE,
                &format!("provider `{}` is configured twice", settings.id),
            ));
        }
        providers.push(settings);
    }
    Ok(providers)
}

fn provider_settings(entry: ProviderEntry) -> Result<ProviderSettings, ConfigError> {
    let id = entry.id.trim().to_owned();
    check_provider(ProviderFields {
        id: entry.id,
        name: entry.name,
        kind: entry.kind,
        issuer: entry.issuer,
        api_url: entry.api_url,
        client_id: entry.client_id,
        client_secret: entry.client_secret,
        sign_up: entry.sign_up,
        trust_amr: entry.trust_amr,
        link_verified_email: entry.link_verified_email,
    })
    .map_err(|mistake| {
        invalid(
            VARIABLE,
            &format!("provider `{id}`: {} {}", mistake.field, mistake.message),
        )
    })
}

/// A provider as given, in the file or by an admin: `check_provider` reads it.
#[derive(Clone, Default)]
pub struct ProviderFields {
    pub id: String,
    pub name: String,
    /// `oidc`, `google` or `github`.
    pub kind: String,
    pub issuer: Option<String>,
    pub api_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub sign_up: bool,
    pub trust_amr: bool,
    pub link_verified_email: bool,
}

/// The one check of a provider, wherever it comes from (the file at start, the admin
/// console, REST): the first mistake, by field.
pub fn check_provider(fields: ProviderFields) -> Result<ProviderSettings, FieldError> {
    let id = fields.id.trim().to_owned();
    let id_is_plain = (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if !id_is_plain {
        return Err(FieldError::new(
            "id",
            "must be 1 to 32 lowercase letters, digits and `-`",
        ));
    }
    let Some(kind) = ProviderKind::parse(fields.kind.trim()) else {
        return Err(FieldError::new(
            "kind",
            "must be `oidc` (an OpenID Connect provider found from its issuer), `google` or `github`",
        ));
    };
    let name = fields.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must be 1 to 40 characters"));
    }
    // Kept exactly as given: discovery refuses a document whose `issuer` differs from
    // it by so much as a trailing slash.
    let given_issuer = fields
        .issuer
        .map(|issuer| issuer.trim().to_owned())
        .filter(|issuer| !issuer.is_empty());
    let issuer = match (kind, given_issuer) {
        (_, Some(issuer)) => issuer,
        (ProviderKind::Google, None) => GOOGLE_ISSUER.to_owned(),
        (ProviderKind::Github, None) => GITHUB_WEB.to_owned(),
        (ProviderKind::Oidc, None) => return Err(FieldError::new("issuer", "is missing")),
    };
    if !issuer_is_acceptable(&issuer) {
        return Err(FieldError::new(
            "issuer",
            "must be an https:// URL (http:// only on a loopback address), without query or fragment",
        ));
    }
    let given_api_url = fields
        .api_url
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty());
    let api_url = match (kind, given_api_url) {
        (ProviderKind::Github, Some(url)) => Some(url),
        (ProviderKind::Github, None) if issuer.trim_end_matches('/') == GITHUB_WEB => {
            Some(GITHUB_API.to_owned())
        }
        (ProviderKind::Github, None) => Some(format!("{}/api/v3", issuer.trim_end_matches('/'))),
        (_, Some(_)) => {
            return Err(FieldError::new(
                "api_url",
                "is for `kind = \"github\"` only",
            ));
        }
        (_, None) => None,
    };
    if let Some(url) = &api_url
        && !issuer_is_acceptable(url)
    {
        return Err(FieldError::new(
            "api_url",
            "must be an https:// URL (http:// only on a loopback address), without query or fragment",
        ));
    }
    let client_id = fields.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 255 {
        return Err(FieldError::new("client_id", "must be 1 to 255 characters"));
    }
    if fields
        .client_secret
        .as_ref()
        .is_some_and(|secret| secret.len() > 1024)
    {
        return Err(FieldError::new(
            "client_secret",
            "must be at most 1024 bytes",
        ));
    }
    Ok(ProviderSettings {
        id,
        name,
        kind,
        issuer,
        api_url,
        client_id,
        client_secret: fields.client_secret.filter(|secret| !secret.is_empty()),
        sign_up: fields.sign_up,
        trust_amr: fields.trust_amr,
        link_verified_email: fields.link_verified_email,
    })
}

/// Discovery, keys and tokens come from the issuer: in clear text only where nobody but
/// this machine can be on the path.
fn issuer_is_acceptable(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Ipv4(address)) => address.is_loopback(),
            Some(url::Host::Ipv6(address)) => address.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[provider]]
id = "corp"
name = "Corp SSO"
issuer = "https://sso.example.com/"
client_id = "gatehouse"
client_secret = "hunter2"
trust_amr = true
"#;

    #[test]
    fn a_provider_is_read_with_its_defaults_and_its_secret_never_prints() {
        let providers = parse_providers(GOOD).unwrap();
        assert_eq!(providers.len(), 1);
        let corp = &providers[0];
        assert_eq!(corp.issuer, "https://sso.example.com/");
        assert!(corp.sign_up && corp.trust_amr && !corp.link_verified_email);
        assert_eq!(corp.client_secret.as_deref(), Some("hunter2"));
        assert!(!format!("{corp:?}").contains("hunter2"));
        assert!(parse_providers("").unwrap().is_empty());
    }

    #[test]
    fn a_mistaken_provider_is_refused_by_name() {
        let with = |line: &str, value: &str| {
            GOOD.lines()
                .map(|text| {
                    if text.starts_with(&format!("{line} =")) {
                        format!("{line} = {value}")
                    } else {
                        text.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for (line, value) in [
            ("id", "\"Corp\""),
            ("id", "\"corp sso\""),
            ("id", "\"\""),
            ("issuer", "\"http://sso.example.com\""),
            ("issuer", "\"ftp://sso.example.com\""),
            ("issuer", "\"https://sso.example.com/?tenant=1\""),
            ("issuer", "\"sso.example.com\""),
            ("client_id", "\" \""),
            ("name", "\"\""),
            ("trust_amr", "\"yes\""),
        ] {
            let text = with(line, value);
            assert!(
                parse_providers(&text).is_err(),
                "{line} = {value} was accepted"
            );
        }
        assert!(parse_providers(&format!("{GOOD}\nsecret_key = 1")).is_err());
        assert!(
            parse_providers(&format!("{GOOD}{GOOD}")).is_err(),
            "the same id twice"
        );
        assert!(
            parse_providers(&format!("{GOOD}kind = \"saml\"\n")).is_err(),
            "an unknown kind"
        );
        assert!(
            parse_providers(&format!("{GOOD}api_url = \"https://api.example.com\"\n")).is_err(),
            "an API address for an OpenID Connect provider"
        );
        for loopback in [
            "http://127.0.0.1:4000",
            "http://localhost:4000",
            "http://[::1]:4000",
        ] {
            assert!(
                parse_providers(&with("issuer", &format!("\"{loopback}\""))).is_ok(),
                "{loopback}"
            );
        }
    }

    #[test]
    fn the_presets_know_where_google_and_github_are() {
        let presets = parse_providers(
            r#"
[[provider]]
id = "google"
name = "Google"
kind = "google"
client_id = "g"

[[provider]]
id = "github"
name = "GitHub"
kind = "github"
client_id = "h"

[[provider]]
id = "ghes"
name = "Our GitHub"
kind = "github"
issuer = "https://git.example.com"
client_id = "e"
"#,
        )
        .unwrap();
        assert_eq!(presets[0].kind, ProviderKind::Google);
        assert_eq!(presets[0].issuer, "https://accounts.google.com");
        assert_eq!(presets[0].api_url, None);
        assert_eq!(presets[1].kind, ProviderKind::Github);
        assert_eq!(presets[1].issuer, "https://github.com");
        assert_eq!(
            presets[1].api_url.as_deref(),
            Some("https://api.github.com")
        );
        assert_eq!(
            presets[2].api_url.as_deref(),
            Some("https://git.example.com/api/v3")
        );
        assert!(
            parse_providers("[[provider]]\nid = \"x\"\nname = \"X\"\nclient_id = \"x\"\n").is_err(),
            "an OpenID Connect provider needs its issuer"
        );
    }
}
