//! `google.api.http` path templates: parsing and matching.
//!
//! Grammar (from google/api/http.proto):
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! Verb     = ":" LITERAL ;
//! ```

use std::fmt;

/// One segment of a template after variables are flattened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    Single,
    /// `**`: zero or more segments; only allowed last.
    Multi,
}

/// A variable binds the segments `start..end` (end = None: to the end) to a
/// request field path such as `message.name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub field_path: Vec<String>,
    pub start: usize,
    pub end: Option<usize>,
}

/// A parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    pub source: String,
    pub segments: Vec<Segment>,
    pub variables: Vec<Variable>,
    pub verb: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

/// The captured values of a matched path, in the order of the template's variables.
pub type Captures = Vec<(Vec<String>, String)>;

impl PathTemplate {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let err = |why: &str| TemplateError(format!("path template {source:?}: {why}"));
        let rest = source
            .strip_prefix('/')
            .ok_or_else(|| err("must start with '/'"))?;
        // The verb is after the last ':' that is outside braces.
        let mut depth = 0i32;
        let mut verb_at = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ':' if depth == 0 => verb_at = Some(i),
                _ => {}
            }
        }
        let (body, verb) = match verb_at {
            Some(i) => (&rest[..i], Some(rest[i + 1..].to_owned())),
            None => (rest, None),
        };
        if verb
            .as_deref()
            .is_some_and(|v| v.is_empty() || v.contains('/'))
        {
            return Err(err("bad verb"));
        }
        let mut template = PathTemplate {
            source: source.to_owned(),
            segments: Vec::new(),
            variables: Vec::new(),
            verb,
        };
        let mut chars = body;
        while !chars.is_empty() {
            if let Some(after) = chars.strip_prefix('{') {
                let close = after.find('}').ok_or_else(|| err("unclosed '{'"))?;
                let inner = &after[..close];
                let (path, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return Err(err("empty field path"));
                }
                let start = template.segments.len();
                for part in pattern.split('/') {
                    template
                        .segments
                        .push(parse_plain_segment(part).ok_or_else(|| {
                            err("bad segment inside a variable (nested variables are not allowed)")
                        })?);
                }
                let ends_multi = template.segments.last() == Some(&Segment::Multi);
                template.variables.push(Variable {
                    field_path: path.split('.').map(str::to_owned).collect(),
                    start,
                    end: (!ends_multi).then_some(template.segments.len()),
                });
                chars = &after[close + 1..];
            } else {
                let end = chars.find('/').unwrap_or(chars.len());
                let part = &chars[..end];
                template
                    .segments
                    .push(parse_plain_segment(part).ok_or_else(|| err("bad segment"))?);
                chars = &chars[end..];
            }
            if let Some(next) = chars.strip_prefix('/') {
                if next.is_empty() {
                    return Err(err("trailing '/'"));
                }
                chars = next;
            } else if !chars.is_empty() {
                return Err(err("expected '/' after a variable"));
            }
        }
        if let Some(pos) = template.segments.iter().position(|s| *s == Segment::Multi)
            && pos + 1 != template.segments.len()
        {
            return Err(err("'**' must be the last segment"));
        }
        Ok(template)
    }

    /// Number of literal segments (plus the verb): more literals = more specific.
    pub fn specificity(&self) -> (bool, usize, bool) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        let has_multi = self.segments.contains(&Segment::Multi);
        (self.verb.is_some(), literals, !has_multi)
    }

    /// Matches a request path (percent-encoded, without the query). Returns the
    /// captured variable values, percent-decoded.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => {
                let stripped = rest.strip_suffix(verb.as_str())?.strip_suffix(':')?;
                // `:verb` applies to the last segment only.
                if stripped.ends_with('/') {
                    return None;
                }
                stripped
            }
            None => rest,
        };
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let has_multi = self.segments.last() == Some(&Segment::Multi);
        if has_multi {
            if parts.len() < self.segments.len() - 1 {
                return None;
            }
        } else if parts.len() != self.segments.len() {
            return None;
        }
        for (segment, part) in self.segments.iter().zip(parts.iter()) {
            match segment {
                Segment::Literal(literal) => {
                    if percent_decode(part)? != *literal {
                        return None;
                    }
                }
                Segment::Single => {
                    if part.is_empty() {
                        return None;
                    }
                }
                Segment::Multi => break,
            }
        }
        let mut captures = Vec::with_capacity(self.variables.len());
        for variable in &self.variables {
            let end = variable.end.unwrap_or(parts.len()).min(parts.len());
            let start = variable.start.min(end);
            let decoded: Option<Vec<String>> = parts[start..end]
                .iter()
                .map(|part| percent_decode(part))
                .collect();
            captures.push((variable.field_path.clone(), decoded?.join("/")));
        }
        Some(captures)
    }
}

