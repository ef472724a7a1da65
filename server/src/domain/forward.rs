//! What a forward-auth rule and a reverse proxy's question are made of: host names and
//! patterns, path prefixes, and the original request a proxy reports in its headers.

use super::FieldError;

const MAX_HOST_CHARS: usize = 253;
const MAX_PATH_PREFIX_CHARS: usize = 512;
/// Longer than any URL a browser keeps in its address bar for long; a proxy's header
/// beyond it is refused, not parsed.
pub const MAX_ORIGINAL_URL_CHARS: usize = 8 * 1024;

/// A lower-case DNS host name (letters, digits, `-`, dot-separated labels of 1 to 63):
/// `None` for anything else, a port or a trailing dot included.
pub fn host_name(raw: &str) -> Option<String> {
    let host = raw.trim().to_ascii_lowercase();
    let labels_ok = host.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    (labels_ok && host.len() <= MAX_HOST_CHARS).then_some(host)
}

/// Which hosts a rule covers: one (`wiki.example.org`) or every host under a domain
/// (`*.example.org`, not the domain itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn parse(raw: &str) -> Result<HostPattern, FieldError> {
        let refuse = || {
            FieldError::new(
                "host",
                "must be a host name (wiki.example.org) or *. and a domain (*.example.org)",
            )
        };
        let raw = raw.trim();
        match raw.strip_prefix("*.") {
            Some(domain) => host_name(domain)
                .map(|domain| HostPattern(format!("*.{domain}")))
                .ok_or_else(refuse),
            None => host_name(raw).map(HostPattern).ok_or_else(refuse),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How well it matches `host` (lower-case, without port): an exact name beats any
    /// wildcard, a longer wildcard domain beats a shorter one; `None` when it does not.
    pub fn specificity(&self, host: &str) -> Option<usize> {
        match self.0.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .filter(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
                .map(|_| domain.len()),
            None => (self.0 == host).then_some(usize::MAX),
        }
    }
}

/// The start of the paths a rule covers, whole segments only: `/admin` covers `/admin`
/// and `/admin/users`, not `/administrators`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPrefix(String);

