//! `${NAME}` references in configuration values, replaced by environment variables (that is how
//! secrets arrive). Errors name the key, never a value.

use super::ConfigError;

pub(super) fn expand_table(
    table: &mut toml::Table,
    prefix: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        expand_value(value, &path, env)?;
    }
    Ok(())
}

fn expand_value(
    value: &mut toml::Value,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => *s = expand_string(s, path, env)?,
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), env)?;
            }
        }
        toml::Value::Table(t) => expand_table(t, path, env)?,
        _ => {}
    }
    Ok(())
}

/// Replaces each `${NAME}` with the variable's value.
fn expand_string(
    s: &str,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ConfigError::new(path, "unterminated `${` reference"))?;
        let name = &after[..end];
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(ConfigError::new(
                path,
                "`${…}` must name an environment variable of letters, digits and `_`",
            ));
        }
        let value = env(name).ok_or_else(|| {
            ConfigError::new(path, format!("environment variable {name} is not set"))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
