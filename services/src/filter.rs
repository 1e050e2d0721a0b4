//! The filter language of the List RPCs (an AIP-160 subset): comparisons
//! joined by `AND`; a parenthesised group of `OR`ed comparisons on one field.
//! Each List RPC supplies its fields as a function from one comparison to SQL.

use std::str::FromStr;

use crate::store::FilterValue;

/// SQL conditions with `?` marking each value, in order.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    pub conditions: Vec<String>,
    pub values: Vec<FilterValue>,
}

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

pub fn enum_value<T: Copy>(
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

/// A `create_time`-like comparison: `<`, `<=`, `>`, `>=` with an RFC 3339
/// timestamp, as Unix milliseconds.
pub fn time_comparison(
    field: &str,
    op: &str,
    value: &str,
) -> Result<(String, FilterValue), String> {
    if !["<", "<=", ">", ">="].contains(&op) {
        return Err(format!("`{field}` supports <, <=, > and >="));
    }
    let time = prost_types::Timestamp::from_str(value)
        .map_err(|_| format!("{value:?} is not an RFC 3339 timestamp"))?;
    let ms = time.seconds * 1000 + i64::from(time.nanos) / 1_000_000;
    Ok((format!("{field} {op} ?"), FilterValue::Int(ms)))
}

/// Parses `filter`; `comparison` turns one `field op value` into SQL.
pub fn parse<F>(filter: &str, comparison: F) -> Result<Conditions, String>
where
    F: Fn(&str, &str, &str) -> Result<(String, FilterValue), String>,
{
    let mut query = Conditions::default();
    let tokens = tokenize(filter)?;
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
                let (field, op, value) = expect_comparison(&mut rest)?;
                if group_field.as_ref().is_some_and(|f| *f != field) {
                    return Err("an OR group must compare a single field".into());
                }
                group_field = Some(field.clone());
                let (sql, value) = comparison(&field, &op, &value)?;
                parts.push(sql);
                query.values.push(value);
                match rest {
                    [Token::Word(w), tail @ ..] if w == "OR" => rest = tail,
                    [Token::Close, tail @ ..] => {
                        rest = tail;
                        break;
                    }
                    _ => return Err("expected `OR` or `)`".into()),
                }
            }
            query.conditions.push(format!("({})", parts.join(" OR ")));
        } else {
            let (field, op, value) = expect_comparison(&mut rest)?;
            let (sql, value) = comparison(&field, &op, &value)?;
            query.conditions.push(sql);
            query.values.push(value);
        }
        match rest {
            [] => {}
            [Token::Word(w), tail @ ..] if w == "AND" => {
                rest = tail;
                if rest.is_empty() {
                    return Err("`AND` must be followed by a comparison".into());
                }
            }
            _ => return Err("comparisons must be joined by `AND`".into()),
        }
    }
    Ok(query)
}
