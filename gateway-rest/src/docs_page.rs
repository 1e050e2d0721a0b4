//! `GET /docs`: a self-contained HTML page rendered on the server from the
//! OpenAPI document (no scripts, no CDN: it works offline).

use std::fmt::Write as _;

use serde_json::Value as Json;

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}\
header{background:#1f6f50;color:#fff;padding:1.2em 2em}header h1{margin:0}\
nav{position:fixed;top:0;bottom:0;left:0;width:290px;overflow:auto;padding:1em;background:#fff;border-right:1px solid #dde}\
nav a{display:block;color:#1d2330;text-decoration:none;font-size:13px;padding:1px 0}nav h3{margin:1em 0 .2em;font-size:14px}\
main{margin-left:322px;padding:0 2em 4em}section.op{background:#fff;border:1px solid #dde;border-radius:6px;padding:.6em 1.2em;margin:1em 0}\
.m{display:inline-block;min-width:4.2em;text-align:center;font-weight:700;color:#fff;border-radius:3px;padding:0 .4em;margin-right:.5em}\
.get{background:#2b7bb9}.post{background:#2e8b57}.patch{background:#b9822b}.delete{background:#b93a2b}.put{background:#7b2bb9}\
code,.path{font-family:ui-monospace,monospace;font-size:13px}table{border-collapse:collapse;width:100%;margin:.4em 0}\
td,th{border:1px solid #e3e6ea;padding:.25em .5em;text-align:left;vertical-align:top;font-size:13px}th{background:#f3f5f7}\
p.d{white-space:pre-wrap}";

pub fn render(document: &Json) -> String {
    let info = &document["info"];
    let mut html = String::with_capacity(256 * 1024);
    let title = text(&info["title"]);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} {}</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{STYLE}</style></head><body>",
        escape(&title),
        escape(&text(&info["version"]))
    );
    let operations = collect_operations(document);
    html.push_str("<nav><strong>Operations</strong>");
    let mut current_tag = String::new();
    for op in &operations {
        if op.tag != current_tag {
            current_tag = op.tag.clone();
            let _ = write!(html, "<h3>{}</h3>", escape(&current_tag));
        }
        let _ = write!(
            html,
            "<a href=\"#{}\"><span class=\"m {}\">{}</span>{}</a>",
            escape(&op.id),
            op.method,
            op.method.to_uppercase(),
            escape(&op.name)
        );
    }
    html.push_str("<h3><a href=\"#schemas\">Schemas</a></h3></nav>");
    let _ = write!(
        html,
        "<main><header><h1>{}</h1><p>{}</p></header><p class=\"d\">{}</p>\
         <p>Machine-readable: <a href=\"openapi.json\">openapi.json</a> (OpenAPI 3.1).</p>",
        escape(&title),
        inline(&text(&info["summary"])),
        inline(&text(&info["description"]))
    );
    current_tag.clear();
    for op in &operations {
        if op.tag != current_tag {
            current_tag = op.tag.clone();
            let description = document["tags"]
                .as_array()
                .and_then(|tags| tags.iter().find(|t| t["name"] == current_tag.as_str()))
                .map(|t| text(&t["description"]))
                .unwrap_or_default();
            let _ = write!(
                html,
                "<h2>{}</h2><p class=\"d\">{}</p>",
                escape(&current_tag),
                inline(&description)
            );
        }
        render_operation(&mut html, op);
    }
    html.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = document["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            render_schema(&mut html, name, schema);
        }
    }
    html.push_str("</main></body></html>");
    html
}

struct Operation<'a> {
    tag: String,
    id: String,
    name: String,
    method: &'a str,
    path: &'a str,
    body: &'a Json,
}

fn collect_operations(document: &Json) -> Vec<Operation<'_>> {
    let mut operations = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(body) = item.get(method) else {
                    continue;
                };
                let id = text(&body["operationId"]);
                operations.push(Operation {
                    tag: body["tags"][0].as_str().unwrap_or("Other").to_owned(),
                    name: id.split('_').nth(1).unwrap_or(&id).to_owned(),
                    id,
                    method,
                    path,
                    body,
                });
            }
        }
    }
    operations.sort_by(|a, b| (&a.tag, &a.id).cmp(&(&b.tag, &b.id)));
    operations
}

