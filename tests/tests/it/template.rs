//! The SAM template routes exactly what the functions serve: every entry of the route table is
//! an API Gateway route of the function that serves it, and no function has a route it does
//! not serve.

use serde_yaml_ng::Value;
use shared::app::Function;
use shared::routes::ROUTES;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn logical_id(function: Function) -> &'static str {
    match function {
        Function::Login => "LoginFunction",
        Function::Callback => "CallbackFunction",
        Function::Refresh => "RefreshFunction",
        Function::Session => "SessionFunction",
        Function::Proxy => "ProxyFunction",
        Function::All => unreachable!("the local runner is not deployed"),
    }
}

/// The `(METHOD, path)` of each HttpApi event of `function` in the template.
fn api_routes(template: &Value, function: Function) -> Vec<(String, String)> {
    let events = &template["Resources"][logical_id(function)]["Properties"]["Events"];
    let Value::Mapping(events) = events else {
        panic!("{} has no events", logical_id(function))
    };
    events
        .values()
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| {
            let p = &e["Properties"];
            (
                p["Method"].as_str().unwrap().to_ascii_uppercase(),
                p["Path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_served_route_is_routed_to_its_function_by_the_template_and_nothing_else() {
    let template = template();
    for function in [
        Function::Login,
        Function::Callback,
        Function::Refresh,
        Function::Session,
        Function::Proxy,
    ] {
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .filter(|r| r.function == function)
            .flat_map(|r| r.methods.iter().map(|m| (m.to_string(), r.path.to_owned())))
            .collect();
        let mut routed = api_routes(&template, function);
        served.sort();
        routed.sort();
        assert_eq!(served, routed, "{}", logical_id(function));
    }
}

/// The metrics the functions write (shared::events::emf) and the event codes they count.
const METRICS: [&str; 5] = [
    "Events",
    "ProviderUnavailable",
    "StoreUnavailable",
    "ProviderLatency",
    "StoreLatency",
];

fn event_codes() -> Vec<&'static str> {
    shared::events::EventCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect()
}

/// Every `{MetricName, Dimensions}` in the stack's namespace that an alarm reads.
fn alarm_metrics(template: &Value) -> Vec<(String, Vec<(String, String)>)> {
    let Value::Mapping(resources) = &template["Resources"] else {
        panic!("no resources")
    };
    let ours = |ns: &Value| format!("{ns:?}").contains("TokenHandler/${AWS::StackName}");
    let dims = |d: &Value| -> Vec<(String, String)> {
        d.as_sequence()
            .map(|s| {
                s.iter()
                    .map(|d| {
                        (
                            d["Name"].as_str().unwrap_or_default().to_owned(),
                            d["Value"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for resource in resources.values() {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let p = &resource["Properties"];
        if ours(&p["Namespace"]) {
            let name = p["MetricName"].as_str().unwrap().to_owned();
            found.push((name, dims(&p["Dimensions"])));
        }
        for query in p["Metrics"].as_sequence().into_iter().flatten() {
            let metric = &query["MetricStat"]["Metric"];
            if ours(&metric["Namespace"]) {
                let name = metric["MetricName"].as_str().unwrap().to_owned();
                found.push((name, dims(&metric["Dimensions"])));
            }
        }
    }
    found
}

#[test]
fn the_alarms_read_metrics_the_functions_write_with_dimensions_they_write() {
    let found = alarm_metrics(&template());
    assert!(found.len() >= 4, "{found:?}");
    for (name, dims) in &found {
        assert!(METRICS.contains(&name.as_str()), "{name} is never written");
        let names: Vec<&str> = dims.iter().map(|(n, _)| n.as_str()).collect();
        // The dimension sets each metric is written with (shared/src/events/emf.rs).
        let written: &[&[&str]] = match name.as_str() {
            "Events" => &[&["event"], &["event", "provider"]],
            "ProviderUnavailable" => &[&[], &["provider"]],
            "StoreUnavailable" => &[&[]],
            "ProviderLatency" => &[&["provider"]],
            _ => &[&["function"]],
        };
        assert!(
            written.contains(&names.as_slice()),
            "{name} is not written with dimensions {names:?}"
        );
        for (dim, value) in dims {
            if dim == "event" {
                assert!(event_codes().contains(&value.as_str()), "no event {value}");
            }
        }
    }
}

#[test]
fn the_dashboard_names_only_metrics_and_events_the_functions_write() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let body = &text[text.find("DashboardBody").expect("a dashboard")..];
    let codes = event_codes();
    let mut events_seen = 0;
    for piece in body.split("\"Events\", \"event\", \"").skip(1) {
        let code = piece.split('"').next().unwrap();
        assert!(codes.contains(&code), "the dashboard shows event {code}");
        events_seen += 1;
    }
    for piece in body.split("event=\\\"").skip(1) {
        let code = piece.split('\\').next().unwrap();
        assert!(codes.contains(&code), "the dashboard searches event {code}");
    }
    for piece in body
        .split("\"TokenHandler/${AWS::StackName}\", \"")
        .skip(1)
        .chain(body.split("MetricName=\\\"").skip(1))
    {
        let metric = piece.split(['"', '\\']).next().unwrap();
        if !metric.is_empty() {
            assert!(METRICS.contains(&metric), "the dashboard shows {metric}");
        }
    }
    assert!(events_seen >= 10, "{events_seen}");
}

/// `value` as `!Tag inner`, when it is tagged with `tag`.
fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

#[test]
fn functions_that_load_the_configuration_may_decrypt_with_the_kms_key_only_and_only_when_set() {
    let template = template();
    assert_eq!(template["Parameters"]["KmsKeyArn"]["Default"], "");
    let Value::Mapping(resources) = &template["Resources"] else {
        panic!("no resources")
    };
    let mut loaders = Vec::new();
    for (name, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let statements: Vec<&Value> = resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
            .collect();
        let text = |s: &Value| serde_yaml_ng::to_string(s).unwrap();
        let loads_config = statements
            .iter()
            .any(|s| text(s).contains("ssm:GetParametersByPath"));
        let kms: Vec<&&Value> = statements
            .iter()
            .filter(|s| text(s).contains("kms:"))
            .collect();
        if !loads_config {
            assert!(kms.is_empty(), "{name:?} may use KMS: {kms:?}");
            continue;
        }
        loaders.push(name.as_str().unwrap().to_owned());
        assert_eq!(kms.len(), 1, "{name:?}: {kms:?}");
        let branches = tagged(kms[0], "!If")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{name:?}: the KMS statement is not conditional"));
        assert_eq!(branches[0], "HasKmsKey");
        let statement = &branches[1];
        assert_eq!(statement["Effect"], "Allow");
        let actions = statement["Action"].as_sequence().unwrap();
        assert_eq!(actions, &vec![Value::from("kms:Decrypt")], "{name:?}");
        assert_eq!(
            tagged(&statement["Resource"], "!Ref"),
            Some(&Value::from("KmsKeyArn"))
        );
        assert_eq!(
            tagged(&branches[2], "!Ref"),
            Some(&Value::from("AWS::NoValue"))
        );
    }
    loaders.sort();
    assert_eq!(
        loaders,
        [
            "AuthorizerFunction",
            "CallbackFunction",
            "LoginFunction",
            "ProxyFunction",
            "RefreshFunction",
            "SessionFunction"
        ]
    );
}
