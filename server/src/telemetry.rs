use tracing_subscriber::{EnvFilter, fmt};

/// Structured logs; `RUST_LOG` filters them (default `info`), `GATEHOUSE_LOG_FORMAT=json`
/// makes them JSON lines.
pub fn init(json: bool) {
    init_with_default_filter(json, "info");
}

/// As `init`, writing to standard error: for the CLI's commands, whose standard output
/// is what they answer.
pub fn init_to_stderr(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// As `init`, with another filter where `RUST_LOG` is unset (the tests' `TEST_LOG`).
pub fn init_with_default_filter(json: bool, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt().with_env_filter(filter).with_target(false);
    // A second init (tests start many apps in one process) is harmless: ignore it.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
