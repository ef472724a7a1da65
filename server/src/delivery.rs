//! How responses travel: the site's files (precompressed at build time, fingerprinted
//! names cached for a year), what a browser or proxy may keep, and compression of the
//! rest.
//!
//! The rules, in order:
//! - A response that set its own `Cache-Control` (token responses, the JWKS) keeps it.
//! - A file whose name carries its content hash (the build's JS, WASM and CSS) is
//!   `immutable` for a year: a new build has new names.
//! - Any other file (the favicon) is `no-cache`: the browser asks each time and gets a
//!   304 while it is unchanged.
//! - Everything else, pages and API answers, is `no-store`: it is someone's session.
//!
//! HTML and JSON are compressed on the fly (brotli or gzip, as the client accepts), except
//! a body that carries a secret ([`SecretInBody`]): with a secret and attacker-chosen text
//! in one compressed body, the size can leak the secret (BREACH).

use std::{collections::HashSet, path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use leptos::config::LeptosOptions;
use tower_http::{
    compression::{
        CompressionLayer,
        predicate::{NotForContentType, Predicate, SizeAbove},
    },
    services::ServeDir,
};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const PRIVATE: &str = "no-store";
/// Below this a compressed body saves less than the work and the headers cost.
const SMALLEST_COMPRESSED_BODY: u16 = 256;

/// Marks a response whose body holds a token; it is never compressed (see the module
/// comment) and never cached.
#[derive(Clone, Copy, Debug)]
pub struct SecretInBody;

/// The files of the built site and which of them have content-hashed names.
#[derive(Debug)]
pub struct SiteFiles {
    root: PathBuf,
    fingerprinted: HashSet<String>,
}

impl SiteFiles {
    /// The build writes the hashes beside the binary (cargo-leptos `hash-files`); the
    /// names the pages link to are made from the same file (`HydrationScripts`).
    pub fn from_options(options: &LeptosOptions) -> SiteFiles {
        let fingerprinted = if options.hash_files {
            hash_file_path(options)
                .and_then(|path| std::fs::read_to_string(path).ok())
                .map(|hashes| fingerprinted_names(&options.output_name, &hashes))
                .unwrap_or_default()
        } else {
            HashSet::new()
        };
        SiteFiles {
            root: PathBuf::from(options.site_root.as_ref()),
            fingerprinted,
        }
    }

    fn is_fingerprinted(&self, path: &str) -> bool {
        path.rsplit('/')
            .next()
            .is_some_and(|name| self.fingerprinted.contains(name))
    }

    /// `fingerprinted`: whether the request named one of the build's hashed files.
    fn policy_for(fingerprinted: bool, response: &Response) -> Option<&'static str> {
        let headers = response.headers();
        if headers.contains_key(header::CACHE_CONTROL) {
            return None;
        }
        let status = response.status();
        let is_file =
            headers.contains_key(header::LAST_MODIFIED) || status == StatusCode::NOT_MODIFIED;
        Some(if is_file && fingerprinted {
            IMMUTABLE
        } else if is_file {
            REVALIDATE
        } else {
            PRIVATE
        })
    }
}

/// Where the build put the hash file: beside the running binary, as leptos reads it.
pub fn hash_file_path(options: &LeptosOptions) -> Option<PathBuf> {
    let binary = std::env::current_exe().ok()?;
    Some(binary.parent()?.join(options.hash_file.as_ref()))
}

/// `js: <hash>` lines become `<output>.<hash>.js`, the names cargo-leptos gave the files.
fn fingerprinted_names(output_name: &str, hashes: &str) -> HashSet<String> {
    hashes
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(kind, _)| matches!(kind.trim(), "js" | "wasm" | "css"))
        .map(|(kind, hash)| format!("{output_name}.{}.{}", hash.trim(), kind.trim()))
        .collect()
}

/// The site's files, each sent as its build-time `.br` or `.gz` twin when the client
/// accepts one; whatever is not a file goes on to `not_found` (the web app's 404 page).
pub fn site_files(files: &SiteFiles, not_found: Router) -> ServeDir<Router> {
    ServeDir::new(&files.root)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found)
}

/// Sets the cache policy above on every response that did not choose one.
pub async fn apply_cache_policy(
    State(files): State<Arc<SiteFiles>>,
    request: Request,
    next: Next,
) -> Response {
    // Decided before the request moves on, so no request pays for a copy of its path.
    let fingerprinted = files.is_fingerprinted(request.uri().path());
    let mut response = next.run(request).await;
    let policy = SiteFiles::policy_for(fingerprinted, &response);
    let headers = response.headers_mut();
    if let Some(policy) = policy {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    // A shared cache must not hand the brotli twin to a client that cannot read it.
    if headers.contains_key(header::CONTENT_ENCODING) && !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// On-the-fly compression for what was not compressed at build time.
pub fn compression() -> CompressionLayer<impl Predicate> {
    let worth_compressing = SizeAbove::new(SMALLEST_COMPRESSED_BODY)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(|_, _, _: &_, extensions: &axum::http::Extensions| {
            extensions.get::<SecretInBody>().is_none()
        });
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .compress_when(worth_compressing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> SiteFiles {
        SiteFiles {
            root: PathBuf::from("site"),
            fingerprinted: names.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    fn response(status: StatusCode, headers: &[(header::HeaderName, &'static str)]) -> Response {
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = status;
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(name.clone(), HeaderValue::from_static(value));
        }
        response
    }

    #[test]
    fn the_hash_file_names_the_three_fingerprinted_files() {
        let names =
            fingerprinted_names("gatehouse", "js: AbC\nwasm: dEf\ncss: g-h\nmanifest: xyz\n");
        let expected: HashSet<String> = [
            "gatehouse.AbC.js",
            "gatehouse.dEf.wasm",
            "gatehouse.g-h.css",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn fingerprinted_files_are_immutable_other_files_revalidate_the_rest_is_private() {
        let site = files(&["gatehouse.AbC.wasm"]);
        let file = [(header::LAST_MODIFIED, "Wed, 25 Nov 2026 08:00:00 GMT")];
        assert_eq!(
            SiteFiles::policy_for(
                site.is_fingerprinted("/pkg/gatehouse.AbC.wasm"),
                &response(StatusCode::OK, &file)
            ),
            Some(IMMUTABLE)
        );
        assert_eq!(
            SiteFiles::policy_for(
                site.is_fingerprinted("/pkg/gatehouse.AbC.wasm"),
                &response(StatusCode::NOT_MODIFIED, &[])
            ),
            Some(IMMUTABLE)
        );
        assert_eq!(
            SiteFiles::policy_for(
                site.is_fingerprinted("/favicon.svg"),
                &response(StatusCode::OK, &file)
            ),
            Some(REVALIDATE)
        );
        // A page at a path that looks like an asset is still a page.
        assert_eq!(
            SiteFiles::policy_for(
                site.is_fingerprinted("/pkg/gatehouse.AbC.wasm"),
                &response(StatusCode::NOT_FOUND, &[])
            ),
            Some(PRIVATE)
        );
        assert_eq!(
            SiteFiles::policy_for(
                site.is_fingerprinted("/dashboard"),
                &response(StatusCode::OK, &[])
            ),
            Some(PRIVATE)
        );
        assert_eq!(
            SiteFiles::policy_for(
                site.is_fingerprinted("/.well-known/jwks.json"),
                &response(
                    StatusCode::OK,
                    &[(header::CACHE_CONTROL, "public, max-age=300")]
                )
            ),
            None
        );
    }
}