fn parse_plain_segment(part: &str) -> Option<Segment> {
    match part {
        "" => None,
        "*" => Some(Segment::Single),
        "**" => Some(Segment::Multi),
        literal if literal.contains(['{', '}', '=', '*']) => None,
        literal => Some(Segment::Literal(literal.to_owned())),
    }
}

/// Decodes `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
pub fn percent_decode(input: &str) -> Option<String> {
    if !input.contains('%') {
        return Some(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template)
            .unwrap()
            .matches(path)
            .map(|c| {
                c.into_iter()
                    .map(|(field, value)| (field.join("."), value))
                    .collect()
            })
    }

    #[test]
    fn parses_variables_verbs_and_nested_fields() {
        let t = PathTemplate::parse("/v1/{message.name=sessions/*/messages/*}:resend").unwrap();
        assert_eq!(t.verb.as_deref(), Some("resend"));
        assert_eq!(t.segments.len(), 5);
        assert_eq!(
            t.variables,
            vec![Variable {
                field_path: vec!["message".into(), "name".into()],
                start: 1,
                end: Some(5)
            }]
        );
        let plain = PathTemplate::parse("/v1/{name}").unwrap();
        assert_eq!(
            plain.segments,
            vec![Segment::Literal("v1".into()), Segment::Single]
        );
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in [
            "v1/x",
            "/v1/{name",
            "/v1/**/x",
            "/v1/{}",
            "/v1/",
            "/v1/{a=b/{c}}",
            "/v1/x:",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matches_single_and_multi_segment_variables() {
        assert_eq!(
            caps("/v1/{name=sessions/*}", "/v1/sessions/42"),
            Some(vec![("name".into(), "sessions/42".into())])
        );
        assert_eq!(caps("/v1/{name=sessions/*}", "/v1/sessions/42/x"), None);
        assert_eq!(caps("/v1/{name=sessions/*}", "/v1/users/42"), None);
        assert_eq!(caps("/v1/{name=sessions/*}", "/v1/sessions/"), None);
        assert_eq!(
            caps(
                "/v1/{name=sessions/*/messages/*}",
                "/v1/sessions/1/messages/abc"
            ),
            Some(vec![("name".into(), "sessions/1/messages/abc".into())])
        );
        assert_eq!(
            caps("/files/{path=**}", "/files/a/b/c"),
            Some(vec![("path".into(), "a/b/c".into())])
        );
        assert_eq!(
            caps("/v1/{a}/x/{b}", "/v1/1/x/2"),
            Some(vec![("a".into(), "1".into()), ("b".into(), "2".into())])
        );
    }

    #[test]
    fn matches_custom_verbs_on_the_last_segment_only() {
        let t = "/v1/{name=sessions/*}:connect";
        assert_eq!(
            caps(t, "/v1/sessions/7:connect"),
            Some(vec![("name".into(), "sessions/7".into())])
        );
        assert_eq!(caps(t, "/v1/sessions/7"), None);
        assert_eq!(caps(t, "/v1/sessions/7:disconnect"), None);
        assert_eq!(
            caps("/v1/events:subscribe", "/v1/events:subscribe"),
            Some(vec![])
        );
        assert_eq!(caps("/v1/events:subscribe", "/v1/events"), None);
    }

    #[test]
    fn decodes_percent_escapes_in_captures_and_literals() {
        assert_eq!(
            caps(
                "/v1/{name=sessions/*}/contacts/{id}",
                "/v1/sessions/1/contacts/%2B1415%40s"
            ),
            Some(vec![
                ("name".into(), "sessions/1".into()),
                ("id".into(), "+1415@s".into())
            ])
        );
        assert_eq!(caps("/v1/{name}", "/v1/%zz"), None);
        assert_eq!(percent_decode("a%20b"), Some("a b".into()));
    }

    #[test]
    fn specificity_prefers_verbs_then_literals() {
        let verb = PathTemplate::parse("/v1/{name=sessions/*}:connect").unwrap();
        let plain = PathTemplate::parse("/v1/{name=sessions/*}").unwrap();
        let catch_all = PathTemplate::parse("/v1/{name=**}").unwrap();
        assert!(verb.specificity() > plain.specificity());
        assert!(plain.specificity() > catch_all.specificity());
    }
}
