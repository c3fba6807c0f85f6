//! JSON log lines through `tracing`. Only ids and outcomes are logged: never a code, state,
//! verifier, token, secret, cookie or Authorization header.

use tracing_subscriber::filter::LevelFilter;

/// An error and every cause under it, `error: cause: cause`, for one log field. Error types
/// here never carry a secret in their text, so the chain is safe to log.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

/// The level logged: `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL` (its advanced logging
/// controls), else `info`. Either is one level name (`error`, `warn`, `info`, `debug`,
/// `trace`, `off`, any case); per-module directives are not supported, which keeps a regex
/// engine out of every function's binary.
fn level(rust_log: Option<&str>, lambda_level: Option<&str>) -> (LevelFilter, Option<String>) {
    let Some((name, value)) = [
        ("RUST_LOG", rust_log),
        ("AWS_LAMBDA_LOG_LEVEL", lambda_level),
    ]
    .into_iter()
    .find_map(|(name, v)| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| (name, v))
    }) else {
        return (LevelFilter::INFO, None);
    };
    match value.to_ascii_lowercase().as_str() {
        "off" => (LevelFilter::OFF, None),
        "error" | "fatal" => (LevelFilter::ERROR, None),
        "warn" => (LevelFilter::WARN, None),
        "info" => (LevelFilter::INFO, None),
        "debug" => (LevelFilter::DEBUG, None),
        "trace" => (LevelFilter::TRACE, None),
        _ => (
            LevelFilter::INFO,
            Some(format!("{name} is not one level name; logging at info")),
        ),
    }
}

/// Installs the JSON subscriber once, at [`level`]'s level.
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let lambda_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    let (filter, complaint) = level(rust_log.as_deref(), lambda_level.as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
    if let Some(complaint) = complaint {
        tracing::warn!("{complaint}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn the_log_level_comes_from_rust_log_then_lambdas_setting_then_info() {
        assert_eq!(level(None, None), (LevelFilter::INFO, None));
        assert_eq!(level(Some("DEBUG"), Some("error")).0, LevelFilter::DEBUG);
        assert_eq!(level(None, Some("WARN")).0, LevelFilter::WARN);
        assert_eq!(level(Some(" "), Some("trace")).0, LevelFilter::TRACE);
        assert_eq!(level(None, Some("FATAL")).0, LevelFilter::ERROR);
        assert_eq!(level(Some("off"), None).0, LevelFilter::OFF);
    }

    #[test]
    fn a_directive_logs_at_info_and_says_so() {
        let (filter, complaint) = level(Some("shared=debug"), None);
        assert_eq!(filter, LevelFilter::INFO);
        assert!(complaint.expect("a complaint").contains("RUST_LOG"));
    }

    #[test]
    fn a_chain_prints_every_cause() {
        assert_eq!(Chain(&Outer(Inner)).to_string(), "outer: inner");
    }
}
