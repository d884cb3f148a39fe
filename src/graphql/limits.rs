//! The cost boundary of a request, checked before anything runs.
//!
//! Three passes, each linear in the size of the request:
//! - [`check_document`]: the shape of the document — selections counted with fragments expanded
//!   (memoised per fragment, so `...f ...f` chains cost nothing to count), root fields, aliases;
//! - [`check_inputs`]: every argument value and variable against its schema type — list lengths,
//!   filter branches and nodes, string lengths, control characters, `Int` range, and the custom
//!   scalars parsed up front so a bad value gets `BAD_USER_INPUT` with its field path;
//! - after async-graphql's validation: the depth and the complexity (heavy fields carry
//!   [`HEAVY_FIELD_COST`]), refused with the measured value and the limit.
//!
//! [`RequestLimits`] runs them as an async-graphql extension, for HTTP and WebSocket alike, and
//! gives every error that async-graphql raises without a code one (see [`assign_codes`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{
    ErrorExtensionValues, InputType, Name, Pos, Positioned, Response, ServerError, ServerResult, ValidationResult,
    Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe, NextValidation,
    },
    futures_util::{StreamExt, stream::BoxStream},
    parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
    registry::{MetaType, MetaTypeName, Registry},
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

/// Deepest query accepted. GraphiQL's own introspection query needs about 13.
pub const MAX_DEPTH: usize = 16;
/// Highest complexity accepted: a field costs 1, a list multiplies its selection by the page size,
/// a heavy field costs [`HEAVY_FIELD_COST`].
pub const MAX_COMPLEXITY: usize = 5_000;
/// The cost of a field that reads a whole workspace (metrics, reports, exports, refits): ten of
/// them fit in one request, a thousand aliases of one do not.
pub const HEAVY_FIELD_COST: usize = 500;
/// Field selections in one document, fragments expanded.
pub const MAX_SELECTIONS: u64 = 2_000;
/// Fields at the root of the operation, aliases included.
pub const MAX_ROOT_FIELDS: u64 = 32;
/// Aliased fields in one document, fragments expanded.
pub const MAX_ALIASES: u64 = 200;
/// Items in any list argument (an `in` list, a batch).
pub const MAX_LIST_ITEMS: usize = 1_000;
/// Branches of one `and` / `or` in a filter.
pub const MAX_FILTER_BRANCHES: usize = 100;
/// Nodes (input objects, values) of all filters of a request together.
pub const MAX_FILTER_NODES: usize = 1_000;
/// Characters of one string inside a filter.
pub const MAX_FILTER_STRING_CHARS: usize = 500;
/// Nodes of all argument values and variables of a request together.
pub const MAX_INPUT_NODES: usize = 20_000;
/// Characters of any one string argument; fields have their own, smaller limits below this.
pub const MAX_STRING_CHARS: usize = 100_000;

/// A limit that a request broke; becomes a GraphQL error with the code and both numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitError {
    pub code: &'static str,
    pub message: String,
    /// Dotted path of the offending input (`filter.or`), for input limits.
    pub field: Option<String>,
    pub limit: Option<u64>,
    pub actual: Option<u64>,
}

impl LimitError {
    fn input(field: &str, message: String) -> Self {
        LimitError { code: "BAD_USER_INPUT", message, field: Some(field.to_owned()), limit: None, actual: None }
    }

    fn too_many(code: &'static str, field: Option<&str>, what: &str, limit: u64, actual: u64) -> Self {
        let at = field.map(|f| format!(" in `{f}`")).unwrap_or_default();
        LimitError {
            code,
            message: format!("too many {what}{at}: {actual} (the limit is {limit})"),
            field: field.map(str::to_owned),
            limit: Some(limit),
            actual: Some(actual),
        }
    }

    pub fn into_server_error(self, pos: Option<Pos>) -> ServerError {
        let mut error = ServerError::new(self.message, pos);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.code);
        if let Some(field) = self.field {
            extensions.set("field", field);
        }
        if let Some(limit) = self.limit {
            extensions.set("limit", limit);
        }
        if let Some(actual) = self.actual {
            extensions.set("actual", actual);
        }
        error.extensions = Some(extensions);
        error
    }
}

