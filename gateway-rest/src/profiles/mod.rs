//! Compatibility profiles: other products' REST APIs served on wagate's RPCs.
//!
//! A profile is a table of [`Endpoint`]s — path, method, RPC, how the request
//! message is filled from the path, query and body ([`FieldMap`]s, plus an
//! optional builder for what a table cannot say), paging, and a shape
//! function for the response — and a [`Flavor`] with the product's error
//! bodies. [`install`] adds one [`crate::routes::Binding`] per endpoint to the
//! route table; [`engine`] serves them (caller's session look-up, request
//! building, one or more RPCs, shaping, rate-limit headers).

pub mod chatsuite;
pub mod common;
pub mod concurrency;
pub mod engine;
pub mod limiter;
pub mod onsend;
pub mod prosendi;
pub mod request;
pub mod responses;
pub mod saas;
pub mod wasender;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use http::{Method, StatusCode};
use prost_reflect::DescriptorPool;
use serde_json::{Value, json};

use crate::routes::{Binding, BodyMapping, PathTemplate, RouteTable};

pub use engine::{CompatEndpoint, Inputs, SharedState};
pub use limiter::Limiter;

/// Which credential an endpoint takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The account-level token (our admin token); sessions are named in the path.
    Account,
    /// A session API key; the session is the key's own (looked up once per key).
    Session,
    /// Either credential; the session ("device") is the one the named body
    /// or query field (the first) gives, else the session key's own, else —
    /// with the account token — the default device: the session carrying
    /// the label (the second, if any) with the highest value (the time it
    /// was made the default), else the oldest connected session (products
    /// that pick a device for the caller).
    Device(&'static str, Option<&'static str>),
}

/// Where a request value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// A path variable of the endpoint's template, by name.
    Path,
    /// A query parameter.
    Query,
    /// A body field; dotted names reach into objects (`key.id`).
    Body,
    /// The caller's session (Scope::Session); `seed` is unused.
    Caller,
}

