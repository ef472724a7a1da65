//! Builds the application: store, auth core, routes; binds the listener so callers (and
//! tests, with port 0) can ask for the port before serving.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use app::{App, backend::SharedBackend, shell};
use axum::{
    Router,
    extract::Path,
    http::Uri,
    middleware,
    response::Redirect,
    routing::{any, get},
};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::{
    api,
    auth::{AuthError, AuthService},
    clock::{Clock, SystemClock},
    config::Config,
    delivery::{self, SiteFiles},
    security::{
        SecurityHeaders, add_security_headers, refuse_ambiguous_credentials,
        refuse_cross_site_writes,
    },
    server_fns::{self, SERVER_FUNCTION_PREFIX, WebBackend},
    state::AppState,
    store::{OperatorStore, ServedStore, Store, mongo::MongoStore, sqlite::SqliteStore},
};

/// The app's page routes, walked once per process. While leptos walks them it holds
/// every resource that first polls ANYWHERE in the process pending for good (a
/// process-wide switch, leptos-rs/leptos#4773): a second application built in the
/// same process — another instance, a restart, the API tests' parallel servers —
/// would hang a page being rendered by one already serving.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the store could not be opened: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the auth core could not start: {0}")]
    Auth(#[from] AuthError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the Leptos configuration is invalid: {0}")]
    Leptos(String),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("the forward-auth rules file {path}: {message}")]
    RulesFile { path: String, message: String },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    auth: Arc<AuthService>,
}

/// Opens the backend the configuration names: MongoDB for a `mongodb://` URL, otherwise
/// the embedded store in the data directory (which several servers may share).
async fn open_backend(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    Ok(match &config.database_url {
        Some(url) => Arc::new(MongoStore::connect(url, config.database_name.as_deref()).await?),
        None => Arc::new(SqliteStore::open(&config.data_dir).await?),
    })
}

/// The store as a server uses it: the backend with this instance's memory of access
/// answers, kept true to the revocation log within the configured bound.
pub async fn open_store(config: &Config) -> Result<ServedStore, StartupError> {
    let backend = open_backend(config).await?;
    Ok(ServedStore::new(backend, config.revocation_bound))
}

/// The same store for an operator task (creating an admin) that may run while servers
/// do: a type that can only add.
pub async fn open_store_for_operator_task(
    config: &Config,
) -> Result<Box<dyn OperatorStore>, StartupError> {
    Ok(Box::new(open_backend(config).await?))
}