impl PathPrefix {
    pub fn parse(raw: &str) -> Result<PathPrefix, FieldError> {
        let raw = raw.trim();
        let raw = if raw.is_empty() { "/" } else { raw };
        let well_formed = raw.starts_with('/')
            && raw.len() <= MAX_PATH_PREFIX_CHARS
            && !raw.contains(['?', '#', '%', '\\'])
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
            && !raw
                .split('/')
                .any(|segment| segment == "." || segment == "..");
        if !well_formed {
            return Err(FieldError::new(
                "path_prefix",
                "must be a path starting with / (no query, no %-escapes, no . or .. segments)",
            ));
        }
        let trimmed = raw.trim_end_matches('/');
        Ok(PathPrefix(if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix's length when it covers `path`; `None` when it does not.
    pub fn covers(&self, path: &str) -> Option<usize> {
        if self.0 == "/" {
            return Some(1);
        }
        let rest = path.strip_prefix(self.0.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(self.0.len())
    }
}

/// The request a reverse proxy asks about, from its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalRequest {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case, without the port.
    pub host: String,
    /// As sent (`Host: app.example.org:8443`), for the URL to come back to.
    pub authority: String,
    /// Percent-decoded, dot segments resolved: what rules are matched against.
    pub path: String,
    /// The URL as the browser asked for it (scheme, authority, path and query).
    pub url: String,
}

impl OriginalRequest {
    /// From a whole URL (nginx: `X-Original-URL`) or its parts (Caddy and Traefik:
    /// `X-Forwarded-Proto`, `-Host`, `-Uri`).
    pub fn parse(url: &str) -> Result<OriginalRequest, FieldError> {
        let refuse = |message: &str| FieldError::new("original_url", message.to_owned());
        if url.len() > MAX_ORIGINAL_URL_CHARS {
            return Err(refuse("is too long"));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refuse("has spaces or control characters"));
        }
        let parsed = url::Url::parse(url).map_err(|_| refuse("is not an absolute http(s) URL"))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(refuse("is not an absolute http(s) URL without user info"));
        }
        let host = parsed
            .host_str()
            .and_then(host_name)
            .ok_or_else(|| refuse("does not name a host"))?;
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        // The URL parser has resolved `.`/`..` (and their %2e forms); decoding may make
        // more of them (`%2f..`), which an app behind the proxy might honour: refused
        // rather than guessed at.
        let path = percent_encoding::percent_decode_str(parsed.path())
            .decode_utf8()
            .map_err(|_| refuse("has a path that is not UTF-8"))?
            .into_owned();
        if path
            .split(['/', '\\'])
            .any(|segment| segment == "." || segment == "..")
            || path.contains('\0')
        {
            return Err(refuse("has a path with . or .. segments"));
        }
        Ok(OriginalRequest {
            scheme: parsed.scheme().to_owned(),
            host,
            authority,
            path,
            url: parsed.to_string(),
        })
    }

    pub fn from_parts(proto: &str, host: &str, uri: &str) -> Result<OriginalRequest, FieldError> {
        if !uri.starts_with('/') {
            return Err(FieldError::new(
                "original_url",
                "X-Forwarded-Uri must start with /",
            ));
        }
        if host.contains(['/', '@', '?', '#', '\\']) {
            return Err(FieldError::new(
                "original_url",
                "X-Forwarded-Host is not a host",
            ));
        }
        Self::parse(&format!("{}://{host}{uri}", proto.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_are_exact_names_or_a_wildcard_over_a_domain() {
        let exact = HostPattern::parse(" Wiki.Example.org ").unwrap();
        assert_eq!(exact.as_str(), "wiki.example.org");
        assert_eq!(exact.specificity("wiki.example.org"), Some(usize::MAX));
        assert_eq!(exact.specificity("x.wiki.example.org"), None);
        let wild = HostPattern::parse("*.example.org").unwrap();
        assert_eq!(wild.specificity("wiki.example.org"), Some(11));
        assert_eq!(wild.specificity("a.b.example.org"), Some(11));
        assert_eq!(wild.specificity("example.org"), None);
        assert_eq!(wild.specificity("badexample.org"), None);
        for bad in [
            "",
            "*",
            "*.",
            "a..b",
            "-a.org",
            "a_b.org",
            "wiki.example.org:80",
            "*.*.org",
            "a b",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_prefix_covers_whole_segments() {
        let admin = PathPrefix::parse("/admin/").unwrap();
        assert_eq!(admin.as_str(), "/admin");
        assert_eq!(admin.covers("/admin"), Some(6));
        assert_eq!(admin.covers("/admin/users"), Some(6));
        assert_eq!(admin.covers("/administrators"), None);
        assert_eq!(PathPrefix::parse("").unwrap().covers("/x"), Some(1));
        for bad in ["admin", "/a?b", "/a/../b", "/a%2e", "/a b", "/a\\b"] {
            assert!(PathPrefix::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_original_request_is_parsed_with_its_path_normalised_or_refused() {
        let request =
            OriginalRequest::parse("https://App.Example.org:8443/public/../%61dmin/x?q=1").unwrap();
        assert_eq!(request.host, "app.example.org");
        assert_eq!(request.authority, "app.example.org:8443");
        assert_eq!(request.path, "/admin/x");
        assert_eq!(request.url, "https://app.example.org:8443/%61dmin/x?q=1");
        let parts = OriginalRequest::from_parts("http", "app.example.org", "/a?b=c").unwrap();
        assert_eq!(parts.url, "http://app.example.org/a?b=c");
        for bad in [
            "/relative",
            "javascript:alert(1)",
            "ftp://app.example.org/",
            "https://user:pw@app.example.org/",
            "https://app.example.org/a%2f..%2fadmin",
            "https://app.example.org/a b",
            "https://app.example.org/\n",
            "https://[::1]/",
        ] {
            assert!(OriginalRequest::parse(bad).is_err(), "{bad:?}");
        }
        assert!(OriginalRequest::parse(&format!("https://a.org/{}", "x".repeat(9000))).is_err());
        assert!(OriginalRequest::from_parts("https", "evil.org/x", "/").is_err());
        assert!(OriginalRequest::from_parts("https", "a.org", "x").is_err());
    }
}
