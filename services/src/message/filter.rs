//! ListMessages filters (an AIP-160 subset) and ordering, parsed into a store
//! query. Comparisons are joined by `AND`; a parenthesised group of `OR`ed
//! comparisons on one field is allowed.

use super::model::{ChatType, Direction, Status, normalize_chat};
use crate::filter::enum_value;
use crate::store::{FilterValue, MessageQuery};

/// One comparison as SQL and its value.
fn comparison(field: &str, op: &str, value: &str) -> Result<(String, FilterValue), String> {
    let equality = |allowed: &[&str]| {
        if allowed.contains(&op) {
            Ok(())
        } else {
            Err(format!("`{field}` supports {}", allowed.join(" and ")))
        }
    };
    let sql_op = if op == "!=" { "<>" } else { op };
    match field {
        "status" => {
            equality(&["=", "!="])?;
            let status = enum_value(
                value,
                "MESSAGE_STATUS_",
                &[
                    ("QUEUED", Status::Queued),
                    ("IN_PROGRESS", Status::InProgress),
                    ("SENT", Status::Sent),
                    ("DELIVERED", Status::Delivered),
                    ("READ", Status::Read),
                    ("PLAYED", Status::Played),
                    ("FAILED", Status::Failed),
                    ("CANCELLED", Status::Cancelled),
                    ("RECEIVED", Status::Received),
                ],
                "status",
            )?;
            Ok((
                format!("status {sql_op} ?"),
                FilterValue::Int(status as i64),
            ))
        }
        "direction" => {
            equality(&["=", "!="])?;
            let direction = enum_value(
                value,
                "MESSAGE_DIRECTION_",
                &[
                    ("INBOUND", Direction::Inbound),
                    ("OUTBOUND", Direction::Outbound),
                ],
                "direction",
            )?;
            Ok((
                format!("direction {sql_op} ?"),
                FilterValue::Int(direction as i64),
            ))
        }
        "chat_type" => {
            equality(&["=", "!="])?;
            let chat_type = enum_value(
                value,
                "CHAT_TYPE_",
                &[
                    ("PERSONAL", ChatType::Personal),
                    ("GROUP", ChatType::Group),
                    ("NEWSLETTER", ChatType::Newsletter),
                    ("BROADCAST", ChatType::Broadcast),
                ],
                "chat_type",
            )?;
            Ok((
                format!("chat_type {sql_op} ?"),
                FilterValue::Int(chat_type as i64),
            ))
        }
        "chat" => {
            equality(&["=", "!="])?;
            let jid = normalize_chat(value)?;
            Ok((format!("chat {sql_op} ?"), FilterValue::Text(jid)))
        }
        "whatsapp_id" => {
            equality(&["=", "!="])?;
            Ok((
                format!("whatsapp_id {sql_op} ?"),
                FilterValue::Text(value.to_owned()),
            ))
        }
        "create_time" => crate::filter::time_comparison(field, op, value),
        other => Err(format!(
            "unknown field {other:?}; filterable: status, direction, chat, chat_type, whatsapp_id, create_time"
        )),
    }
}

/// Parses `filter` and `order_by` into a query. Errors describe the problem.
pub fn parse(filter: &str, order_by: &str) -> Result<MessageQuery, (&'static str, String)> {
    let mut query = MessageQuery {
        oldest_first: match order_by
            .trim()
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] | ["create_time", "desc"] => false,
            ["create_time"] | ["create_time", "asc"] => true,
            _ => {
                return Err((
                    "order_by",
                    format!("{order_by:?}: use `create_time desc` (default) or `create_time`"),
                ));
            }
        },
        ..MessageQuery::default()
    };
    let parsed = crate::filter::parse(filter, comparison).map_err(|e| ("filter", e))?;
    query.conditions = parsed.conditions;
    query.values = parsed.values;
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let query = parse(
            r#"(status = QUEUED OR status = MESSAGE_STATUS_IN_PROGRESS) AND create_time >= "2026-01-01T00:00:00Z""#,
            "create_time",
        )
        .unwrap();
        assert_eq!(
            query.conditions,
            ["(status = ? OR status = ?)", "create_time >= ?"]
        );
        assert!(query.oldest_first);
        assert!(matches!(
            query.values[2],
            FilterValue::Int(1_767_225_600_000)
        ));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            "status = NOPE",
            "colour = red",
            "status > SENT",
            "status = SENT OR direction = INBOUND",
            "(status = SENT OR direction = INBOUND)",
            "create_time >= yesterday",
            "status = SENT AND",
            "\"unterminated",
        ] {
            assert!(parse(bad, "").is_err(), "{bad:?} should be refused");
        }
        assert!(parse("", "name").is_err());
        assert_eq!(
            parse("chat = +14155550123", "").unwrap().conditions,
            ["chat = ?"]
        );
    }
}