fn render_operation(html: &mut String, op: &Operation<'_>) {
    let _ = write!(
        html,
        "<section class=\"op\" id=\"{}\"><h3><span class=\"m {}\">{}</span><span class=\"path\">{}</span></h3>\
         <p class=\"d\">{}</p>",
        escape(&op.id),
        op.method,
        op.method.to_uppercase(),
        escape(op.path),
        inline(&text(&op.body["description"]))
    );
    if let Some(parameters) = op.body["parameters"].as_array().filter(|p| !p.is_empty()) {
        html.push_str(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>",
        );
        for parameter in parameters {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text(&parameter["name"])),
                escape(&text(&parameter["in"])),
                type_label(&parameter["schema"]),
                inline(&text(&parameter["description"]))
            );
        }
        html.push_str("</table>");
    }
    let body_schema = &op.body["requestBody"]["content"]["application/json"]["schema"];
    if !body_schema.is_null() {
        let _ = write!(
            html,
            "<p>Request body (JSON): {}</p>",
            type_label(body_schema)
        );
    }
    if op.body["responses"]["default"].is_null()
        && op.body["responses"]["401"].is_object()
        && let Some(responses) = op.body["responses"].as_object()
    {
        // A compatibility profile's operation: its own statuses and bodies.
        render_profile_responses(html, responses);
        return;
    }
    let ok = &op.body["responses"]["200"]["content"];
    let ok_schema = if ok["application/json"].is_null() {
        &ok["application/x-ndjson"]["schema"]["properties"]["result"]
    } else {
        &ok["application/json"]["schema"]
    };
    let streaming = if ok["application/json"].is_null() {
        " — streamed as NDJSON <code>{\"result\": …}</code> lines, or SSE with <code>Accept: text/event-stream</code>"
    } else {
        ""
    };
    let _ = write!(
        html,
        "<p>Response: {}{streaming}. Errors: <a href=\"#schema-google.rpc.Status\">google.rpc.Status</a>.</p></section>",
        type_label(ok_schema)
    );
}

/// The success status with its body's top-level keys, and the error
/// statuses, of an operation that documents its own responses.
fn render_profile_responses(html: &mut String, responses: &serde_json::Map<String, Json>) {
    let mut errors = Vec::new();
    let mut success = String::new();
    for (code, response) in responses {
        if !code.starts_with('2') {
            errors.push(escape(code));
            continue;
        }
        if !success.is_empty() {
            continue;
        }
        let schema = &response["content"]["application/json"]["schema"];
        success = if schema.is_null() {
            format!("{} (no body)", escape(code))
        } else {
            let keys: Vec<String> = schema["properties"]
                .as_object()
                .map(|p| {
                    p.keys()
                        .map(|k| format!("<code>{}</code>", escape(k)))
                        .collect()
                })
                .unwrap_or_default();
            let keys = if keys.is_empty() {
                String::new()
            } else {
                format!(" with {}", keys.join(", "))
            };
            format!("{} {}{keys}", escape(code), type_label(schema))
        };
    }
    let _ = write!(
        html,
        "<p>Response: {success}. Errors: {} (in the product's error bodies).</p></section>",
        errors.join(", ")
    );
}

fn render_schema(html: &mut String, name: &str, schema: &Json) {
    let _ = write!(
        html,
        "<section class=\"op\" id=\"schema-{}\"><h3><code>{}</code></h3><p class=\"d\">{}</p>",
        escape(name),
        escape(name),
        inline(&text(&schema["description"]))
    );
    if let Some(properties) = schema["properties"].as_object() {
        html.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
        for (field, property) in properties {
            let read_only = if property["readOnly"] == true {
                " <em>(output only)</em>"
            } else {
                ""
            };
            let _ = write!(
                html,
                "<tr><td><code>{}</code>{read_only}</td><td>{}</td><td class=\"d\">{}</td></tr>",
                escape(field),
                type_label(property),
                inline(&text(&property["description"]))
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section>");
}

/// A short type description with links to component schemas.
fn type_label(schema: &Json) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\"><code>{0}</code></a>", escape(name));
    }
    match &schema["type"] {
        Json::String(kind) if kind == "array" => {
            format!("array of {}", type_label(&schema["items"]))
        }
        Json::String(kind) if kind == "object" && schema["additionalProperties"].is_object() => {
            format!("map of {}", type_label(&schema["additionalProperties"]))
        }
        Json::String(kind) => match schema["format"].as_str() {
            Some(format) => format!("<code>{}</code> ({})", escape(kind), escape(format)),
            None => format!("<code>{}</code>", escape(kind)),
        },
        Json::Array(kinds) => kinds.iter().map(text).collect::<Vec<_>>().join(" | "),
        _ => "any".to_owned(),
    }
}

fn text(value: &Json) -> String {
    value.as_str().map(str::to_owned).unwrap_or_default()
}

pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes, then renders `code` spans.
fn inline(raw: &str) -> String {
    let escaped = escape(raw);
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_renders_code_spans() {
        assert_eq!(inline("a `<b>` c"), "a <code>&lt;b&gt;</code> c");
        assert_eq!(escape("\"'&"), "&quot;&#39;&amp;");
    }
}