// ---- the document's shape ----

#[derive(Default, Clone, Copy)]
struct Shape {
    selections: u64,
    aliases: u64,
    /// Fields this selection set puts at its own level (fragments included).
    fields_here: u64,
}

impl Shape {
    fn add(self, other: Shape) -> Shape {
        Shape {
            selections: self.selections.saturating_add(other.selections),
            aliases: self.aliases.saturating_add(other.aliases),
            fields_here: self.fields_here.saturating_add(other.fields_here),
        }
    }
}

/// Counts selections and aliases with fragments expanded, each fragment counted once and
/// reused: the count is linear in the document while the expansion may be exponential.
struct ShapeCounter<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    memo: HashMap<&'a str, Shape>,
}

impl<'a> ShapeCounter<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Shape {
        let mut shape = Shape::default();
        for item in &set.items {
            shape = shape.add(self.selection(&item.node));
        }
        shape
    }

    fn selection(&mut self, selection: &'a Selection) -> Shape {
        match selection {
            Selection::Field(field) => {
                let children = self.set(&field.node.selection_set.node);
                Shape {
                    selections: children.selections.saturating_add(1),
                    aliases: children.aliases.saturating_add(u64::from(field.node.alias.is_some())),
                    fields_here: 1,
                }
            }
            Selection::InlineFragment(fragment) => self.set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str()),
        }
    }

    fn fragment(&mut self, name: &'a str) -> Shape {
        if let Some(shape) = self.memo.get(name) {
            return *shape;
        }
        // A cycle counts as empty here; validation refuses cycles anyway.
        self.memo.insert(name, Shape::default());
        let shape = match self.fragments.get(name) {
            Some(fragment) => self.set(&fragment.node.selection_set.node),
            None => Shape::default(),
        };
        self.memo.insert(name, shape);
        shape
    }
}

/// Refuses documents whose operations select too much, fragments expanded.
pub fn check_document(document: &ExecutableDocument) -> Result<(), LimitError> {
    let mut counter = ShapeCounter { fragments: &document.fragments, memo: HashMap::new() };
    for (_, operation) in document.operations.iter() {
        let shape = counter.set(&operation.node.selection_set.node);
        if shape.selections > MAX_SELECTIONS {
            return Err(LimitError::too_many(
                "QUERY_TOO_LARGE",
                None,
                "field selections (fragments expanded)",
                MAX_SELECTIONS,
                shape.selections,
            ));
        }
        if shape.fields_here > MAX_ROOT_FIELDS {
            return Err(LimitError::too_many(
                "QUERY_TOO_LARGE",
                None,
                "root fields",
                MAX_ROOT_FIELDS,
                shape.fields_here,
            ));
        }
        if shape.aliases > MAX_ALIASES {
            return Err(LimitError::too_many("QUERY_TOO_LARGE", None, "aliases", MAX_ALIASES, shape.aliases));
        }
    }
    Ok(())
}

// ---- argument values ----

/// What the input walk has used so far of the request's budgets.
#[derive(Default)]
struct Budget {
    nodes: usize,
    filter_nodes: usize,
}

/// Checks every argument of every field against its schema type (variables substituted).
/// Returns the first broken limit with the argument's position.
pub fn check_inputs(
    document: &ExecutableDocument,
    variables: &Variables,
    registry: &Registry,
) -> Result<(), (LimitError, Pos)> {
    let mut walk = InputWalk { document, variables, registry, budget: Budget::default(), seen: Vec::new() };
    for (_, operation) in document.operations.iter() {
        let root = match operation.node.ty {
            async_graphql::parser::types::OperationType::Query => Some(registry.query_type.as_str()),
            async_graphql::parser::types::OperationType::Mutation => registry.mutation_type.as_deref(),
            async_graphql::parser::types::OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        if let Some(root) = root {
            walk.set(root, &operation.node.selection_set.node)?;
        }
    }
    Ok(())
}

struct InputWalk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    registry: &'a Registry,
    budget: Budget,
    /// Fragments being walked (a fragment's arguments are checked once per parent type).
    seen: Vec<(&'a str, &'a str)>,
}

