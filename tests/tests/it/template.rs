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
