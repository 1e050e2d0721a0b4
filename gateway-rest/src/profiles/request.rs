//! Request assembly from an endpoint's [`FieldMap`]s: the request message as
//! proto3 JSON (proto field names), validated by the product's rules
//! (required fields, types) with errors under the product's field names.

use serde_json::{Map, Value, json};

use super::{Conv, Endpoint, FieldErrors, FieldMap, From, Inputs};

/// The product's message for a missing required field.
pub fn required_message(seed: &str) -> String {
    format!("The {seed} field is required.")
}

pub fn add_error(errors: &mut FieldErrors, seed: &str, message: impl Into<String>) {
    errors
        .entry(seed.to_owned())
        .or_default()
        .push(message.into());
}

/// The request JSON for `endpoint`, or every field error found.
pub fn assemble(endpoint: &Endpoint, inputs: &Inputs) -> Result<Value, FieldErrors> {
    let mut request = Value::Object(Map::new());
    let mut errors = FieldErrors::new();
    let mut mask = Vec::new();
    for map in &endpoint.fields {
        let Some(raw) = raw_value(map, inputs) else {
            if map.required {
                add_error(&mut errors, map.seed, required_message(map.seed));
            }
            continue;
        };
        match convert(map, raw, inputs.caller_session) {
            Ok(value) => {
                set_path(&mut request, map.to, value);
                if let Some((_, prefix)) = endpoint.update_mask
                    && map.from != From::Path
                {
                    mask.push(map.to.strip_prefix(prefix).unwrap_or(map.to).to_owned());
                }
            }
            Err(why) => add_error(&mut errors, map.seed, why),
        }
    }
    if let Some((mask_field, _)) = endpoint.update_mask {
        set_path(&mut request, mask_field, Value::String(mask.join(",")));
    }
    if let Some(build) = endpoint.build
        && let Err(more) = build(&mut request, inputs)
    {
        for (field, messages) in more {
            errors.entry(field).or_default().extend(messages);
        }
    }
    if errors.is_empty() {
        Ok(request)
    } else {
        Err(errors)
    }
}

fn raw_value(map: &FieldMap, inputs: &Inputs) -> Option<Value> {
    let value = match map.from {
        From::Path => inputs.path.get(map.seed).cloned().map(Value::String),
        From::Query => inputs.query.get(map.seed).cloned().map(Value::String),
        From::Body => body_value(&inputs.body, map.seed).cloned(),
        From::Caller => inputs
            .caller_session
            .map(|id| Value::String(format!("sessions/{id}"))),
    };
    // An empty string or null counts as missing, as in the products' validators.
    value.filter(|v| !v.is_null() && v.as_str() != Some(""))
}

/// A dotted body path (`key.id`).
pub fn body_value<'a>(body: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(body, |value, name| value.as_object()?.get(name))
}