impl<'a> InputWalk<'a> {
    fn set(&mut self, parent: &'a str, set: &'a SelectionSet) -> Result<(), (LimitError, Pos)> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let Some(meta) =
                        self.registry.types.get(parent).and_then(|t| t.field_by_name(field.name.node.as_str()))
                    else {
                        continue; // unknown fields are validation's to report
                    };
                    for (name, value) in &field.arguments {
                        let Some(arg) = meta.args.get(name.node.as_str()) else { continue };
                        let pos = value.pos;
                        let Ok(value) =
                            value.node.clone().into_const_with(|var| self.variables.get(&var).cloned().ok_or(()))
                        else {
                            continue; // undefined variables are validation's to report
                        };
                        let mut path = name.node.to_string();
                        self.value(&arg.ty, &value, &mut path, false).map_err(|e| (e, pos))?;
                    }
                    let child = MetaTypeName::concrete_typename(&meta.ty);
                    self.set(child, &field.selection_set.node)?;
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment.node.type_condition.as_ref().map_or(parent, |c| c.node.on.node.as_str());
                    self.set(on, &fragment.node.selection_set.node)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let Some(fragment) = self.document.fragments.get(name) else { continue };
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    if self.seen.contains(&(name, on)) {
                        continue;
                    }
                    self.seen.push((name, on));
                    self.set(on, &fragment.node.selection_set.node)?;
                }
            }
        }
        Ok(())
    }

    /// Walks `value` as a value of the GraphQL type `ty`; `in_filter` once inside a `…Filter`.
    fn value(&mut self, ty: &str, value: &Value, path: &mut String, in_filter: bool) -> Result<(), LimitError> {
        self.budget.nodes += 1;
        if self.budget.nodes > MAX_INPUT_NODES {
            return Err(LimitError::too_many(
                "BAD_USER_INPUT",
                Some(path),
                "input values",
                MAX_INPUT_NODES as u64,
                self.budget.nodes as u64,
            ));
        }
        if in_filter {
            self.budget.filter_nodes += 1;
            if self.budget.filter_nodes > MAX_FILTER_NODES {
                return Err(LimitError::too_many(
                    "BAD_USER_INPUT",
                    Some(path),
                    "filter nodes",
                    MAX_FILTER_NODES as u64,
                    self.budget.filter_nodes as u64,
                ));
            }
        }
        if matches!(value, Value::Null) {
            return Ok(());
        }
        match MetaTypeName::create(ty) {
            MetaTypeName::NonNull(inner) => self.value(inner, value, path, in_filter),
            MetaTypeName::List(inner) => match value {
                Value::List(items) => {
                    let limit = if in_filter && is_branch_list(path) { MAX_FILTER_BRANCHES } else { MAX_LIST_ITEMS };
                    if items.len() > limit {
                        let what = if limit == MAX_FILTER_BRANCHES { "filter branches" } else { "list items" };
                        return Err(LimitError::too_many(
                            "BAD_USER_INPUT",
                            Some(path),
                            what,
                            limit as u64,
                            items.len() as u64,
                        ));
                    }
                    let len = path.len();
                    for (i, item) in items.iter().enumerate() {
                        path.push_str(&format!(".{i}"));
                        self.value(inner, item, path, in_filter)?;
                        path.truncate(len);
                    }
                    Ok(())
                }
                // A single value where a list is expected is a list of one.
                single => self.value(inner, single, path, in_filter),
            },
            MetaTypeName::Named(name) => match self.registry.types.get(name) {
                Some(MetaType::InputObject { input_fields, .. }) => {
                    let Value::Object(fields) = value else { return Ok(()) };
                    let in_filter = in_filter || name.ends_with("Filter");
                    let len = path.len();
                    for (key, item) in fields {
                        let Some(field) = input_fields.get(key.as_str()) else { continue };
                        path.push('.');
                        path.push_str(key);
                        self.value(&field.ty, item, path, in_filter)?;
                        path.truncate(len);
                    }
                    Ok(())
                }
                Some(MetaType::Scalar { .. }) => scalar(name, value, path, in_filter, &mut self.budget),
                _ => Ok(()),
            },
        }
    }
}

