//! The command line: serve (the default) and operator tasks such as creating an admin.

use std::io::{BufRead, IsTerminal};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse authentication service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default).
    Serve,
    /// Administer the store directly.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Register the apps that sign their users in through Gatehouse (OpenID Connect).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// The keys that sign tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key for access tokens (EdDSA) and ID tokens (RS256): it signs
    /// from now on, on every running server within the revocation bound; the old keys
    /// stay published until every token they signed has expired. Prints the new key ids
    /// as JSON.
    Rotate,
}

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Register an app; prints its client_id and (unless --public) its client_secret as
    /// JSON. The secret is shown this once: it is stored only as a hash.
    Add {
        /// The app's name, shown on the consent page.
        #[arg(long)]
        name: String,
        /// Where the app may be sent back to after sign-in (repeat for several).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Where the app may be sent back to after sign-out (repeat for several).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// An app that cannot keep a secret (in a browser, on a phone): no secret, PKCE.
        #[arg(long)]
        public: bool,
        /// authorization_code, refresh_token, client_credentials (repeat); default the
        /// first two.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Its users are not asked to consent (an app of your own).
        #[arg(long)]
        pre_consented: bool,
        /// RS256 (the default), ES256 or EdDSA: the only algorithm its ID tokens are
        /// signed with.
        #[arg(long = "id-token-alg")]
        id_token_alg: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an admin account. The password is read from GATEHOUSE_ADMIN_PASSWORD or,
    /// failing that, from the first line of standard input — never from the arguments,
    /// where other users of the machine could read it.
    Create {
        #[arg(long)]
        username: String,
    },
}

/// The admin password from the environment or stdin.
pub fn read_admin_password() -> std::io::Result<String> {
    if let Ok(password) = std::env::var("GATEHOUSE_ADMIN_PASSWORD")
        && !password.is_empty()
    {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for the new admin (input is shown; prefer piping it): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
