use tracing_subscriber::{EnvFilter, fmt};

/// Structured logs; `RUST_LOG` filters them (default `info`), `GATEHOUSE_LOG_FORMAT=json`
/// makes them JSON lines.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    // A second init (tests start many apps in one process) is harmless: ignore it.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