/// `and` / `or` of a filter: a list of sub-filters.
fn is_branch_list(path: &str) -> bool {
    path.ends_with(".and") || path.ends_with(".or") || path == "and" || path == "or"
}

/// Checks one scalar value; the custom scalars are parsed here exactly as the resolver will.
fn scalar(name: &str, value: &Value, path: &str, in_filter: bool, budget: &mut Budget) -> Result<(), LimitError> {
    match (name, value) {
        ("String" | "ID", Value::String(text)) => text_ok(text, path, in_filter),
        ("Int", Value::Number(n)) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => Ok(()),
            _ => Err(LimitError::input(
                path,
                format!("`{path}` must be a whole number from {} to {}", i32::MIN, i32::MAX),
            )),
        },
        ("Decimal", _) => parsed::<Decimal>(value, path, "a decimal number such as \"19.99\""),
        ("DateTime", _) => {
            parsed::<DateTime<Utc>>(value, path, "an RFC 3339 date and time such as \"2026-01-31T09:00:00Z\"")
        }
        ("NaiveDate", _) => parsed::<NaiveDate>(value, path, "a calendar date such as \"2026-01-31\""),
        ("JSON", _) => json_ok(value, path, budget),
        _ => Ok(()),
    }
}

fn parsed<T: InputType>(value: &Value, path: &str, expected: &str) -> Result<(), LimitError> {
    if let Value::String(text) = value {
        text_ok(text, path, false)?;
    }
    match T::parse(Some(value.clone())) {
        Ok(_) => Ok(()),
        Err(_) => Err(LimitError::input(path, format!("`{path}` must be {expected}"))),
    }
}

/// Text is bounded and free of control characters (tab, line feed and carriage return allowed):
/// a NUL is not storable in PostgreSQL text and no field needs the others.
fn text_ok(text: &str, path: &str, in_filter: bool) -> Result<(), LimitError> {
    let limit = if in_filter { MAX_FILTER_STRING_CHARS } else { MAX_STRING_CHARS };
    // Bytes bound characters from above: count only when it may matter.
    if text.len() > limit {
        let chars = text.chars().count();
        if chars > limit {
            return Err(LimitError::too_many("BAD_USER_INPUT", Some(path), "characters", limit as u64, chars as u64));
        }
    }
    if let Some(c) = text.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(LimitError::input(
            path,
            format!("`{path}` contains the control character U+{:04X}, which is not allowed in text", u32::from(c)),
        ));
    }
    Ok(())
}

/// Free-form JSON: bounded in size like any input; strings free of NUL (PostgreSQL `jsonb`
/// cannot store `\u0000`).
fn json_ok(value: &Value, path: &str, budget: &mut Budget) -> Result<(), LimitError> {
    budget.nodes += 1;
    if budget.nodes > MAX_INPUT_NODES {
        return Err(LimitError::too_many(
            "BAD_USER_INPUT",
            Some(path),
            "input values",
            MAX_INPUT_NODES as u64,
            budget.nodes as u64,
        ));
    }
    match value {
        Value::String(text) => text_ok(text, path, false),
        Value::List(items) if items.len() > MAX_LIST_ITEMS => Err(LimitError::too_many(
            "BAD_USER_INPUT",
            Some(path),
            "list items",
            MAX_LIST_ITEMS as u64,
            items.len() as u64,
        )),
        Value::List(items) => items.iter().try_for_each(|v| json_ok(v, path, budget)),
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            text_ok(k, path, false)?;
            json_ok(v, path, budget)
        }),
        _ => Ok(()),
    }
}

