//! The route table: one [`Binding`] per `google.api.http` rule (primary and
//! `additional_bindings`) of every RPC, read at start-up from the descriptor
//! set. A compatibility profile adds its own bindings (other paths and JSON
//! shapes onto the same RPCs) with [`RouteTable::add`].

pub mod template;

use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    ReflectMessage as _, Value,
};

use crate::profile::{Canonical, Profile};
pub use template::{Captures, PathTemplate};

/// Where the HTTP request body goes in the request message.
#[derive(Clone, Debug)]
pub enum BodyMapping {
    /// No body: every field not bound by the path comes from the query.
    None,
    /// `body: "*"`: the body is the whole request message (path fields override it).
    Whole,
    /// `body: "field"`: the body is that top-level field.
    Field(FieldDescriptor),
}

/// One HTTP method + path template bound to an RPC.
pub struct Binding {
    pub http_method: Method,
    pub template: PathTemplate,
    pub body: BodyMapping,
    /// `response_body`: render only this field of the response.
    pub response_body: Option<FieldDescriptor>,
    pub rpc: MethodDescriptor,
    /// 0 for the primary rule, n for the n-th of `additional_bindings`.
    pub binding_index: usize,
    /// How requests and responses are shaped (canonical proto3 JSON by default).
    pub profile: Arc<dyn Profile>,
}

impl Binding {
    /// `/wagate.v1.SessionService/GetSession`.
    pub fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.rpc.parent_service().full_name(),
            self.rpc.name()
        )
    }

    pub fn is_server_streaming(&self) -> bool {
        self.rpc.is_server_streaming()
    }

    /// Top-level request fields bound by the path.
    pub fn path_fields(&self) -> impl Iterator<Item = &[String]> {
        self.template
            .variables
            .iter()
            .map(|variable| variable.field_path.as_slice())
    }
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} -> {}",
            self.http_method,
            self.template.source,
            self.rpc.full_name()
        )
    }
}

/// The outcome of looking a request up in the table.
pub enum RouteMatch {
    Found(Arc<Binding>, Captures),
    /// The path exists for other methods (HTTP 405 with `Allow`).
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

#[derive(Default)]
pub struct RouteTable {
    bindings: Vec<Arc<Binding>>,
}

impl RouteTable {
    /// Every `google.api.http` binding of the named services, shaped by the
    /// canonical profile. Client-streaming RPCs have no REST form and are skipped.
    pub fn from_services(
        pool: &DescriptorPool,
        services: &[String],
        canonical: Arc<Canonical>,
    ) -> anyhow::Result<Self> {
        let http_rule = pool
            .get_extension_by_name("google.api.http")
            .context("the descriptor set lacks google/api/annotations.proto")?;
        let mut table = RouteTable::default();
        for name in services {
            let service = pool
                .get_service_by_name(name)
                .with_context(|| format!("service {name} is not in the descriptor set"))?;
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http_rule) {
                    continue;
                }
                if method.is_client_streaming() {
                    tracing::warn!(
                        rpc = method.full_name(),
                        "client-streaming RPC has no REST binding"
                    );
                    continue;
                }
                let rule = options.get_extension(&http_rule);
                let Value::Message(rule) = rule.as_ref() else {
                    bail!("{}: google.api.http is not a message", method.full_name());
                };
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) =
                    rule.get_field_by_name("additional_bindings").as_deref()
                {
                    rules.extend(more.iter().filter_map(|v| v.as_message().cloned()));
                }
                for (index, rule) in rules.iter().enumerate() {
                    let binding = binding_from_rule(&method, rule, index, canonical.clone())
                        .with_context(|| format!("binding {index} of {}", method.full_name()))?;
                    table.add(binding);
                }
            }
        }
        Ok(table)
    }

    /// Adds a binding; more specific templates are tried first.
    pub fn add(&mut self, binding: Binding) {
        self.bindings.push(Arc::new(binding));
        self.bindings
            .sort_by_key(|binding| std::cmp::Reverse(binding.template.specificity()));
    }

    pub fn bindings(&self) -> &[Arc<Binding>] {
        &self.bindings
    }

    /// The profile that serves its own requests under the first path segment
    /// of `path` (e.g. `/api`), so misses there answer in that product's shape.
    pub fn self_serving_profile_for(&self, path: &str) -> Option<Arc<dyn Profile>> {
        let first = path.trim_start_matches('/').split('/').next()?;
        self.bindings
            .iter()
            .find(|binding| {
                binding.profile.serves_itself()
                    && matches!(binding.template.segments.first(),
                        Some(template::Segment::Literal(literal)) if literal == first)
            })
            .map(|binding| binding.profile.clone())
    }

    pub fn find(&self, method: &Method, path: &str) -> RouteMatch {
        for binding in self.bindings.iter().filter(|b| b.http_method == *method) {
            if let Some(captures) = binding.template.matches(path) {
                return RouteMatch::Found(binding.clone(), captures);
            }
        }
        // Only on a miss: which other methods would have matched (for 405).
        let mut allowed: Vec<Method> = Vec::new();
        for binding in &self.bindings {
            if !allowed.contains(&binding.http_method) && binding.template.matches(path).is_some() {
                allowed.push(binding.http_method.clone());
            }
        }
        if allowed.is_empty() {
            RouteMatch::NotFound
        } else {
            RouteMatch::MethodNotAllowed(allowed)
        }
    }
}

