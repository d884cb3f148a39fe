//! Every way an access token can be wrong is `UNAUTHENTICATED` (HTTP 401), never anonymous.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::{db_tests, support::TestApp};

fn sign(secret: &[u8], alg: Algorithm, claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn status_and_code(app: &TestApp, authorization: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.graphql_url())
        .header("content-type", "application/json")
        .header("authorization", authorization)
        .body(json!({ "query": "{ me { id } }" }).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["errors"][0]["extensions"]["code"].clone())
}

async fn every_bad_token_is_rejected(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |patch: Value| {
        let mut base = json!({
            "sub": tenant.admin.id, "ws": tenant.workspace.id, "iss": "vafa", "aud": "vafa:staff",
            "iat": now, "nbf": now, "exp": now + 600, "jti": uuid::Uuid::now_v7(),
        });
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    };
    let secret = app.jwt_secret.clone();
    let valid = sign(&secret, Algorithm::HS256, &claims(json!({})));
    // The baseline works, so each rejection below is due to its one defect.
    let (status, code) = status_and_code(&app, &format!("Bearer {valid}")).await;
    assert_eq!((status, code), (200, Value::Null));

    let parts: Vec<&str> = valid.split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let forged_payload =
        URL_SAFE_NO_PAD.encode(claims(json!({ "sub": other.admin.id, "ws": other.workspace.id })).to_string());
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(
                &secret,
                Algorithm::HS256,
                &claims(json!({ "exp": now - 3600, "iat": now - 7200, "nbf": now - 7200 })),
            ),
        ),
        ("not yet valid", sign(&secret, Algorithm::HS256, &claims(json!({ "nbf": now + 3600 })))),
        ("wrong audience", sign(&secret, Algorithm::HS256, &claims(json!({ "aud": "vafa:customer" })))),
        ("wrong issuer", sign(&secret, Algorithm::HS256, &claims(json!({ "iss": "someone-else" })))),
        ("other algorithm", sign(&secret, Algorithm::HS512, &claims(json!({})))),
        ("wrong secret", sign(&[9u8; 32], Algorithm::HS256, &claims(json!({})))),
        ("alg none", format!("{none_header}.{}.", parts[1])),
        ("tampered payload", format!("{}.{forged_payload}.{}", parts[0], parts[2])),
        ("missing sub", sign(&secret, Algorithm::HS256, &claims(json!({ "sub": null })))),
        ("missing workspace", sign(&secret, Algorithm::HS256, &claims(json!({ "ws": null })))),
        ("missing exp", sign(&secret, Algorithm::HS256, &claims(json!({ "exp": null })))),
        ("user of another workspace", sign(&secret, Algorithm::HS256, &claims(json!({ "sub": other.admin.id })))),
        ("unknown user", sign(&secret, Algorithm::HS256, &claims(json!({ "sub": uuid::Uuid::now_v7() })))),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let (status, code) = status_and_code(&app, &format!("Bearer {token}")).await;
        assert_eq!((status, code.as_str()), (401, Some("UNAUTHENTICATED")), "case: {name}");
    }
    for header in ["Basic YWRtaW46cGFzcw==", "Bearer ", valid.as_str()] {
        let (status, code) = status_and_code(&app, header).await;
        assert_eq!((status, code.as_str()), (401, Some("UNAUTHENTICATED")), "header: {header}");
    }
}

db_tests!(every_bad_token_is_rejected);