/// Depth and complexity, as async-graphql's validation measured them.
pub fn check_cost(result: &ValidationResult) -> Result<(), LimitError> {
    if result.depth > MAX_DEPTH {
        return Err(LimitError {
            code: "QUERY_TOO_DEEP",
            message: format!("the query is {} levels deep (the limit is {MAX_DEPTH})", result.depth),
            field: None,
            limit: Some(MAX_DEPTH as u64),
            actual: Some(result.depth as u64),
        });
    }
    if result.complexity > MAX_COMPLEXITY {
        return Err(LimitError {
            code: "QUERY_TOO_COMPLEX",
            message: format!("the query costs {} (the limit is {MAX_COMPLEXITY})", result.complexity),
            field: None,
            limit: Some(MAX_COMPLEXITY as u64),
            actual: Some(result.complexity as u64),
        });
    }
    Ok(())
}

// ---- codes for async-graphql's own errors ----

/// Gives every error without `extensions.code` one. Parse and validation errors come from
/// async-graphql without a code; so do value errors it raises while coercing an argument
/// (an unsigned `Int` given -1): those are `BAD_USER_INPUT`, with the argument as `field`.
pub fn assign_codes(response: &mut Response, phase: Phase, arguments: &[(Pos, String)]) {
    let request_error = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    for error in &mut response.errors {
        if error.extensions.as_ref().is_some_and(|e| e.get("code").is_some()) {
            continue;
        }
        let value_error = ["Failed to parse", "Invalid value for argument", "Expected input type"]
            .iter()
            .any(|p| error.message.starts_with(p));
        let field = if value_error {
            quoted_argument(&error.message).or_else(|| {
                error.locations.iter().find_map(|l| arguments.iter().find(|(p, _)| p == l).map(|(_, n)| n.clone()))
            })
        } else {
            None
        };
        let code = match (value_error, request_error, phase) {
            (true, _, _) => "BAD_USER_INPUT",
            (false, true, Phase::Parse) => "GRAPHQL_PARSE_FAILED",
            (false, true, _) => "GRAPHQL_VALIDATION_FAILED",
            (false, false, _) => "INTERNAL",
        };
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("code", code);
        if let Some(field) = field {
            extensions.set("field", field);
        }
    }
}

/// `input.amount` from `Invalid value for argument "input.amount", expected type "Decimal"`.
fn quoted_argument(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    rest.split('"').next().map(str::to_owned)
}

/// How far a request got: errors of a request that never parsed are parse errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Parse,
    Parsed,
}

/// Argument value positions → argument names, to name the argument of a coercion error.
fn argument_positions(document: &ExecutableDocument) -> Vec<(Pos, String)> {
    fn walk(set: &SelectionSet, out: &mut Vec<(Pos, String)>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    for (name, value) in &field.node.arguments {
                        out.push((value.pos, name.node.to_string()));
                    }
                    walk(&field.node.selection_set.node, out);
                }
                Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set.node, out),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for (_, operation) in document.operations.iter() {
        walk(&operation.node.selection_set.node, &mut out);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set.node, &mut out);
    }
    out
}

// ---- the extension ----

/// Installs the limits on a schema (`Schema::build(..).extension(RequestLimits)`).
pub struct RequestLimits;

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension::default())
    }
}

/// What `parse_query` learnt, for naming the arguments of later errors (shared with the
/// stream of a subscription).
type ParseState = Arc<Mutex<(Phase, Vec<(Pos, String)>)>>;

#[derive(Default)]
struct LimitsExtension {
    state: ParseState,
}