fn binding_from_rule(
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    index: usize,
    profile: Arc<dyn Profile>,
) -> anyhow::Result<Binding> {
    let string = |name: &str| -> String {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut pattern = None;
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule
            .descriptor()
            .get_field_by_name(verb)
            .is_some_and(|f| rule.has_field(&f))
        {
            pattern = Some((
                Method::from_bytes(verb.to_uppercase().as_bytes())?,
                string(verb),
            ));
        }
    }
    if pattern.is_none()
        && let Some(Value::Message(custom)) = rule.get_field_by_name("custom").as_deref()
    {
        let kind = custom
            .get_field_by_name("kind")
            .and_then(|v| v.as_str().map(str::to_owned));
        let path = custom
            .get_field_by_name("path")
            .and_then(|v| v.as_str().map(str::to_owned));
        if let (Some(kind), Some(path)) = (kind, path) {
            pattern = Some((Method::from_bytes(kind.as_bytes())?, path));
        }
    }
    let (http_method, path) = pattern.ok_or_else(|| anyhow!("no HTTP method in the rule"))?;
    let template = PathTemplate::parse(&path)?;
    let input = method.input();
    for variable in &template.variables {
        let leaf = resolve_field_path(&input, &variable.field_path)?;
        if leaf.is_list() || leaf.is_map() || matches!(leaf.kind(), Kind::Message(_)) {
            bail!(
                "path variable {} must be a singular scalar field",
                variable.field_path.join(".")
            );
        }
    }
    let body = match string("body").as_str() {
        "" => BodyMapping::None,
        "*" => BodyMapping::Whole,
        field => BodyMapping::Field(
            input
                .get_field_by_name(field)
                .ok_or_else(|| anyhow!("body field {field} is not in {}", input.full_name()))?,
        ),
    };
    let response_body = match string("response_body").as_str() {
        "" => None,
        field => Some(method.output().get_field_by_name(field).ok_or_else(|| {
            anyhow!(
                "response_body field {field} is not in {}",
                method.output().full_name()
            )
        })?),
    };
    Ok(Binding {
        http_method,
        template,
        body,
        response_body,
        rpc: method.clone(),
        binding_index: index,
        profile,
    })
}