/// Links in mails when no public URL is configured: the address actually listened on
/// (port 0 resolved), with a name a browser on this machine can open for "any address".
fn default_public_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartupError> {
        crate::install_tls_crypto();
        let mut config = config;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        if config.mail.public_url.is_none() {
            config.mail.public_url = listener.local_addr().ok().map(default_public_url);
        }
        let store = open_store(&config).await?;
        let auth = Arc::new(AuthService::start(&config, store, clock).await?);
        if let Some(path) = &config.forward.rules_file {
            seed_forward_rules(&auth, path).await?;
        }
        let leptos_options = leptos_options()?;
        let state = AppState {
            leptos_options: Arc::new(leptos_options.clone()),
            auth: auth.clone(),
            config: Arc::new(config.clone()),
        };
        let site_files = Arc::new(SiteFiles::from_options(&leptos_options));
        let not_found_page = Router::new()
            .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
            .with_state(state.clone());
        let web_backend: SharedBackend =
            Arc::new(WebBackend::new(auth.clone(), state.config.clone()));
        let routes = page_routes();
        let router = Router::new()
            .merge(api::router())
            // The MongoDB ancestor's web prefix leads to the web app.
            .route("/market/web", get(|| async { Redirect::permanent("/") }))
            .route("/market/web/{*page}", get(market_web_page))
            .leptos_routes_with_context(
                &state,
                routes,
                move || provide_context(web_backend.clone()),
                {
                    let options = leptos_options.clone();
                    move || shell(options.clone())
                },
            )
            .route(
                &format!("{SERVER_FUNCTION_PREFIX}{{*unknown}}"),
                any(server_fns::unknown_server_function),
            )
            .fallback_service(delivery::site_files(&site_files, not_found_page))
            .layer(middleware::from_fn(
                server_fns::answer_mistakes_with_their_status,
            ))
            .layer(middleware::from_fn(
                server_fns::pages_redirect_with_a_redirect,
            ))
            .layer(middleware::from_fn(refuse_cross_site_writes))
            .layer(middleware::from_fn(refuse_ambiguous_credentials))
            .layer(middleware::from_fn_with_state(auth.clone(), count_response))
            .layer(middleware::from_fn_with_state(
                site_files,
                delivery::apply_cache_policy,
            ))
            .layer(middleware::from_fn_with_state(
                SecurityHeaders {
                    https: config.https,
                },
                add_security_headers,
            ))
            .layer(delivery::compression())
            .layer(TraceLayer::new_for_http())
            .with_state(state);
        Ok(Application {
            listener,
            router,
            auth,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn auth(&self) -> Arc<AuthService> {
        self.auth.clone()
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let purger = tokio::spawn(purge_expired_periodically(self.auth.clone()));
        let starter = tokio::spawn(finish_starting(self.auth.clone()));
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await;
        purger.abort();
        starter.abort();
        served.map_err(StartupError::Serve)
    }
}

/// The site root and package names cargo-leptos builds; read from its environment
/// variables when it runs us, else from the workspace defaults.
fn leptos_options() -> Result<LeptosOptions, StartupError> {
    let configuration = leptos::config::get_configuration(None)
        .map_err(|error| StartupError::Leptos(error.to_string()))?;
    let mut options = configuration.leptos_options;
    if std::env::var_os("LEPTOS_SITE_ROOT").is_none()
        && let Some(site_root) = site_root_beside_binary()
    {
        options.site_root = site_root.display().to_string().into();
    }
    // The build that left its hash file beside this binary gave the site's files hashed
    // names; run directly (not by cargo-leptos), the binary still links to those names.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        options.hash_files = delivery::hash_file_path(&options).is_some_and(|path| path.is_file());
    }
    Ok(options)
}

/// The site's files for a binary run from anywhere: `site/` beside it (a deployed copy),
/// or `../site` (where cargo-leptos builds it: `target/site` beside `target/release/`).
/// None: the default, relative to the working directory.
fn site_root_beside_binary() -> Option<std::path::PathBuf> {
    let binary_dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
    [binary_dir.join("site"), binary_dir.join("../site")]
        .into_iter()
        .find(|candidate| candidate.is_dir())
}

/// A server that started while its store was unreachable loads its keys (and creates the
/// bootstrap admin) as soon as the store answers; `/readyz` says 503 until then.
/// The rules file, as TOML: `[[rule]]` tables with `host`, `path_prefix`, `roles`,
/// `users` and `two_factor`. A rule whose host and path the store has already is left
/// as the store has it (an admin may have changed it since).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<app::model::ForwardRuleInput>,
}

async fn seed_forward_rules(
    auth: &AuthService,
    path: &std::path::Path,
) -> Result<(), StartupError> {
    let refuse = |message: String| StartupError::RulesFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|error| refuse(error.to_string()))?;
    let file: RulesFile = toml::from_str(&text).map_err(|error| refuse(error.to_string()))?;
    match auth.seed_forward_rules(&file.rule).await {
        Ok(added) => {
            tracing::info!(
                added,
                of = file.rule.len(),
                "forward-auth rules from the rules file"
            );
            Ok(())
        }
        Err(AuthError::Invalid(error)) => {
            Err(refuse(format!("{}: {}", error.field, error.message)))
        }
        Err(AuthError::Unavailable(error)) => {
            tracing::warn!(%error, "the store is unreachable: the rules file is not applied");
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

async fn finish_starting(auth: Arc<AuthService>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    while !auth.started() {
        every.tick().await;
        match auth.finish_start().await {
            Ok(()) => tracing::info!("the store answers: started"),
            Err(AuthError::Unavailable(_)) => {}
            Err(error) => tracing::error!(%error, "cannot finish starting; retrying"),
        }
    }
}

async fn purge_expired_periodically(auth: Arc<AuthService>) {
    let mut every = tokio::time::interval(Duration::from_secs(10 * 60));
    loop {
        every.tick().await;
        match auth.purge_expired().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "purged expired sessions and revocations"),
            Err(error) => tracing::warn!(%error, "could not purge expired records"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Every response, pages and API alike, counted by status class for `/metrics`.
async fn count_response(
    axum::extract::State(auth): axum::extract::State<Arc<AuthService>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    auth.metrics().response(response.status().as_u16());
    response
}

/// The MongoDB ancestor's `/market/web/<page>` is this site's `/<page>` (its query kept),
/// when that is a path of this site by the one rule every redirect follows; else `/`.
async fn market_web_page(Path(page): Path<String>, uri: Uri) -> Redirect {
    let decoded = format!("/{page}");
    let as_sent = uri
        .path_and_query()
        .map(|path| path.as_str())
        .and_then(|path| path.strip_prefix("/market/web"))
        .unwrap_or("/");
    if app::next_path::is_same_site_path(&decoded) && app::next_path::is_same_site_path(as_sent) {
        Redirect::permanent(as_sent)
    } else {
        Redirect::permanent("/")
    }
}