fn finish(state: &ParseState, response: &mut Response) {
    let (phase, arguments) = match state.lock() {
        Ok(state) => (state.0, state.1.clone()),
        Err(_) => (Phase::Parsed, Vec::new()),
    };
    assign_codes(response, phase, &arguments);
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        finish(&self.state, &mut response);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let state = self.state.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                finish(&state, &mut response);
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut state) = self.state.lock() {
            *state = (Phase::Parsed, argument_positions(&document));
        }
        check_document(&document).map_err(|e| e.into_server_error(None))?;
        check_inputs(&document, variables, &ctx.schema_env.registry)
            .map_err(|(e, pos)| e.into_server_error(Some(pos)))?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        check_cost(&result).map_err(|e| vec![e.into_server_error(None)])?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn document(query: &str) -> ExecutableDocument {
        parse_query(query).expect("parses")
    }

    #[test]
    fn exponential_fragments_are_counted_linearly() {
        let mut query = String::from("query { ...f23 }\nfragment f0 on Query { me { id } }\n");
        for i in 1..24 {
            query.push_str(&format!("fragment f{i} on Query {{ ...f{p} ...f{p} }}\n", p = i - 1));
        }
        let err = check_document(&document(&query)).unwrap_err();
        assert_eq!(err.code, "QUERY_TOO_LARGE");
        assert_eq!(err.limit, Some(MAX_SELECTIONS));
        // 2^23 copies of `me { id }`: two selections each.
        assert_eq!(err.actual, Some(2 * (1 << 23)));
    }

    #[test]
    fn root_fields_and_aliases_are_capped() {
        let aliases: String = (0..40).map(|i| format!("a{i}: me {{ id }} ")).collect();
        let err = check_document(&document(&format!("{{ {aliases} }}"))).unwrap_err();
        assert_eq!((err.code, err.limit, err.actual), ("QUERY_TOO_LARGE", Some(MAX_ROOT_FIELDS), Some(40)));
        let nested: String = (0..210).map(|i| format!("a{i}: id ")).collect();
        let err = check_document(&document(&format!("{{ me {{ {nested} }} }}"))).unwrap_err();
        assert_eq!((err.limit, err.actual), (Some(MAX_ALIASES), Some(210)));
        assert!(check_document(&document("{ me { id } a: me { id } }")).is_ok());
    }

    #[test]
    fn text_refuses_control_characters_and_length() {
        assert!(text_ok("Müller\tline\nnext\r", "f", false).is_ok());
        let err = text_ok("a\u{0}b", "input.name", false).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("input.name"));
        assert!(err.message.contains("U+0000"));
        assert!(text_ok(&"x".repeat(MAX_FILTER_STRING_CHARS), "f", true).is_ok());
        let err = text_ok(&"ä".repeat(MAX_FILTER_STRING_CHARS + 1), "f", true).unwrap_err();
        assert_eq!(err.actual, Some(MAX_FILTER_STRING_CHARS as u64 + 1));
    }

    #[test]
    fn coercion_errors_get_a_code_and_the_argument() {
        let mut response = Response::from_errors(vec![ServerError::new(
            "Invalid value for argument \"input.amount\", expected type \"Decimal\"",
            Some(Pos { line: 1, column: 5 }),
        )]);
        assign_codes(&mut response, Phase::Parsed, &[]);
        let ext = response.errors[0].extensions.as_ref().unwrap();
        assert_eq!(ext.get("code"), Some(&Value::from("BAD_USER_INPUT")));
        assert_eq!(ext.get("field"), Some(&Value::from("input.amount")));

        let at = Pos { line: 2, column: 9 };
        let mut error =
            ServerError::new("Failed to parse \"Int\": Only integers from 0 to 4294967295 are accepted.", Some(at));
        error.path = vec![async_graphql::PathSegment::Field("expiringPoints".into())];
        let mut response = Response::from_errors(vec![error]);
        assign_codes(&mut response, Phase::Parsed, &[(at, "days".to_owned())]);
        let ext = response.errors[0].extensions.as_ref().unwrap();
        assert_eq!(ext.get("field"), Some(&Value::from("days")));

        let mut response = Response::from_errors(vec![ServerError::new("Unknown field \"nope\"", None)]);
        assign_codes(&mut response, Phase::Parsed, &[]);
        let ext = response.errors[0].extensions.as_ref().unwrap();
        assert_eq!(ext.get("code"), Some(&Value::from("GRAPHQL_VALIDATION_FAILED")));
    }
}