/// Resolves `a.b.c` (proto names) through singular message fields.
pub fn resolve_field_path(
    message: &MessageDescriptor,
    path: &[String],
) -> anyhow::Result<FieldDescriptor> {
    let mut current = message.clone();
    let mut field = None;
    for (i, name) in path.iter().enumerate() {
        let found = current
            .get_field_by_name(name)
            .ok_or_else(|| anyhow!("field {} is not in {}", path.join("."), message.full_name()))?;
        if i + 1 < path.len() {
            match found.kind() {
                Kind::Message(inner) if !found.is_list() && !found.is_map() => current = inner,
                _ => bail!("{} does not name a nested field", path.join(".")),
            }
        }
        field = Some(found);
    }
    field.ok_or_else(|| anyhow!("empty field path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut services: Vec<String> = wagate_proto::PUBLIC_SERVICES
            .iter()
            .map(|s| s.to_string())
            .collect();
        services.push(wagate_proto::SIMULATOR_SERVICE.to_owned());
        RouteTable::from_services(&pool, &services, Arc::new(Canonical::default())).unwrap()
    }

    fn found(table: &RouteTable, method: Method, path: &str) -> (String, Vec<(String, String)>) {
        match table.find(&method, path) {
            RouteMatch::Found(binding, captures) => (
                binding.rpc.name().to_owned(),
                captures
                    .into_iter()
                    .map(|(f, v)| (f.join("."), v))
                    .collect(),
            ),
            RouteMatch::MethodNotAllowed(allowed) => panic!("{method} {path}: 405 {allowed:?}"),
            RouteMatch::NotFound => panic!("{method} {path}: 404"),
        }
    }

    #[test]
    fn every_annotated_rpc_has_a_binding() {
        let table = table();
        let pool = DescriptorPool::decode(wagate_proto::FILE_DESCRIPTOR_SET).unwrap();
        let rpc_count: usize = wagate_proto::PUBLIC_SERVICES
            .iter()
            .chain([&wagate_proto::SIMULATOR_SERVICE])
            .map(|s| pool.get_service_by_name(s).unwrap().methods().len())
            .sum();
        // Two RPCs have one additional binding each.
        assert_eq!(table.bindings().len(), rpc_count + 2);
    }

    #[test]
    fn routes_templates_verbs_nested_fields_and_additional_bindings() {
        let table = table();
        assert_eq!(found(&table, Method::GET, "/v1/sessions/7").0, "GetSession");
        assert_eq!(
            found(&table, Method::POST, "/v1/sessions/7:connect").0,
            "ConnectSession"
        );
        assert_eq!(
            found(&table, Method::POST, "/v1/sessions").0,
            "CreateSession"
        );
        let (rpc, captures) = found(&table, Method::PATCH, "/v1/sessions/7/messages/ab");
        assert_eq!(rpc, "EditMessage");
        assert_eq!(
            captures,
            vec![("message.name".into(), "sessions/7/messages/ab".into())]
        );
        assert_eq!(
            found(
                &table,
                Method::GET,
                "/v1/sessions/7/contacts:getLidForPhone"
            )
            .0,
            "GetLidForPhone"
        );
        assert_eq!(
            found(&table, Method::GET, "/v1/events:subscribe").0,
            "SubscribeEvents"
        );
        assert_eq!(
            found(&table, Method::GET, "/v1/sessions/3/events:subscribe").0,
            "SubscribeEvents"
        );
        assert_eq!(
            found(&table, Method::GET, "/v1/sessions/3/groups/g1/inviteLink").0,
            "GetInviteLink"
        );
        assert_eq!(
            found(&table, Method::POST, "/v1/sessions/3/groups/g1/inviteLink").0,
            "GetInviteLink"
        );
    }

    #[test]
    fn misses_are_404_or_405() {
        let table = table();
        assert!(matches!(
            table.find(&Method::GET, "/v2/nothing"),
            RouteMatch::NotFound
        ));
        match table.find(&Method::PUT, "/v1/sessions/7") {
            RouteMatch::MethodNotAllowed(allowed) => {
                assert!(allowed.contains(&Method::GET));
                assert!(allowed.contains(&Method::PATCH));
                assert!(allowed.contains(&Method::DELETE));
            }
            _ => panic!("expected 405"),
        }
    }
}
