//! Where a form sends the browser next: the one rule for every `next` a request names
//! (after sign-in, after the code page, on a plain form's error), used by the server
//! functions, the pages and `ssr` alike.

#[cfg(feature = "ssr")]
use crate::forms::encode_query_value;

/// Whether `path` can only lead to this site: an absolute path that no browser reads as
/// another host (`//host`, `/\host`, or either with a tab or newline in between, which
/// browsers drop). The one rule for every redirect to something a request named.
pub fn is_same_site_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

/// Where to go after login: only a path on this site, never another origin.
pub fn safe_next_path(next: Option<&str>) -> String {
    const DEFAULT: &str = "/dashboard";
    let Some(next) = next.map(str::trim).filter(|next| !next.is_empty()) else {
        return DEFAULT.to_owned();
    };
    if is_same_site_path(next) && !next.starts_with("/login") && !next.starts_with("/signup") {
        next.to_owned()
    } else {
        DEFAULT.to_owned()
    }
}

/// The hosts besides this site that `next` may name, for the apps behind a reverse
/// proxy that sends its visitors here to sign in (forward-auth): the cookie domain and
/// every host under it, and hosts listed one by one. Empty: paths on this site only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReturnHosts {
    /// Lower-case, without a leading dot.
    pub domain: Option<String>,
    /// Lower-case host names.
    pub hosts: Vec<String>,
}

impl ReturnHosts {
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let under_domain = self.domain.as_deref().is_some_and(|domain| {
            host == domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
        });
        under_domain || self.hosts.contains(&host)
    }

    /// `next` when it is an `http(s)` URL of an allowed host (no user info, nothing a
    /// browser would read otherwise: no spaces, controls or backslashes); else `None`.
    #[cfg(feature = "ssr")]
    pub fn allowed_url<'a>(&self, next: &'a str) -> Option<&'a str> {
        const MAX_CHARS: usize = 4096;
        if next.len() > MAX_CHARS
            || next
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        let uri: http::Uri = next.parse().ok()?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let authority = uri.authority()?;
        if !scheme_ok || authority.as_str().contains('@') {
            return None;
        }
        self.allows(authority.host()).then_some(next)
    }
}

/// Where to go after login: a path on this site (as `safe_next_path`), or a URL of a
/// host `hosts` allows (an app behind the forward-auth gate).
#[cfg(feature = "ssr")]
pub fn safe_next(next: Option<&str>, hosts: &ReturnHosts) -> String {
    match next.map(str::trim).and_then(|next| hosts.allowed_url(next)) {
        Some(url) => url.to_owned(),
        None => safe_next_path(next),
    }
}

/// `path` with the `next` a form carried, if any (checked like every `next`).
#[cfg(feature = "ssr")]
pub fn with_next(path: &str, next: Option<&str>, hosts: &ReturnHosts) -> String {
    match next {
        Some(next) => format!(
            "{path}?next={}",
            encode_query_value(&safe_next(Some(next), hosts))
        ),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ReturnHosts, safe_next, safe_next_path};

    #[test]
    fn next_may_name_an_app_under_the_cookie_domain_or_a_listed_host_and_nothing_else() {
        let hosts = ReturnHosts {
            domain: Some("example.org".into()),
            hosts: vec!["intranet.local".into()],
        };
        for allowed in [
            "https://wiki.example.org/page?x=1",
            "http://a.b.example.org:8080/",
            "https://example.org/",
            "https://WIKI.Example.ORG/",
            "https://intranet.local/x",
        ] {
            assert_eq!(safe_next(Some(allowed), &hosts), allowed, "{allowed:?}");
        }
        for hostile in [
            "https://evil.example/",
            "https://example.org.evil.example/",
            "https://evilexample.org/",
            "https://.example.org/",
            "javascript:alert(1)//wiki.example.org",
            "javascript://wiki.example.org/%0aalert(1)",
            "ftp://wiki.example.org/",
            "https://user@wiki.example.org/",
            "https://evil.example\\@wiki.example.org/",
            "https://wiki.example.org/\nSet-Cookie: x",
            "//wiki.example.org/",
            "https://intranet.local.evil/",
        ] {
            assert_eq!(
                safe_next(Some(hostile), &hosts),
                "/dashboard",
                "{hostile:?}"
            );
        }
        assert_eq!(
            safe_next(Some("https://wiki.example.org/"), &ReturnHosts::default()),
            "/dashboard"
        );
        assert_eq!(safe_next(Some("/sessions"), &hosts), "/sessions");
    }

    #[test]
    fn next_accepts_same_site_paths_only() {
        assert_eq!(safe_next_path(Some("/sessions")), "/sessions");
        assert_eq!(safe_next_path(Some("/admin?search=a")), "/admin?search=a");
        for hostile in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/login",
            "",
            " ",
        ] {
            assert_eq!(safe_next_path(Some(hostile)), "/dashboard", "{hostile:?}");
        }
        assert_eq!(safe_next_path(None), "/dashboard");
    }

    #[test]
    fn paths_a_browser_reads_as_another_host_are_not_same_site() {
        for hostile in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/x",
            "evil",
        ] {
            assert!(!super::is_same_site_path(hostile), "{hostile:?}");
        }
        assert!(super::is_same_site_path("/admin?search=a"));
    }
}
