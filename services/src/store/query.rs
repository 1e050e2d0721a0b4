//! Building queries from filter conditions: `?` markers numbered as
//! `$1, $2, …` and the values bound in order (shared by the List queries).

use sqlx::AssertSqlSafe;

use super::FilterValue;

/// `?` placeholders numbered from `$first`.
pub(super) fn numbered(sql: &str, first: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = first;
    for ch in sql.chars() {
        if ch == '?' {
            out.push_str(&format!("${n}"));
            n += 1;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `WHERE a AND b`, or nothing without conditions.
pub(super) fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// A query with `?` numbered and the values bound in order.
pub(super) fn bind_values(
    sql: String,
    values: &[FilterValue],
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(AssertSqlSafe(numbered(&sql, 1)));
    for value in values {
        query = match value {
            FilterValue::Int(v) => query.bind(*v),
            FilterValue::Text(v) => query.bind(v.clone()),
        };
    }
    query
}
