//! ListMessages filters (an AIP-160 subset) and ordering, parsed into a store
//! query. Comparisons are joined by `AND`; a parenthesised group of `OR`ed
//! comparisons on one field is allowed.

use std::str::FromStr;

use super::model::{ChatType, Direction, Status, normalize_chat};
use crate::store::{FilterValue, MessageQuery};

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Op(&'static str),
    Word(String),
    Quoted(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '"')
                    .ok_or("unterminated quoted value")?;
                tokens.push(Token::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '!' | '<' | '>' | '=' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "!=" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    _ => match c {
                        '<' => "<",
                        '>' => ">",
                        '=' => "=",
                        _ => return Err("`!` must be followed by `=`".into()),
                    },
                };
                tokens.push(Token::Op(op));
                i += op.len();
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()\"!<>=".contains(chars[i])
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn enum_value<T: Copy>(
    text: &str,
    prefix: &str,
    values: &[(&str, T)],
    field: &str,
) -> Result<T, String> {
    let upper = text.to_ascii_uppercase();
    let bare = upper.strip_prefix(prefix).unwrap_or(&upper);
    values
        .iter()
        .find(|(name, _)| *name == bare)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            format!(
                "unknown {field} {text:?}; expected one of {}",
                values
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

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
        "create_time" => {
            if !["<", "<=", ">", ">="].contains(&op) {
                return Err("`create_time` supports <, <=, > and >=".into());
            }
            let time = prost_types::Timestamp::from_str(value)
                .map_err(|_| format!("{value:?} is not an RFC 3339 timestamp"))?;
            let ms = time.seconds * 1000 + i64::from(time.nanos) / 1_000_000;
            Ok((format!("create_time {op} ?"), FilterValue::Int(ms)))
        }
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
    let tokens = tokenize(filter).map_err(|e| ("filter", e))?;
    let mut rest = tokens.as_slice();
    let expect_comparison = |rest: &mut &[Token]| -> Result<(String, String, String), String> {
        match rest {
            [
                Token::Word(field),
                Token::Op(op),
                Token::Word(value) | Token::Quoted(value),
                tail @ ..,
            ] => {
                let found = (field.clone(), (*op).to_owned(), value.clone());
                *rest = tail;
                Ok(found)
            }
            _ => Err("expected a comparison like `status = FAILED`".into()),
        }
    };
    while !rest.is_empty() {
        if let [Token::Open, tail @ ..] = rest {
            rest = tail;
            let mut parts = Vec::new();
            let mut group_field: Option<String> = None;
            loop {
                let (field, op, value) = expect_comparison(&mut rest).map_err(|e| ("filter", e))?;
                if group_field.as_ref().is_some_and(|f| *f != field) {
                    return Err(("filter", "an OR group must compare a single field".into()));
                }
                group_field = Some(field.clone());
                let (sql, value) = comparison(&field, &op, &value).map_err(|e| ("filter", e))?;
                parts.push(sql);
                query.values.push(value);
                match rest {
                    [Token::Word(w), tail @ ..] if w == "OR" => rest = tail,
                    [Token::Close, tail @ ..] => {
                        rest = tail;
                        break;
                    }
                    _ => return Err(("filter", "expected `OR` or `)`".into())),
                }
            }
            query.conditions.push(format!("({})", parts.join(" OR ")));
        } else {
            let (field, op, value) = expect_comparison(&mut rest).map_err(|e| ("filter", e))?;
            let (sql, value) = comparison(&field, &op, &value).map_err(|e| ("filter", e))?;
            query.conditions.push(sql);
            query.values.push(value);
        }
        match rest {
            [] => {}
            [Token::Word(w), tail @ ..] if w == "AND" => {
                rest = tail;
                if rest.is_empty() {
                    return Err(("filter", "`AND` must be followed by a comparison".into()));
                }
            }
            _ => return Err(("filter", "comparisons must be joined by `AND`".into())),
        }
    }
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
