//! `admin`: operator commands, run by hand or from scripts, never by a function. Wiring only:
//! each subcommand's logic lives in its own module (`keys.rs`, `sessions.rs`).

mod keys;
mod sessions;

use std::process::ExitCode;

use keys::KeysCommand;

/// Operator commands for the token handler.
#[derive(Debug, clap::Parser)]
#[command(name = "admin", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Data keys for `[encryption] wrapped_keys` (AWS KMS).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A user's sessions: list, end all, end one; count every live session.
    Sessions(sessions::SessionsArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Keys(command) => keys::run(
            command,
            std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            &mut std::io::stderr(),
        )
        .await
        .map_err(Into::into),
        Command::Sessions(args) => {
            let log = |line: &str| eprintln!("{line}");
            sessions::run(args, &mut std::io::stdout().lock(), &log)
                .await
                .map_err(Into::into)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("admin: {}", shared::telemetry::Chain(&*e));
            ExitCode::FAILURE
        }
    }
}
