//! Response objects in the order of the selection set, as the GraphQL spec asks (§7.1):
//! async-graphql resolves an object's fields concurrently and keeps them in the order they
//! finish, so `{ me { role id email } }` could come back `email, id, role`. This extension puts
//! every object back into the order of the query, for HTTP and WebSocket alike.

use std::sync::{Arc, Mutex};

use async_graphql::{
    Name, Positioned, Request, Response, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextSubscribe,
    },
    futures_util::{StreamExt, stream::BoxStream},
    indexmap::IndexMap,
    parser::types::{DocumentOperations, ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};

/// Registered on the schema; one [`Ordering`] per request.
pub struct SelectionOrder;

impl ExtensionFactory for SelectionOrder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Ordering::default())
    }
}

#[derive(Default)]
struct Ordering {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    operation_name: Option<String>,
    /// Kept from parsing until the first response: the shape is only built once execution has
    /// shown the document valid (no fragment cycles) and within the size limits.
    document: Option<ExecutableDocument>,
    shape: Option<Arc<Shape>>,
}

/// The response keys of a selection set in query order (fragments expanded, the first
/// occurrence of a key deciding its place), each with the shape of its value.
#[derive(Default, Debug, PartialEq)]
struct Shape {
    fields: IndexMap<Name, Shape>,
}

type Fragments = std::collections::HashMap<Name, Positioned<FragmentDefinition>>;

impl Shape {
    fn of_operation(document: &ExecutableDocument, operation_name: Option<&str>) -> Shape {
        // The operation async-graphql runs: the named one, or the only one.
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => Some(operation),
            (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        };
        let mut shape = Shape::default();
        if let Some(operation) = operation {
            shape.add(&operation.node.selection_set.node, &document.fragments);
        }
        shape
    }

    fn add(&mut self, set: &SelectionSet, fragments: &Fragments) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.clone();
                    self.fields.entry(key).or_default().add(&field.node.selection_set.node, fragments);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                        self.add(&fragment.node.selection_set.node, fragments);
                    }
                }
                Selection::InlineFragment(inline) => self.add(&inline.node.selection_set.node, fragments),
            }
        }
    }

    fn reorder(&self, value: &mut Value) {
        match value {
            Value::Object(object) => {
                object.sort_by_cached_key(|key, _| self.fields.get_index_of(key).unwrap_or(usize::MAX));
                for (key, value) in object.iter_mut() {
                    if let Some(shape) = self.fields.get(key) {
                        shape.reorder(value);
                    }
                }
            }
            Value::List(items) => items.iter_mut().for_each(|item| self.reorder(item)),
            _ => {}
        }
    }
}

/// Puts `response`'s data into query order, building the shape on first use.
fn reorder(state: &Mutex<State>, response: &mut Response) {
    if matches!(response.data, Value::Null) {
        return;
    }
    let shape = {
        let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(document) = state.document.take() {
            state.shape = Some(Arc::new(Shape::of_operation(&document, state.operation_name.as_deref())));
        }
        state.shape.clone()
    };
    if let Some(shape) = shape {
        shape.reorder(&mut response.data);
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Ordering {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        if let Ok(mut state) = self.state.lock() {
            state.operation_name = request.operation_name.clone();
        }
        Ok(request)
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
            state.document = Some(document.clone());
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        reorder(&self.state, &mut response);
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
                reorder(&state, &mut response);
                response
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{Number, parser::parse_query};

    use super::*;

    fn object(keys: &[&str]) -> Value {
        Value::Object(keys.iter().map(|k| (Name::new(k), Value::Number(Number::from(1)))).collect())
    }

    fn keys(value: &Value) -> Vec<&str> {
        match value {
            Value::Object(object) => object.keys().map(|k| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn objects_follow_the_query_through_aliases_fragments_and_lists() {
        let document = parse_query(
            "query A { b: me { ...f id } } query B { x } \
             fragment f on User { role ... on User { email } }",
        )
        .unwrap();
        let shape = Shape::of_operation(&document, Some("A"));
        let mut data = Value::Object(
            [(Name::new("b"), Value::List(vec![object(&["id", "email", "role"]), object(&["email", "role"])]))]
                .into_iter()
                .collect(),
        );
        shape.reorder(&mut data);
        let Value::Object(root) = &data else { unreachable!() };
        let Value::List(items) = &root["b"] else { unreachable!() };
        assert_eq!(keys(&items[0]), ["role", "email", "id"]);
        assert_eq!(keys(&items[1]), ["role", "email"]);
        assert_eq!(Shape::of_operation(&document, None), Shape::default(), "two operations, none named");
    }
}
