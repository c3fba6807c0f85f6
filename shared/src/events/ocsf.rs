//! The security event as an OCSF 1.4.0 Authentication (class 3002) event: the field names of a
//! published schema, so that a SIEM (Security Lake, Splunk, Sentinel, OpenSearch) maps it
//! without a custom parser. README lists each field.

use serde_json::{Map, Value, json};

use super::classify::{EventCode, Reason, Route};
use super::{Context, Hashed};

/// The OCSF schema version the events follow.
pub const SCHEMA_VERSION: &str = "1.4.0";

const CLASS_UID: u64 = 3002;

/// OCSF's activity for a route: Preauth (the redirect to the provider), Logon (the callback and
/// the hand-off), Logoff, or Other with our own name.
fn activity(route: Route) -> (u64, &'static str) {
    match route {
        Route::Login => (6, "Preauth"),
        Route::Callback | Route::Token | Route::Native => (1, "Logon"),
        Route::Logout | Route::BackchannelLogout => (2, "Logoff"),
        Route::Refresh => (99, "Token Refresh"),
        Route::Session => (99, "Session Check"),
        Route::Proxy => (99, "API Call"),
        Route::Authorizer => (99, "Authorization"),
        Route::Quiet => (0, "Unknown"),
    }
}

/// The event for one outcome.
pub fn event(
    route: Route,
    code: EventCode,
    reason: Option<Reason>,
    context: &Context,
    hashed: &Hashed,
    time_ms: u64,
) -> Value {
    let (activity_id, activity_name) = activity(route);
    let (status_id, status) = if code.succeeded() {
        (1, "Success")
    } else {
        (2, "Failure")
    };
    let (severity_id, severity) = if code.succeeded() {
        (1, "Informational")
    } else if code.suspicious() {
        (3, "Medium")
    } else {
        (2, "Low")
    };
    let mut event = json!({
        "class_uid": CLASS_UID,
        "class_name": "Authentication",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("Authentication: {activity_name}"),
        "time": time_ms,
        "duration": context.duration_ms,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": code.as_str(),
        "metadata": {
            "version": SCHEMA_VERSION,
            "event_code": code.as_str(),
            "correlation_uid": context.request_id,
            "product": {
                "name": "lambda-token-handler",
                "vendor_name": "lambda-token-handler",
                "version": env!("CARGO_PKG_VERSION"),
                "feature": {"name": context.function},
            },
        },
        "http_request": {
            "uid": context.api_request_id.as_deref().unwrap_or(&context.request_id),
            "http_method": context.method,
            "url": {"path": context.path},
        },
    });
    let Some(fields) = event.as_object_mut() else {
        return event;
    };
    if let Some(reason) = reason {
        fields.insert("status_detail".into(), Value::String(reason.as_str()));
    }
    if let Some(Reason::Error(error)) = reason {
        fields.insert("status_code".into(), Value::String(error.to_string()));
    }
    if let Some(status) = context.status {
        fields.insert("http_response".into(), json!({"code": status}));
    }
    if let Some(ua) = &context.user_agent
        && let Some(request) = fields
            .get_mut("http_request")
            .and_then(Value::as_object_mut)
    {
        request.insert("user_agent".into(), Value::String(ua.clone()));
    }
    if let Some(ip) = &context.source_ip {
        fields.insert("src_endpoint".into(), json!({"ip": ip}));
    }
    // OCSF requires `user`; its `uid` is a keyed hash of the provider's subject, its `domain`
    // the provider, when the request got as far as knowing them.
    let mut user = Map::new();
    if let Some(subject) = &hashed.subject {
        user.insert("uid".into(), Value::String(subject.clone()));
    }
    if let Some(provider) = &hashed.provider {
        user.insert("domain".into(), Value::String(provider.clone()));
    }
    fields.insert("user".into(), Value::Object(user));
    if let Some(session) = &hashed.session {
        fields.insert("session".into(), json!({"uid": session}));
    }
    let mut unmapped = Map::new();
    if let Some(upstream) = hashed.upstream_status {
        unmapped.insert("upstream_status".into(), json!(upstream));
    }
    if let Some(ended) = hashed.sessions_ended {
        unmapped.insert("sessions_ended".into(), json!(ended));
    }
    if !unmapped.is_empty() {
        fields.insert("unmapped".into(), Value::Object(unmapped));
    }
    event
}