fn convert(map: &FieldMap, raw: Value, caller: Option<i64>) -> Result<Value, String> {
    let seed = map.seed;
    let text = || -> Result<String, String> {
        match &raw {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(format!("The {seed} field must be a string.")),
        }
    };
    match map.conv {
        Conv::Copy => Ok(raw),
        Conv::SessionName => {
            let id = text()?;
            id.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(|id| Value::String(format!("sessions/{id}")))
                .ok_or_else(|| format!("The {seed} field must be an integer."))
        }
        Conv::CallerChild(collection) => {
            let session = caller.ok_or_else(|| format!("The {seed} field needs a session."))?;
            Ok(Value::String(format!(
                "sessions/{session}/{collection}/{}",
                text()?
            )))
        }
        Conv::EnumPrefix(prefix) => Ok(Value::String(format!(
            "{prefix}{}",
            text()?.to_ascii_uppercase()
        ))),
        Conv::MillisToDuration => {
            let millis = match &raw {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse::<f64>().ok(),
                _ => None,
            }
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .ok_or_else(|| format!("The {seed} field must be an integer."))?;
            Ok(Value::String(format!("{}s", millis / 1000.0)))
        }
        Conv::Bool => bool_of(&raw)
            .map(Value::Bool)
            .ok_or_else(|| format!("The {seed} field must be true or false.")),
        Conv::BoolToEnum(yes, no) => bool_of(&raw)
            .map(|b| Value::String(if b { yes } else { no }.to_owned()))
            .ok_or_else(|| format!("The {seed} field must be true or false.")),
        Conv::ListOfObjects(key) => match &raw {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(json!({ key: s })),
                    _ => Err(format!("The {seed} field must be an array of strings.")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(format!("The {seed} field must be an array.")),
        },
        Conv::Singleton => Ok(Value::Array(vec![raw])),
    }
}

fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// Sets `a.b.c` in a JSON object, creating the objects on the way.
pub fn set_path(target: &mut Value, dotted: &str, value: Value) {
    let mut current = target;
    let mut names = dotted.split('.').peekable();
    while let Some(name) = names.next() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let object = current.as_object_mut().expect("an object");
        if names.peek().is_none() {
            object.insert(name.to_owned(), value);
            return;
        }
        current = object
            .entry(name.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The product's name of a request field path named by an error (proto or
/// JSON names, with or without the path's prefix), when a map covers it.
pub fn seed_name(fields: &[FieldMap], violation: &str) -> Option<&'static str> {
    let wanted = normalize(violation);
    fields
        .iter()
        .filter(|map| map.from != From::Caller)
        .find(|map| {
            let to = normalize(map.to);
            to == wanted
                || to.ends_with(&format!(".{wanted}"))
                || wanted.ends_with(&format!(".{to}"))
        })
        .map(|map| map.seed)
}

/// `session.phoneNumber` and `session.phone_number` compare equal.
fn normalize(path: &str) -> String {
    path.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use http::Method;

    use super::*;
    use crate::profiles::{Paging, Reply, Scope};

    fn endpoint(fields: &[FieldMap], mask: Option<(&'static str, &'static str)>) -> Endpoint {
        Endpoint {
            method: Method::PUT,
            path: "/x/{id}",
            summary: "",
            rpc: "wagate.v1.SessionService.UpdateSession",
            scope: Scope::Account,
            fields: fields.to_vec(),
            build: None,
            update_mask: mask,
            paging: Paging::None,
            shape: |_, _| Reply::no_content(),
        }
    }

    fn inputs(body: Value, path: &[(&str, &str)]) -> Inputs {
        Inputs {
            path: path
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query: HashMap::new(),
            body,
            raw_body: Default::default(),
            content_type: None,
            caller_session: Some(9),
        }
    }

    static FIELDS: [FieldMap; 5] = [
        FieldMap::path("id", "session.name", Conv::SessionName),
        FieldMap::body("name", "session.display_name", Conv::Copy).required(),
        FieldMap::body("always_online", "session.always_online", Conv::Bool),
        FieldMap::body("key.id", "message.key.id", Conv::Copy),
        FieldMap::body("delayMs", "duration", Conv::MillisToDuration),
    ];

    #[test]
    fn maps_path_body_and_nested_fields_with_an_update_mask() {
        let request = assemble(
            &endpoint(&FIELDS, Some(("update_mask", "session."))),
            &inputs(
                json!({"name": "Shop", "always_online": "true", "key": {"id": "ABC"}, "delayMs": 1500}),
                &[("id", "7")],
            ),
        )
        .unwrap();
        assert_eq!(
            request,
            json!({
                "session": {"name": "sessions/7", "display_name": "Shop", "always_online": true},
                "message": {"key": {"id": "ABC"}},
                "duration": "1.5s",
                "update_mask": "display_name,always_online,message.key.id,duration"
            })
        );
    }

    #[test]
    fn missing_and_malformed_fields_are_reported_by_seed_name() {
        let errors = assemble(
            &endpoint(&FIELDS, None),
            &inputs(
                json!({"always_online": "maybe", "name": ""}),
                &[("id", "x")],
            ),
        )
        .unwrap_err();
        assert_eq!(
            errors["name"],
            vec!["The name field is required.".to_owned()]
        );
        assert_eq!(
            errors["id"],
            vec!["The id field must be an integer.".to_owned()]
        );
        assert_eq!(errors["always_online"].len(), 1);
    }

    #[test]
    fn violations_map_back_to_seed_names() {
        assert_eq!(seed_name(&FIELDS, "session.displayName"), Some("name"));
        assert_eq!(seed_name(&FIELDS, "display_name"), Some("name"));
        assert_eq!(seed_name(&FIELDS, "message.key.id"), Some("key.id"));
        assert_eq!(seed_name(&FIELDS, "nothing"), None);
    }
}
