use std::process::ExitCode;

use app::model::ClientInput;
use clap::Parser;
use server::{
    auth::{operator, sealing::FactorKeys},
    cli::{AdminCommand, Cli, ClientsCommand, Command, KeysCommand, read_admin_password},
    clock::{Clock, SystemClock},
    config::Config,
    startup::{Application, open_store_for_operator_task},
    telemetry,
};

/// Store writes wait for the one writer connection on blocking threads; more threads than
/// this only wait longer each (measured: 42 of them during a login burst).
const BLOCKING_THREADS: usize = 8;

fn main() -> ExitCode {
    tune_the_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Measured with the lean benchmark (`scripts/bench lean`). Call once, before the first
/// thread starts.
fn tune_the_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets tunables of the allocator, before any other thread exists.
    unsafe {
        // Every allocation of 1 MiB or more is its own mapping, unmapped when freed. glibc
        // otherwise raises that threshold each time such a block is freed (up to 32 MiB),
        // after which the 19 MiB hashing buffers come from its arenas, fragment them and
        // are rarely given back: a sign-up added 19 MB to the resident size for good, up
        // to 370 MB.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        // One arena per core instead of eight: each holds memory of its own (1 MB less
        // at peak during a login burst on 2 cores).
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores).unwrap_or(i32::MAX));
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        None | Some(Command::Serve) => telemetry::init(config.log_json),
        // A command's standard output is its answer (JSON, for `clients add`).
        Some(_) => telemetry::init_to_stderr(config.log_json),
    }
    // Said once: a server's failure goes to its log, a command's to the terminal.
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config)
            .await
            .inspect_err(|error| tracing::error!("{error}")),
        Command::Admin {
            command: AdminCommand::Create { username },
        } => create_admin(config, &username)
            .await
            .inspect_err(|error| eprintln!("error: {error}")),
        Command::Clients {
            command:
                ClientsCommand::Add {
                    name,
                    redirect_uris,
                    post_logout_redirect_uris,
                    public,
                    grant_types,
                    pre_consented,
                    id_token_alg,
                },
        } => add_client(
            config,
            ClientInput {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                grant_types,
                pre_consented,
                id_token_signed_response_alg: id_token_alg,
            },
        )
        .await
        .inspect_err(|error| eprintln!("error: {error}")),
        Command::Keys {
            command: KeysCommand::Rotate,
        } => rotate_keys(config)
            .await
            .inspect_err(|error| eprintln!("error: {error}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    if config.metrics_token.is_none() {
        tracing::warn!(
            "GATEHOUSE_METRICS_TOKEN is unset: anyone who reaches this port can read /metrics"
        );
    }
    let application = Application::build(config).await?;
    give_back_what_starting_freed();
    tracing::info!("listening on http://{}", application.local_addr());
    application.run_until_stopped().await?;
    Ok(())
}

/// Building the application allocates and frees a few megabytes (the OpenAPI document,
/// the routes); glibc keeps freed memory in its arenas until asked to return it.
fn give_back_what_starting_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn add_client(config: Config, input: ClientInput) -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store_for_operator_task(&config).await?;
    let created = operator::register_client(store.as_ref(), input, SystemClock.now()).await?;
    println!("{}", serde_json::to_string_pretty(&created)?);
    Ok(())
}

async fn rotate_keys(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let factor_keys = FactorKeys::load(config.factor_keys.as_deref(), &config.data_dir)?;
    let store = open_store_for_operator_task(&config).await?;
    let rotated = operator::rotate_signing_keys(
        store.as_ref(),
        &factor_keys,
        &config.signing,
        SystemClock.now(),
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&rotated)?);
    Ok(())
}

async fn create_admin(config: Config, username: &str) -> Result<(), Box<dyn std::error::Error>> {
    let password = read_admin_password()?;
    let store = open_store_for_operator_task(&config).await?;
    let admin = operator::create_admin(
        store.as_ref(),
        config.hash_params,
        username,
        password,
        SystemClock.now(),
    )
    .await?;
    println!("created admin {} ({})", admin.username, admin.id);
    Ok(())
}
