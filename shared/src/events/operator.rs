//! Security events for what operators do by hand (`admin sessions …`): the same OCSF 1.4.0
//! Authentication class as the functions' events, with the operator as `actor`, so one query
//! finds a user's sign-ins and the commands that ended their sessions.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::ocsf::SCHEMA_VERSION;

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// Listed a user's sessions.
    SessionsListed,
    /// Ended every session of a user.
    SessionsEnded,
    /// Ended one session.
    SessionEnded,
    /// Counted the live sessions.
    SessionsCounted,
}

impl OperatorAction {
    /// The `metadata.event_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionsListed => "admin_sessions_listed",
            Self::SessionsEnded => "admin_sessions_ended",
            Self::SessionEnded => "admin_session_ended",
            Self::SessionsCounted => "admin_sessions_counted",
        }
    }

    fn activity(self) -> (u64, &'static str) {
        match self {
            Self::SessionsEnded | Self::SessionEnded => (2, "Logoff"),
            Self::SessionsListed => (99, "Session Listing"),
            Self::SessionsCounted => (99, "Session Count"),
        }
    }
}

/// One operator event.
#[derive(Debug)]
pub struct OperatorEvent<'a> {
    /// What was done.
    pub action: OperatorAction,
    /// Who did it (the operating-system user, or the AWS principal when known).
    pub actor: &'a str,
    /// The provider concerned, when the action concerned a user.
    pub provider: Option<&'a str>,
    /// `user.uid` of the user concerned (a keyed hash, as in the functions' events).
    pub user_uid: Option<String>,
    /// `session.uid` of the one session concerned.
    pub session_uid: Option<String>,
    /// Sessions listed, ended or counted.
    pub sessions: Option<u64>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

impl OperatorEvent<'_> {
    /// The event as a JSON object.
    pub fn to_json(&self) -> Value {
        let (activity_id, activity_name) = self.action.activity();
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let (status_id, status, severity_id, severity) = match self.failure {
            None => (1, "Success", 1, "Informational"),
            Some(_) => (2, "Failure", 2, "Low"),
        };
        let mut user = serde_json::Map::new();
        if let Some(uid) = &self.user_uid {
            user.insert("uid".into(), json!(uid));
        }
        if let Some(provider) = self.provider {
            user.insert("domain".into(), json!(provider));
        }
        let mut event = json!({
            "class_uid": 3002,
            "class_name": "Authentication",
            "category_uid": 3,
            "category_name": "Identity & Access Management",
            "activity_id": activity_id,
            "activity_name": activity_name,
            "type_uid": 300_200 + activity_id,
            "type_name": format!("Authentication: {activity_name}"),
            "time": time,
            "severity_id": severity_id,
            "severity": severity,
            "status_id": status_id,
            "status": status,
            "message": self.action.as_str(),
            "metadata": {
                "version": SCHEMA_VERSION,
                "event_code": self.action.as_str(),
                "product": {
                    "name": "lambda-token-handler",
                    "vendor_name": "lambda-token-handler",
                    "version": env!("CARGO_PKG_VERSION"),
                    "feature": {"name": "admin"},
                },
            },
            "actor": {"user": {"name": self.actor}},
            "user": Value::Object(user),
        });
        if let Some(fields) = event.as_object_mut() {
            if let Some(uid) = &self.session_uid {
                fields.insert("session".into(), json!({"uid": uid}));
            }
            if let Some(failure) = &self.failure {
                fields.insert("status_detail".into(), json!(failure));
            }
            if let Some(n) = self.sessions {
                fields.insert("unmapped".into(), json!({"sessions": n}));
            }
        }
        event
    }
}
