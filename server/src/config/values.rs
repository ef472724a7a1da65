//! Reading one variable's value: numbers, seconds, yes or no, each refusal naming the
//! variable.

use std::time::Duration;

use super::ConfigError;

pub(super) fn invalid(name: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.to_owned(),
    }
}

pub(super) fn parse<T: std::str::FromStr>(value: &str, name: &'static str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|error: T::Err| invalid(name, &format!("`{value}`: {error}")))
}

pub(super) fn seconds(value: &str, name: &'static str) -> Result<Duration, ConfigError> {
    let secs: u64 = parse(value, name)?;
    if secs == 0 {
        return Err(invalid(name, "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

pub(super) fn boolean(value: &str, name: &'static str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, "expected true or false")),
    }
}
