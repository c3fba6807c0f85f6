//! The metrics line: CloudWatch Embedded Metric Format, written to standard output with the
//! event, so CloudWatch Logs turns it into metrics with no SDK call and no wait.
//!
//! - `Events` (Count) by `event` and by `event` + `provider`, one per security event;
//! - `ProviderUnavailable` (Count), overall and by `provider`; `StoreUnavailable` (Count);
//! - `ProviderLatency` (Milliseconds) by `provider`: time this request waited for providers;
//! - `StoreLatency` (Milliseconds) by `function`: time it waited for DynamoDB.

use serde_json::{Map, Value, json};

use super::classify::EventCode;
use super::notes::Notes;

/// The namespace used when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "TokenHandler";

/// The EMF document for one request, or `None` when it has nothing to count.
pub fn line(
    namespace: &str,
    function: &str,
    code: Option<EventCode>,
    notes: &Notes,
    time_ms: u64,
) -> Option<Value> {
    let provider = notes.provider.as_ref().map(|p| p.as_str().to_owned());
    let mut root = Map::new();
    let mut directives = Vec::new();
    let mut directive = |metric: &str, unit: &str, dimensions: Value, value: Value| {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": dimensions,
            "Metrics": [{"Name": metric, "Unit": unit}],
        }));
        root.insert(metric.to_owned(), value);
    };
    if code.is_some() {
        let sets = match provider {
            Some(_) => json!([["event"], ["event", "provider"]]),
            None => json!([["event"]]),
        };
        directive("Events", "Count", sets, json!(1));
    }
    if notes.provider_unavailable {
        let sets = match provider {
            Some(_) => json!([[], ["provider"]]),
            None => json!([[]]),
        };
        directive("ProviderUnavailable", "Count", sets, json!(1));
    }
    if notes.store_unavailable {
        directive("StoreUnavailable", "Count", json!([[]]), json!(1));
    }
    if notes.provider_calls > 0
        && let Some(_) = provider
    {
        let ms = notes.provider_time.as_secs_f64() * 1000.0;
        directive(
            "ProviderLatency",
            "Milliseconds",
            json!([["provider"]]),
            json!(round(ms)),
        );
    }
    if notes.store_calls > 0 {
        let ms = notes.store_time.as_secs_f64() * 1000.0;
        directive(
            "StoreLatency",
            "Milliseconds",
            json!([["function"]]),
            json!(round(ms)),
        );
    }
    if directives.is_empty() {
        return None;
    }
    root.insert(
        "_aws".into(),
        json!({"Timestamp": time_ms, "CloudWatchMetrics": directives}),
    );
    root.insert("function".into(), Value::String(function.to_owned()));
    if let Some(code) = code {
        root.insert("event".into(), Value::String(code.as_str().to_owned()));
    }
    if let Some(provider) = provider {
        root.insert("provider".into(), Value::String(provider));
    }
    Some(Value::Object(root))
}

/// Milliseconds to three decimals: enough for a metric, short on the line.
fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::types::ProviderId;

    /// Checks `doc` against the EMF specification's rules: `_aws` with a numeric `Timestamp`
    /// and `CloudWatchMetrics` directives, each with a `Namespace`, dimension sets whose every
    /// name is a string member of the root, and metrics whose every name is a number member.
    pub(crate) fn assert_valid_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_u64(), "{doc}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for d in directives {
            let ns = d["Namespace"].as_str().expect("namespace");
            assert!(!ns.is_empty() && ns.len() <= 255);
            for set in d["Dimensions"].as_array().expect("dimension sets") {
                let set = set.as_array().expect("a dimension set");
                assert!(set.len() <= 30);
                for name in set {
                    let name = name.as_str().expect("a dimension name");
                    assert!(doc[name].is_string(), "dimension {name} missing in {doc}");
                }
            }
            for metric in d["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("a metric name");
                assert!(doc[name].is_number(), "metric {name} missing in {doc}");
                let unit = metric["Unit"].as_str().expect("a unit");
                assert!(["Count", "Milliseconds"].contains(&unit));
            }
        }
    }

    #[test]
    fn a_refresh_that_called_the_provider_counts_its_event_and_both_latencies() {
        let notes = Notes {
            provider: ProviderId::parse("google"),
            provider_calls: 1,
            provider_time: Duration::from_micros(120_500),
            store_calls: 3,
            store_time: Duration::from_millis(9),
            ..Notes::default()
        };
        let doc = line(
            "TokenHandler",
            "refresh",
            Some(EventCode::RefreshRefreshed),
            &notes,
            1_700_000_000_000,
        )
        .expect("a line");
        assert_valid_emf(&doc);
        assert_eq!(doc["event"], "refresh_refreshed");
        assert_eq!(doc["provider"], "google");
        assert_eq!(doc["Events"], 1);
        assert_eq!(doc["ProviderLatency"], 120.5);
        assert_eq!(doc["StoreLatency"], 9.0);
        assert_eq!(doc["function"], "refresh");
    }

    #[test]
    fn an_outage_counts_overall_so_one_alarm_covers_every_provider() {
        let notes = Notes {
            provider: ProviderId::parse("kakao"),
            provider_unavailable: true,
            store_unavailable: true,
            ..Notes::default()
        };
        let doc = line("NS", "callback", Some(EventCode::LoginFailed), &notes, 1).unwrap();
        assert_valid_emf(&doc);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        let sets_of = |metric: &str| {
            directives
                .iter()
                .find(|d| d["Metrics"][0]["Name"] == metric)
                .map(|d| d["Dimensions"].clone())
        };
        assert_eq!(
            sets_of("ProviderUnavailable"),
            Some(json!([[], ["provider"]]))
        );
        assert_eq!(sets_of("StoreUnavailable"), Some(json!([[]])));
    }

    #[test]
    fn a_request_with_nothing_to_count_writes_no_line() {
        assert_eq!(line("NS", "session", None, &Notes::default(), 1), None);
    }

    #[test]
    fn without_a_provider_no_dimension_names_one() {
        let doc = line(
            "NS",
            "refresh",
            Some(EventCode::RefreshFailed),
            &Notes::default(),
            1,
        )
        .unwrap();
        assert_valid_emf(&doc);
        assert!(doc.get("provider").is_none());
    }
}
