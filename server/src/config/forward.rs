//! The forward-auth gate: which parent domain the browser's sign-in covers, where a
//! sign-in may send the browser back to, what happens where no rule says, and the rules
//! file that seeds the store.

use std::path::PathBuf;

use app::next_path::ReturnHosts;

use super::{ConfigError, values::invalid};
use crate::domain::forward::host_name;

/// What a request that no rule covers gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardDefault {
    /// Refused, signed in or not (after signing in, when not).
    #[default]
    Deny,
    /// Any signed-in user passes.
    SignedIn,
}

#[derive(Clone, Debug, Default)]
pub struct ForwardConfig {
    /// `domain`: `GATEHOUSE_COOKIE_DOMAIN`; `hosts`: `GATEHOUSE_RETURN_HOSTS`.
    pub return_hosts: ReturnHosts,
    pub default: ForwardDefault,
    /// A TOML file of rules added at start (where no rule has their host and path yet).
    pub rules_file: Option<PathBuf>,
}

pub(super) fn read_forward_config(
    config: &mut ForwardConfig,
    var: &impl Fn(&'static str) -> Option<String>,
    public_host: Option<&str>,
) -> Result<(), ConfigError> {
    if let Some(domain) = var("GATEHOUSE_COOKIE_DOMAIN") {
        let domain = host_name(domain.trim().trim_start_matches('.'))
            .filter(|domain| domain.contains('.'))
            .ok_or_else(|| {
                invalid(
                    "GATEHOUSE_COOKIE_DOMAIN",
                    "expected a domain of two labels or more (example.org)",
                )
            })?;
        let covers_this_site = public_host.is_some_and(|host| {
            ReturnHosts {
                domain: Some(domain.clone()),
                hosts: Vec::new(),
            }
            .allows(host)
        });
        if !covers_this_site {
            return Err(invalid(
                "GATEHOUSE_COOKIE_DOMAIN",
                "must contain the host of GATEHOUSE_PUBLIC_URL (set it: https://auth.example.org)",
            ));
        }
        config.return_hosts.domain = Some(domain);
    }
    if let Some(list) = var("GATEHOUSE_RETURN_HOSTS") {
        for entry in list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let host = host_name(entry).ok_or_else(|| {
                invalid(
                    "GATEHOUSE_RETURN_HOSTS",
                    &format!("`{entry}` is not a host name (no scheme, no port)"),
                )
            })?;
            config.return_hosts.hosts.push(host);
        }
    }
    if let Some(default) = var("GATEHOUSE_FORWARD_AUTH_DEFAULT") {
        config.default = match default.trim() {
            "deny" => ForwardDefault::Deny,
            "signed_in" => ForwardDefault::SignedIn,
            _ => {
                return Err(invalid(
                    "GATEHOUSE_FORWARD_AUTH_DEFAULT",
                    "expected `deny` or `signed_in`",
                ));
            }
        };
    }
    if let Some(path) = var("GATEHOUSE_FORWARD_AUTH_RULES") {
        config.rules_file = Some(PathBuf::from(path));
    }
    Ok(())
}
