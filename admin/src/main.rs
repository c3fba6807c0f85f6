//! `admin`: operator commands, run by hand or from scripts, never by a function. Wiring only:
//! each subcommand's logic lives in its own module (`keys.rs`).

mod keys;

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
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let result = match cli.command {
        Command::Keys(command) => {
            keys::run(
                command,
                std::io::stdin().lock(),
                &mut std::io::stdout().lock(),
                &mut std::io::stderr(),
            )
            .await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("admin: {}", shared::telemetry::Chain(&e));
            ExitCode::FAILURE
        }
    }
}
