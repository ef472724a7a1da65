//! Where a form sends the browser next: the one rule for every `next` a request names
//! (after sign-in, after the code page, on a plain form's error), used by the server
//! functions, the pages and `ssr` alike.

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

/// `path` with the `next` a form carried, if any (checked like every `next`).
pub fn with_next(path: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!(
            "{path}?next={}",
            encode_query_value(&safe_next_path(Some(next)))
        ),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next_path;

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