/// How a value is converted on its way into the request message.
#[derive(Clone, Copy, Debug)]
pub enum Conv {
    /// As it is (strings from the path or query stay strings).
    Copy,
    /// An id → `sessions/{id}`.
    SessionName,
    /// An id → `sessions/{caller}/{collection}/{id}`.
    CallerChild(&'static str),
    /// `composing` → `PREFIX_COMPOSING`.
    EnumPrefix(&'static str),
    /// Milliseconds → a protobuf Duration (`"1.5s"`).
    MillisToDuration,
    /// `"true"`/`"1"` (query strings) or a JSON boolean → a boolean.
    Bool,
    /// A boolean → one of two enum names (true, false).
    BoolToEnum(&'static str, &'static str),
    /// A list of strings → a list of objects with the string under this key.
    ListOfObjects(&'static str),
    /// One value → a list of that one value.
    Singleton,
}

/// One request value: `seed` (its name in the product's API, from `from`)
/// goes to the request field path `to` (proto names, dotted).
#[derive(Clone, Copy, Debug)]
pub struct FieldMap {
    pub seed: &'static str,
    pub from: From,
    pub to: &'static str,
    pub conv: Conv,
    pub required: bool,
}

impl FieldMap {
    pub const fn path(seed: &'static str, to: &'static str, conv: Conv) -> Self {
        Self {
            seed,
            from: From::Path,
            to,
            conv,
            required: true,
        }
    }

    pub const fn query(seed: &'static str, to: &'static str, conv: Conv) -> Self {
        Self {
            seed,
            from: From::Query,
            to,
            conv,
            required: false,
        }
    }

    pub const fn body(seed: &'static str, to: &'static str, conv: Conv) -> Self {
        Self {
            seed,
            from: From::Body,
            to,
            conv,
            required: false,
        }
    }

    /// The caller's session name (`sessions/{id}`) into `to`.
    pub const fn caller(to: &'static str) -> Self {
        Self {
            seed: "",
            from: From::Caller,
            to,
            conv: Conv::Copy,
            required: true,
        }
    }

    /// Missing → a validation error naming `seed`.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// Page-number paging over our token-paged list RPCs.
#[derive(Clone, Copy, Debug)]
pub enum Paging {
    /// One call; the response as it is.
    None,
    /// Every item (all pages) of the repeated field `list`.
    All { list: &'static str },
    /// One page: `page` (from 1) and `size` query parameters. With `switch`,
    /// paging applies only when that query parameter is true (else: All).
    Pages {
        list: &'static str,
        page: &'static str,
        size: &'static str,
        default_size: u32,
        switch: Option<&'static str>,
    },
}

/// What a shape function answers.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// None: no body (204).
    pub body: Option<Value>,
}

impl Reply {
    pub fn json(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

/// A request the table cannot express: a builder adds to the request JSON
/// after the field maps, or refuses with per-field errors (seed names).
pub type BuildFn = fn(&mut Value, &Inputs) -> Result<(), FieldErrors>;
/// The response (canonical proto3 JSON with defaults printed; for paged
/// endpoints a [`engine::Page`] as JSON) → the product's answer.
pub type ShapeFn = fn(&Value, &Inputs) -> Reply;

/// Validation errors by the product's field names.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// One endpoint of a compatibility API.
pub struct Endpoint {
    pub method: Method,
    /// Template with `{name}` variables, e.g. `/api/messages/{msgId}`.
    pub path: &'static str,
    pub summary: &'static str,
    /// Full RPC name, e.g. `wagate.v1.MessageService.SendMessage`.
    pub rpc: &'static str,
    pub scope: Scope,
    pub fields: Vec<FieldMap>,
    pub build: Option<BuildFn>,
    /// Request field that lists the mapped fields the client sent (PUT
    /// updates), with the prefix to strip from their paths (`session.`).
    pub update_mask: Option<(&'static str, &'static str)>,
    pub paging: Paging,
    pub shape: ShapeFn,
}

/// A product's error bodies and conventions.
pub trait Flavor: Send + Sync + 'static {
    /// Short name, e.g. `wasender`.
    fn name(&self) -> &'static str;
    /// OpenAPI tag of the profile's operations.
    fn tag(&self) -> &'static str;
    /// The HTTP status and body of a failure.
    fn render_failure(&self, failure: &Failure, scope: Scope) -> (StatusCode, Value);
    /// How clients send their credential, for the OpenAPI descriptions.
    fn auth_header(&self) -> &'static str {
        "`Authorization: Bearer`"
    }
}

/// Why a compatibility request failed.
#[derive(Debug)]
pub enum Failure {
    /// The upstream (or the gateway's own request building) refused; field
    /// violations are renamed to the product's names where known.
    Status {
        status: tonic::Status,
        fields: FieldErrors,
        /// Whether the request carried a credential at all.
        had_credential: bool,
    },
    /// Required or malformed fields found before any call.
    Validation(FieldErrors),
    /// The gateway's per-credential request limit.
    RateLimited { retry_after: u64, limit: u32 },
}

/// Adds the endpoints of `table`, their paths under `prefix` (`""` or
/// `/name`), as bindings served by `flavor`.
pub fn install(
    pool: &DescriptorPool,
    routes: &mut RouteTable,
    prefix: &str,
    endpoints: Vec<Endpoint>,
    flavor: Arc<dyn Flavor>,
    state: Arc<SharedState>,
) -> anyhow::Result<()> {
    let method_of = |full: &str| {
        let (service, method) = full
            .rsplit_once('.')
            .ok_or_else(|| anyhow!("{full}: RPC name without a service"))?;
        pool.get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .ok_or_else(|| anyhow!("{full}: no such RPC"))
    };
    let session_rpc = method_of("wagate.v1.SessionService.GetSession")?;
    let list_sessions_rpc = method_of("wagate.v1.SessionService.ListSessions")?;
    for endpoint in endpoints {
        let rpc = method_of(endpoint.rpc)?;
        let path = format!("{prefix}{}", endpoint.path);
        let template =
            PathTemplate::parse(&path).with_context(|| format!("{} {path}", endpoint.method))?;
        let http_method = endpoint.method.clone();
        let profile = Arc::new(CompatEndpoint {
            endpoint,
            path,
            rpc: rpc.clone(),
            session_rpc: session_rpc.clone(),
            list_sessions_rpc: list_sessions_rpc.clone(),
            flavor: flavor.clone(),
            state: state.clone(),
        });
        routes.add(Binding {
            http_method,
            template,
            body: BodyMapping::None,
            response_body: None,
            rpc,
            binding_index: 0,
            profile,
        });
    }
    Ok(())
}

/// The gateway's own limits on compatibility endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileLimits {
    /// Requests per credential and minute (every profile).
    pub requests_per_minute: u32,
    /// Requests one session may have in flight at once (WasenderAPI's global
    /// concurrent request limit); 0: no cap.
    pub concurrent_per_session: u32,
}

/// The request window every profile has: `requests_per_minute` per credential.
fn per_minute_window(limits: &ProfileLimits) -> SharedState {
    SharedState::new(Limiter::new(
        limits.requests_per_minute,
        std::time::Duration::from_secs(60),
    ))
}

/// [`install`] for a profile whose only state is its request window.
fn install_windowed(
    pool: &DescriptorPool,
    routes: &mut RouteTable,
    prefix: &str,
    limits: &ProfileLimits,
    endpoints: Vec<Endpoint>,
    flavor: Arc<dyn Flavor>,
) -> anyhow::Result<()> {
    install(
        pool,
        routes,
        prefix,
        endpoints,
        flavor,
        Arc::new(per_minute_window(limits)),
    )
}

/// A profile the gateway can serve: its configuration name, the prefix its
/// paths get unless configured otherwise, and how it is installed.
struct Known {
    name: &'static str,
    default_prefix: &'static str,
    install: fn(&DescriptorPool, &mut RouteTable, &str, &ProfileLimits) -> anyhow::Result<()>,
}

const KNOWN: [Known; 5] = [
    Known {
        name: wasender::NAME,
        default_prefix: wasender::DEFAULT_PREFIX,
        install: wasender::install,
    },
    Known {
        name: chatsuite::NAME,
        default_prefix: chatsuite::DEFAULT_PREFIX,
        install: |pool, routes, prefix, limits| {
            install_windowed(
                pool,
                routes,
                prefix,
                limits,
                chatsuite::endpoints(),
                Arc::new(chatsuite::ChatSuite),
            )
        },
    },
    Known {
        name: prosendi::NAME,
        default_prefix: prosendi::DEFAULT_PREFIX,
        install: |pool, routes, prefix, limits| {
            install_windowed(
                pool,
                routes,
                prefix,
                limits,
                prosendi::endpoints(),
                Arc::new(prosendi::Prosendi),
            )
        },
    },
    Known {
        name: onsend::NAME,
        default_prefix: onsend::DEFAULT_PREFIX,
        install: |pool, routes, prefix, limits| {
            install_windowed(
                pool,
                routes,
                prefix,
                limits,
                onsend::endpoints(),
                Arc::new(onsend::OnSend),
            )
        },
    },
    Known {
        name: saas::NAME,
        default_prefix: saas::DEFAULT_PREFIX,
        install: |pool, routes, prefix, limits| {
            install_windowed(
                pool,
                routes,
                prefix,
                limits,
                saas::endpoints(),
                Arc::new(saas::Saas),
            )
        },
    },
];

/// Profiles the gateway can serve, by configuration name.
pub const KNOWN_PROFILES: [&str; KNOWN.len()] = {
    let mut names = [""; KNOWN.len()];
    let mut i = 0;
    while i < KNOWN.len() {
        names[i] = KNOWN[i].name;
        i += 1;
    }
    names
};

/// Adds the bindings of the profiles named in `names`, each `name` (its
/// default prefix) or `name=/prefix` (`name=` for none); unknown names and
/// malformed prefixes are errors.
pub fn install_named(
    pool: &DescriptorPool,
    routes: &mut RouteTable,
    names: &[String],
    limits: &ProfileLimits,
) -> anyhow::Result<()> {
    for entry in names {
        let (name, prefix) = match entry.split_once('=') {
            Some((name, prefix)) => (name.trim(), Some(prefix.trim().trim_end_matches('/'))),
            None => (entry.trim(), None),
        };
        let known = KNOWN.iter().find(|k| k.name == name).ok_or_else(|| {
            anyhow!(
                "unknown compatibility profile {name:?} (known: {})",
                KNOWN_PROFILES.join(", ")
            )
        })?;
        let prefix = prefix.unwrap_or(known.default_prefix);
        anyhow::ensure!(
            prefix.is_empty() || (prefix.starts_with('/') && !prefix.contains(['{', '}', '*'])),
            "compatibility profile {name}: prefix {prefix:?} must start with / (or be empty)"
        );
        (known.install)(pool, routes, prefix, limits)?;
    }
    Ok(())
}

/// An endpoint's OpenAPI operation (served at `path`): path and query
/// parameters, the body's fields by the product's names, and its responses
/// (success and error bodies, see [`responses`]) for its RPC's `output`.
pub fn openapi_operation(
    endpoint: &Endpoint,
    path: &str,
    flavor: &dyn Flavor,
    output: &prost_reflect::MessageDescriptor,
) -> Value {
    let mut parameters = Vec::new();
    let mut body_fields = serde_json::Map::new();
    let mut required = Vec::new();
    for map in &endpoint.fields {
        match map.from {
            From::Path => parameters.push(json!({
                "name": map.seed, "in": "path", "required": true, "schema": {"type": "string"}
            })),
            From::Query => parameters.push(json!({
                "name": map.seed, "in": "query", "required": map.required, "schema": {}
            })),
            From::Body => {
                body_fields.insert(map.seed.to_owned(), json!({}));
                if map.required {
                    required.push(map.seed);
                }
            }
            From::Caller => {}
        }
    }
    if let Paging::Pages { page, size, .. } = endpoint.paging {
        for name in [page, size] {
            parameters.push(json!({"name": name, "in": "query", "required": false, "schema": {"type": "integer"}}));
        }
    }
    let credential = match endpoint.scope {
        Scope::Account => "the personal access token (wagate's admin token)".to_owned(),
        Scope::Session => "the session's API key".to_owned(),
        Scope::Device(field, None) => format!(
            "the admin token (the session is `{field}`, else the oldest connected one) or a session's API key"
        ),
        Scope::Device(field, Some(_)) => format!(
            "the admin token (the session is `{field}`, else the default device, else the oldest connected one) or a session's API key"
        ),
    };
    let operation_id = format!(
        "{}_{}{}",
        flavor.name(),
        endpoint.method.as_str().to_ascii_lowercase(),
        path.replace(['/', '-', '{', '}'], "_")
            .trim_end_matches('_')
    );
    let mut operation = json!({
        "tags": [flavor.tag()],
        "summary": endpoint.summary,
        "description": format!("{} Authenticate with {} and {credential}. Served by {}.", endpoint.summary, flavor.auth_header(), endpoint.rpc),
        "operationId": operation_id,
        "parameters": parameters,
        "responses": responses::responses(endpoint, flavor, output),
    });
    if !body_fields.is_empty() || endpoint.build.is_some() {
        operation["requestBody"] = json!({
            "content": {"application/json": {"schema": {
                "type": "object", "properties": body_fields, "required": required
            }}}
        });
    }
    operation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Canonical;
    use crate::routes::RouteMatch;

    fn installed(names: &[&str]) -> anyhow::Result<RouteTable> {
        let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut table = RouteTable::from_services(&pool, &[], Arc::new(Canonical::default()))?;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let limits = ProfileLimits {
            requests_per_minute: 60,
            concurrent_per_session: 5,
        };
        install_named(&pool, &mut table, &names, &limits)?;
        Ok(table)
    }

    fn serves(table: &RouteTable, method: Method, path: &str) -> bool {
        matches!(table.find(&method, path), RouteMatch::Found(..))
    }

    #[test]
    fn profiles_install_under_their_default_or_configured_prefix() {
        let table = installed(&KNOWN_PROFILES).unwrap();
        assert!(serves(&table, Method::POST, "/api/send-message"));
        assert!(serves(&table, Method::POST, "/chatsuite/api/send"));
        assert!(serves(&table, Method::POST, "/prosendi/api/whatsapp/send"));
        assert!(serves(&table, Method::POST, "/onsend/api/v1/send"));
        assert!(serves(&table, Method::POST, "/saas/api/v1/send-message"));

        let moved = installed(&["chatsuite=/cs/", "onsend="]).unwrap();
        assert!(serves(&moved, Method::POST, "/cs/api/send"));
        assert!(!serves(&moved, Method::POST, "/chatsuite/api/send"));
        assert!(serves(&moved, Method::POST, "/api/v1/send"));

        assert!(installed(&["nope"]).is_err());
        assert!(installed(&["chatsuite=cs"]).is_err());
        assert!(installed(&["chatsuite=/{x}"]).is_err());
    }
}
