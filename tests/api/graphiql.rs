//! GraphiQL works with no internet: the page references only assets the server itself serves.

use crate::{db_tests, db_tests_with, support::TestApp};

/// The values of every `src="…"` and `href="…"` attribute in `html`.
fn referenced_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').expect("attribute is closed");
            urls.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    urls
}

async fn graphiql_loads_everything_from_the_server(app: TestApp) {
    let page = app.client.get(app.graphql_url()).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("unpkg.com") && !html.contains("cdn"), "no CDN: {html}");
    // The page says where the token goes, and wires subscriptions to the same endpoint.
    assert!(html.contains("Authorization") && html.contains("Headers"), "{html}");
    assert!(html.contains("graphqlWs.createClient"), "{html}");

    let urls = referenced_urls(&html);
    assert!(urls.len() >= 5, "the bundle: {urls:?}");
    let base = reqwest::Url::parse(&app.graphql_url()).unwrap();
    let mut total_bytes = 0;
    for url in &urls {
        assert!(!url.contains("//"), "{url} must be relative, so it is served by Vafa itself");
        let asset = base.join(url).unwrap();
        assert_eq!(asset.host_str(), base.host_str());
        let response = app.client.get(asset.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = if url.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert!(content_type.starts_with(expected), "{asset}: {content_type}");
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("immutable"), "{asset}");
        let body = response.bytes().await.unwrap();
        // Production builds carry no source-map reference that would be fetched from elsewhere.
        assert!(!String::from_utf8_lossy(&body).contains("sourceMappingURL=http"), "{asset}");
        total_bytes += body.len();
    }
    assert!(total_bytes > 1_000_000, "React, ReactDOM, GraphiQL and its styles: {total_bytes} bytes");
    for script in ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphql-ws.min.js"] {
        assert!(urls.iter().any(|u| u.ends_with(script)), "{script} in {urls:?}");
    }

    // An unknown file or an old bundle version is not found (not the page, not a crash).
    let missing = base.join("graphiql/0.0.0/graphiql.min.js").unwrap();
    assert_eq!(app.client.get(missing).send().await.unwrap().status(), 404);
}

db_tests!(graphiql_loads_everything_from_the_server);

/// With GraphiQL off (production), neither the page nor its bundle is served.
async fn graphiql_off_serves_no_bundle(app: TestApp) {
    let page = app.client.get(app.graphql_url()).header("accept", "text/html").send().await.unwrap();
    assert!(!page.text().await.unwrap().contains("graphiql.min.js"));
    let asset = format!("{}/graphiql/{}/graphiql.min.js", app.url, vafa::http::GRAPHIQL_VERSION);
    assert_eq!(app.client.get(asset).send().await.unwrap().status(), 404);
}

fn graphiql_off() -> vafa::config::HttpSettings {
    vafa::config::HttpSettings { graphiql: false, ..vafa::config::HttpSettings::default() }
}

db_tests_with!(graphiql_off: graphiql_off_serves_no_bundle);
