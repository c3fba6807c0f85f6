//! `admin sessions …`: a user's sessions on the deployed table (or any table the configuration
//! names), with the deployment's configuration and normal AWS credentials. What may be shown
//! and done is decided in `shared::flow::session_admin`; this module reads the command line,
//! opens the table and prints. Results go to standard output as JSON; each action's security
//! event goes to standard error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use shared::app::StartupError;
use shared::config::StoreConfig;
use shared::events::{EventLog, HASH_KEY_LABEL};
use shared::flow::session_admin::SessionAdmin;
use shared::store::StoreError;
use shared::store::dynamodb::{DynamoSettings, DynamoStore};
use shared::types::ProviderId;

/// A user's sessions.
#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    /// The configuration file (default: `AUTH_CONFIG_FILE`, `AUTH_CONFIG` or
    /// `AUTH_CONFIG_SSM_PARAMETER`, as the functions read it; secrets from the environment or
    /// `AUTH_SECRETS_PATH`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: SessionsCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// Lists the live sessions of a user: their `session.uid`, times and state, never an id or
    /// a token.
    List(User),
    /// Ends every session of a user.
    EndAll(User),
    /// Ends one session of a user, named by the `session.uid` that `list` and the security
    /// events show.
    EndOne {
        #[command(flatten)]
        user: User,
        /// The session's `session.uid` (base64url: it may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        session: String,
    },
    /// Counts the live sessions of every user.
    Count,
}

/// A user: a provider of the configuration and the subject there.
#[derive(Debug, clap::Args)]
pub struct User {
    /// The provider's name in the configuration (`google`, `kakao`, …).
    #[arg(long)]
    provider: String,
    /// The user's subject at that provider (the `subject` of `GET /auth/session`; any text,
    /// a leading `-` included).
    #[arg(long, allow_hyphen_values = true)]
    subject: String,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    /// The configuration could not be read.
    #[error("reading the configuration")]
    Source(#[source] shared::source::SourceError),
    /// The keys could not be loaded.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The configuration has no table.
    #[error("the configuration's store is not DynamoDB: there is no table to look at")]
    NotDynamodb,
    /// The configuration has no keys.
    #[error("the configuration has no [encryption] keys")]
    NoKeys,
    /// No such provider in the configuration.
    #[error("no provider {0:?} in the configuration")]
    UnknownProvider(String),
    /// The table failed.
    #[error("the table")]
    Store(#[source] StoreError),
    /// The session named is not a live session of that user.
    #[error("that user has no live session with this session.uid")]
    NoSuchSession,
    /// Writing the answer failed.
    #[error("writing the answer")]
    Output(#[source] std::io::Error),
}

/// Runs one `sessions` command, printing its result to `out`.
pub async fn run(
    args: SessionsArgs,
    out: &mut dyn std::io::Write,
    log: &dyn Fn(&str),
) -> Result<(), SessionsError> {
    let mut config = shared::source::load_from(args.config.as_deref())
        .await
        .map_err(SessionsError::Source)?;
    let keyring = shared::app::keyring(config.encryption.take())
        .await?
        .ok_or(SessionsError::NoKeys)?;
    let hash_key = keyring
        .derived_key(HASH_KEY_LABEL)
        .map_err(|_| SessionsError::NoKeys)?;
    let StoreConfig::Dynamodb {
        table,
        endpoint,
        region,
        create_table: _,
    } = &config.store
    else {
        return Err(SessionsError::NotDynamodb);
    };
    let settings = DynamoSettings {
        table: table.clone(),
        endpoint: endpoint.clone(),
        region: region.clone(),
        // An operator command never creates a table.
        create_table: false,
    };
    let store = DynamoStore::connect(&settings, keyring)
        .await
        .map_err(|e| SessionsError::Startup(StartupError::Tls(e)))?;
    // Events are hashed as the functions hash them; they are written by `log`, not here.
    let hashes = EventLog::new(Arc::new(shared::events::Memory::default()), hash_key);
    let actor = actor();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let admin = SessionAdmin {
        store: &store,
        raw: &store,
        hashes: &hashes,
        actor: &actor,
        log,
        now,
    };
    let provider = |user: &User| {
        ProviderId::parse(&user.provider)
            .filter(|id| config.providers.contains_key(id))
            .ok_or_else(|| SessionsError::UnknownProvider(user.provider.clone()))
    };
    let answer = match &args.command {
        SessionsCommand::List(user) => {
            let sessions = admin
                .list(&provider(user)?, &user.subject)
                .await
                .map_err(SessionsError::Store)?;
            serde_json::json!({"sessions": sessions})
        }
        SessionsCommand::EndAll(user) => {
            let ended = admin
                .end_all(&provider(user)?, &user.subject)
                .await
                .map_err(SessionsError::Store)?;
            serde_json::json!({"ended": ended})
        }
        SessionsCommand::EndOne { user, session } => {
            let ended = admin
                .end_one(&provider(user)?, &user.subject, session)
                .await
                .map_err(SessionsError::Store)?;
            if !ended {
                return Err(SessionsError::NoSuchSession);
            }
            serde_json::json!({"ended": 1})
        }
        SessionsCommand::Count => {
            let live = admin.count().await.map_err(SessionsError::Store)?;
            serde_json::json!({"live_sessions": live})
        }
    };
    writeln!(out, "{answer}").map_err(SessionsError::Output)
}

/// Who runs the command, for the security event: `ADMIN_ACTOR` when set (a CI job can name
/// itself), else the operating-system user. CloudTrail records the AWS principal of every
/// table request besides.
fn actor() -> String {
    ["ADMIN_ACTOR", "USER", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}
