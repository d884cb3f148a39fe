//! The GraphiQL page, with its scripts and styles compiled into the binary (see
//! `graphiql/README.md`): a public CDN is out of reach in many of the networks Vafa runs in.

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

/// Part of every asset URL, so a new bundle never meets a browser's forever-cached old one.
pub const VERSION: &str = "3.9.0-1";

/// (file name, content type, bytes): the whole bundle.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("graphiql/graphiql.min.css")),
    ("graphiql.min.js", "text/javascript; charset=utf-8", include_bytes!("graphiql/graphiql.min.js")),
    ("react.production.min.js", "text/javascript; charset=utf-8", include_bytes!("graphiql/react.production.min.js")),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/react-dom.production.min.js"),
    ),
    ("graphql-ws.min.js", "text/javascript; charset=utf-8", include_bytes!("graphiql/graphql-ws.min.js")),
    ("LICENSES.txt", "text/plain; charset=utf-8", include_bytes!("graphiql/LICENSES.txt")),
];

/// The asset routes, mounted beside `/graphql` when GraphiQL is on.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphiql/{version}/{file}", get(asset))
}

async fn asset(Path((version, file)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|(name, _, _)| *name == file).filter(|_| version == VERSION);
    let Some((_, content_type, bytes)) = found else {
        return (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}

/// The page. Asset and endpoint URLs are relative to the page's own address, so it also works
/// behind a proxy that mounts Vafa under a path prefix.
pub fn page() -> Response {
    Html(PAGE.replace("{VERSION}", VERSION)).into_response()
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Vafa GraphiQL</title>
  <link rel="stylesheet" href="graphiql/{VERSION}/graphiql.min.css">
  <style>
    html, body { height: 100%; margin: 0; }
    body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
    #vafa-hint { padding: 6px 12px; font-size: 13px; background: #f3f4f6; border-bottom: 1px solid #d1d5db; }
    #vafa-hint code { background: #e5e7eb; padding: 0 4px; border-radius: 3px; }
    #graphiql { flex: 1; min-height: 0; }
  </style>
</head>
<body>
  <div id="vafa-hint">
    Signed-in requests need a token: open <b>Headers</b> below and enter
    <code>{"Authorization": "Bearer &lt;token&gt;"}</code> (an access token from the <code>login</code>
    mutation or <code>vafa issue-token</code>, or an API key). Subscriptions send the same headers in
    <code>connection_init</code>.
  </div>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="graphiql/{VERSION}/react.production.min.js"></script>
  <script src="graphiql/{VERSION}/react-dom.production.min.js"></script>
  <script src="graphiql/{VERSION}/graphql-ws.min.js"></script>
  <script src="graphiql/{VERSION}/graphiql.min.js"></script>
  <script>
    var url = new URL(window.location.pathname, window.location.href).href;
    var wsUrl = url.replace(/^http/, "ws");
    // One fetcher per set of headers: the socket authenticates once, in connection_init.
    var current = { key: null, client: null, fetcher: null };
    function fetcher(params, options) {
      var headers = (options && options.headers) || {};
      var key = JSON.stringify(headers);
      if (key !== current.key) {
        if (current.client) current.client.dispose();
        var client = graphqlWs.createClient({ url: wsUrl, lazy: true, connectionParams: headers });
        current = {
          client: client,
          key: key,
          fetcher: GraphiQL.createFetcher({
            url: url,
            wsClient: client,
          }),
        };
      }
      return current.fetcher(params, options);
    }
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {
        fetcher: fetcher,
        shouldPersistHeaders: true,
        defaultQuery: "# Put the token in Headers below, then run:\n{\n  me {\n    email\n    role\n    workspace { name }\n  }\n}\n",
      })
    );
  </script>
</body>
</html>
"##;
