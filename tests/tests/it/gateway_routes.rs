//! The gateway's route table from DESIGN.md, each status code triggered by
//! a real HTTP request against the one-process mesh.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

use mesh::Target;
use mesh_tests::http::{client, post_event, post_update, text_update};
use mesh_tests::mesh::RunningMesh;
use mesh_tests::stripe::{event, now, signature_header, subscription};
use mesh_tests::telegram::TelegramDouble;
use serde_json::{Value, json};

const SECRET: &str = "s3cret_Token-1";

async fn mesh_with(double: &TelegramDouble, extra: &[(&str, String)]) -> RunningMesh {
    let mut vars = vec![
        ("TELEGRAM_BOT_TOKEN", double.token.clone()),
        ("TELEGRAM_API_URL", double.url.clone()),
        ("TELEGRAM_WEBHOOK_SECRET", SECRET.to_owned()),
        ("GATEWAY_MAX_BODY_BYTES", "4096".to_owned()),
    ];
    vars.extend(extra.iter().cloned());
    RunningMesh::start(Target::All, &vars).await
}

async fn get(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.expect("request");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn raw_post(
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    secret: bool,
) -> (u16, Value) {
    let mut request = client().post(url).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", SECRET);
    }
    let r = request.send().await.expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn is_error_body(v: &Value) -> bool {
    v.get("error")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
        && v.as_object().is_some_and(|o| o.len() == 1)
}

/// /health, /ready, /metrics, unknown paths (404) and wrong methods (405).
#[tokio::test]
async fn probes_and_fallbacks() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(&double, &[]).await;
    let g = &mesh.gateway;
    assert_eq!(
        get(&format!("{g}/health")).await,
        (200, r#"{"status":"healthy"}"#.to_owned())
    );
    let (status, body) = get(&format!("{g}/ready")).await;
    assert_eq!(status, 200, "{body}");
    let mut ready: Value = serde_json::from_str(&body).unwrap();
    // bot-service's rights check reports once it has run (all in order
    // here): a detail that never changes the status.
    if let Some(services) = ready["services"].as_object_mut()
        && let Some(rights) = services.remove("chat_rights")
    {
        assert_eq!(rights, "ok");
    }
    assert_eq!(
        ready,
        json!({"status": "ready", "services": {
            "redis": "in-memory (not shared)", "bot": "ok", "billing": "ok",
            "durability": "in-process: a restart loses everything",
        }})
    );
    let (status, metrics) = get(&format!("{g}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        metrics.is_empty() || metrics.contains("# TYPE"),
        "Prometheus text: {metrics}"
    );
    let (status, body) = get(&format!("{g}/no-such-route")).await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"error":"Endpoint not found"}"#)
    );
    let (status, body) = get(&format!("{g}/telegram-webhook")).await;
    assert_eq!(
        (status, body.as_str()),
        (405, r#"{"error":"Method not allowed"}"#)
    );
    let r = client().post(format!("{g}/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    mesh.stop().await.unwrap();
}

/// POST /telegram-webhook: 200 (also for a duplicate), 401, 415, 400, 413;
/// only the accepted update has an effect.
#[tokio::test]
async fn telegram_webhook_statuses() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(&double, &[]).await;
    let url = format!("{}/telegram-webhook", mesh.gateway);
    let update = text_update(10, 501, "/help");

    assert_eq!(
        post_update(&mesh.gateway, &update, Some(SECRET)).await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        post_update(&mesh.gateway, &update, Some(SECRET)).await,
        (200, json!({"status": "ok"}))
    );

    let (s, b) = post_update(&mesh.gateway, &text_update(11, 501, "/help"), None).await;
    assert_eq!(s, 401);
    assert!(is_error_body(&b), "{b}");
    let (s, _) = post_update(&mesh.gateway, &text_update(12, 501, "/help"), Some("wrong")).await;
    assert_eq!(s, 401);

    let body = text_update(13, 501, "/help").to_string().into_bytes();
    assert_eq!(
        raw_post(&url, Some("text/plain"), body.clone(), true)
            .await
            .0,
        415
    );
    assert_eq!(raw_post(&url, None, body.clone(), true).await.0, 415);
    assert_eq!(
        raw_post(&url, Some("application/json; charset=utf-8"), body, true)
            .await
            .0,
        200
    );

    for bad in [
        &b"not json"[..],
        b"{\"update_id\": 14",
        b"[{\"update_id\": 15}]",
        b"\"update_id\"",
        b"{\"message\": {}}",
        b"{\"update_id\": \"16\"}",
        b"{\"update_id\": 1.5}",
    ] {
        let (s, b) = raw_post(&url, Some("application/json"), bad.to_vec(), true).await;
        assert_eq!(s, 400, "{}", String::from_utf8_lossy(bad));
        assert!(is_error_body(&b), "{b}");
    }

    let mut big = text_update(17, 501, "/help");
    big["message"]["text"] = json!("x".repeat(5000));
    let (s, b) = raw_post(
        &url,
        Some("application/json"),
        big.to_string().into_bytes(),
        true,
    )
    .await;
    assert_eq!((s, is_error_body(&b)), (413, true));
    // The same without Content-Length (chunked): refused while reading.
    let stream = futures_body(big.to_string().into_bytes());
    let r = client()
        .post(&url)
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(stream)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    // Two accepted updates (10 and 13), each answered once; nothing else landed.
    let replies = mesh_tests::eventually(
        std::time::Duration::from_secs(10),
        "two /help replies",
        || async {
            let m = double.messages_to(501);
            (m.len() >= 2).then_some(m)
        },
    )
    .await;
    // A marker update in the same chat: once it is answered, anything queued
    // before it has been handled, so the count below is final.
    post_update(&mesh.gateway, &text_update(18, 501, "/start"), Some(SECRET)).await;
    mesh_tests::eventually(
        std::time::Duration::from_secs(10),
        "marker reply",
        || async { (double.messages_to(501).len() >= 3).then_some(()) },
    )
    .await;
    assert_eq!(double.messages_to(501).len(), 3, "{replies:?}");
    mesh.stop().await.unwrap();
}

fn futures_body(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_stream(chunks))
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    tokio_stream::iter(chunks)
}

mod futures_core_stream {
    pub use tokio_stream::Stream;
}

/// The per-address limiter spends only on requests that did not
/// authenticate: Telegram's own deliveries go through at any rate, while an
/// address that keeps failing the secret check is refused (429 with
/// Retry-After) before its secret is even looked at, the right one too.
#[tokio::test]
async fn limiter_spares_authenticated_deliveries() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(
        &double,
        &[
            ("GATEWAY_RATE_LIMIT_RPS", "1".into()),
            ("GATEWAY_RATE_LIMIT_BURST", "2".into()),
        ],
    )
    .await;
    let mut statuses = Vec::new();
    for id in 0..6 {
        let update = text_update(100 + id, 502, "hi");
        statuses.push(post_update(&mesh.gateway, &update, Some(SECRET)).await.0);
    }
    assert_eq!(statuses, vec![200; 6], "authenticated: not limited");
    let mut statuses = Vec::new();
    for id in 0..3 {
        let update = text_update(300 + id, 502, "hi");
        statuses.push(post_update(&mesh.gateway, &update, Some("wrong")).await.0);
    }
    assert_eq!(statuses, vec![401, 401, 401]);
    let r = client()
        .post(format!("{}/telegram-webhook", mesh.gateway))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(text_update(200, 502, "hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429, "refused before the secret check");
    assert!(r.headers().get("retry-after").is_some());
    let (probe, _) = get(&format!("{}/health", mesh.gateway)).await;
    assert_eq!(probe, 429, "the whole address waits");
    mesh.stop().await.unwrap();
}

/// An operator may still bound authenticated deliveries per address.
#[tokio::test]
async fn authenticated_limit_is_optional() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(
        &double,
        &[
            ("GATEWAY_AUTHENTICATED_RATE_LIMIT_RPS", "1".into()),
            ("GATEWAY_AUTHENTICATED_RATE_LIMIT_BURST", "2".into()),
        ],
    )
    .await;
    let mut statuses = Vec::new();
    for id in 0..4 {
        let update = text_update(100 + id, 503, "hi");
        statuses.push(post_update(&mesh.gateway, &update, Some(SECRET)).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    mesh.stop().await.unwrap();
}

/// 503 from both webhooks and /ready when the services can't be reached.
#[tokio::test]
async fn dependencies_down_503() {
    let closed = |_: ()| format!("http://127.0.0.1:{}", mesh_tests::free_port());
    let mesh = RunningMesh::start(
        Target::Gateway,
        &[
            ("BOT_SERVICE_URL", closed(())),
            ("BILLING_SERVICE_URL", closed(())),
            ("STRIPE_WEBHOOK_SECRET", "whsec_test_one".into()),
            ("GATEWAY_UPSTREAM_TIMEOUT_MS", "1000".into()),
        ],
    )
    .await;
    let (s, b) = post_update(&mesh.gateway, &text_update(1, 1, "/start"), None).await;
    assert_eq!(s, 503);
    assert!(is_error_body(&b));
    let body = event(
        "evt_down",
        "invoice.paid",
        now(),
        json!({"id": "in_1", "object": "invoice"}),
    )
    .to_string();
    let sig = signature_header(&["whsec_test_one"], now(), body.as_bytes());
    assert_eq!(
        post_event(&mesh.gateway, body.as_bytes(), Some(&sig))
            .await
            .0,
        503
    );
    let (s, body) = get(&format!("{}/ready", mesh.gateway)).await;
    assert_eq!(s, 503);
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "unhealthy");
    assert_eq!(ready["services"]["redis"], "in-memory (not shared)");
    assert_eq!(ready["services"]["bot"], "unavailable");
    assert_eq!(ready["services"]["billing"], "unavailable");
    mesh.stop().await.unwrap();
}

/// POST /stripe-webhook: 503 when not configured; 400 for every kind of bad
/// signature and for payloads that are not events; 413; 200 for valid,
/// duplicate, rotated-secret and unknown-type events, and the entitlement
/// changed only by the valid ones.
#[tokio::test]
async fn stripe_webhook_statuses() {
    let double = TelegramDouble::start().await;
    let unconfigured = mesh_with(&double, &[]).await;
    let body = event("evt_x", "invoice.paid", now(), json!({})).to_string();
    let sig = signature_header(&["whsec_anything1"], now(), body.as_bytes());
    let (s, b) = post_event(&unconfigured.gateway, body.as_bytes(), Some(&sig)).await;
    assert_eq!((s, is_error_body(&b)), (503, true));
    unconfigured.stop().await.unwrap();

    let mesh = mesh_with(
        &double,
        &[(
            "STRIPE_WEBHOOK_SECRET",
            "whsec_new_secret, whsec_old_secret".into(),
        )],
    )
    .await;
    let g = &mesh.gateway;
    let t = now();
    let sub = |user: i64, status: &str| {
        subscription(
            &format!("sub_{user}"),
            &format!("cus_{user}"),
            user,
            status,
            t + 86400 * 30,
            "price_monthly_placeholder",
        )
    };
    let created = event(
        "evt_created_701",
        "customer.subscription.created",
        t,
        sub(701, "active"),
    )
    .to_string();
    let b = created.as_bytes();

    assert_eq!(post_event(g, b, None).await.0, 400, "missing header");
    assert_eq!(
        post_event(g, b, Some("t=1,v1=zz")).await.0,
        400,
        "garbage header"
    );
    assert_eq!(
        post_event(g, b, Some(&signature_header(&["whsec_wrong_one"], t, b)))
            .await
            .0,
        400,
        "wrong secret"
    );
    let mut tampered = created.clone().into_bytes();
    let i = created.find("active").unwrap();
    tampered[i] = b'A';
    assert_eq!(
        post_event(
            g,
            &tampered,
            Some(&signature_header(&["whsec_new_secret"], t, b))
        )
        .await
        .0,
        400,
        "tampered"
    );
    assert_eq!(
        post_event(
            g,
            b,
            Some(&signature_header(&["whsec_new_secret"], t - 301, b))
        )
        .await
        .0,
        400,
        "stale"
    );
    assert_eq!(
        post_event(
            g,
            b,
            Some(&signature_header(&["whsec_new_secret"], t + 301, b))
        )
        .await
        .0,
        400,
        "future"
    );
    assert_eq!(
        entitlement_state(&mesh, 701).await,
        "ENTITLEMENT_STATE_NONE",
        "nothing applied yet"
    );

    // Two v1 values, only the first matching: accepted.
    let two = signature_header(&["whsec_new_secret", "whsec_not_configured"], t, b);
    assert_eq!(
        post_event(g, b, Some(&two)).await,
        (200, json!({"status": "success"}))
    );
    assert_eq!(
        entitlement_state(&mesh, 701).await,
        "ENTITLEMENT_STATE_ACTIVE"
    );
    // Duplicate delivery: acknowledged, no effect.
    assert_eq!(
        post_event(g, b, Some(&signature_header(&["whsec_new_secret"], t, b)))
            .await
            .0,
        200
    );

    // Signed with the old secret during the roll.
    let deleted = event(
        "evt_deleted_701",
        "customer.subscription.deleted",
        t + 5,
        sub(701, "canceled"),
    )
    .to_string();
    let d = deleted.as_bytes();
    assert_eq!(
        post_event(g, d, Some(&signature_header(&["whsec_old_secret"], t, d)))
            .await
            .0,
        200
    );
    assert_eq!(
        entitlement_state(&mesh, 701).await,
        "ENTITLEMENT_STATE_EXPIRED"
    );
    // The older "created" replayed with a fresh signature and a new id can't roll it back.
    let replay = event(
        "evt_created_again",
        "customer.subscription.created",
        t,
        sub(701, "active"),
    )
    .to_string();
    let r = replay.as_bytes();
    assert_eq!(
        post_event(g, r, Some(&signature_header(&["whsec_new_secret"], t, r)))
            .await
            .0,
        200
    );
    assert_eq!(
        entitlement_state(&mesh, 701).await,
        "ENTITLEMENT_STATE_EXPIRED"
    );

    // Unknown types are acknowledged.
    let unknown = event(
        "evt_unknown",
        "customer.tax_id.created",
        t,
        json!({"id": "txi_1"}),
    )
    .to_string();
    let u = unknown.as_bytes();
    assert_eq!(
        post_event(g, u, Some(&signature_header(&["whsec_new_secret"], t, u)))
            .await
            .0,
        200
    );

    // Validly signed, but not an event.
    let customer = json!({"id": "cus_1", "object": "customer"}).to_string();
    let c = customer.as_bytes();
    let (s, body) = post_event(g, c, Some(&signature_header(&["whsec_new_secret"], t, c))).await;
    assert_eq!((s, is_error_body(&body)), (400, true));

    // Over the body limit.
    let huge = event(
        "evt_huge",
        "invoice.paid",
        t,
        json!({"pad": "x".repeat(5000)}),
    )
    .to_string();
    let h = huge.as_bytes();
    assert_eq!(
        post_event(g, h, Some(&signature_header(&["whsec_new_secret"], t, h)))
            .await
            .0,
        413
    );
    mesh.stop().await.unwrap();
}

async fn entitlement_state(mesh: &RunningMesh, user: i64) -> String {
    use mesh_proto::billing::v1::GetEntitlementRequest;
    use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
    let mut client = BillingServiceClient::connect(mesh.billing.clone())
        .await
        .expect("billing");
    let e = client
        .get_entitlement(GetEntitlementRequest {
            telegram_user_id: user,
        })
        .await
        .expect("GetEntitlement")
        .into_inner()
        .entitlement
        .expect("entitlement");
    e.state().as_str_name().to_owned()
}

/// Posts an update with an optional X-Forwarded-For header.
async fn post_via(gateway: &str, update_id: i64, forwarded_for: Option<&str>) -> (u16, Value) {
    let mut r = client()
        .post(format!("{gateway}/telegram-webhook"))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(text_update(update_id, 503, "/help").to_string());
    if let Some(x) = forwarded_for {
        r = r.header("X-Forwarded-For", x);
    }
    mesh_tests::http::send(r).await
}

/// 403 for a caller outside TELEGRAM_ALLOWED_SOURCES, and X-Forwarded-For
/// believed only from a trusted proxy.
#[tokio::test]
async fn telegram_source_allow_list() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(
        &double,
        &[(
            "TELEGRAM_ALLOWED_SOURCES",
            "149.154.160.0/20,91.108.4.0/22".into(),
        )],
    )
    .await;
    let (status, body) = post_via(&mesh.gateway, 300, None).await;
    assert_eq!((status, is_error_body(&body)), (403, true));
    // 127.0.0.1 is not a trusted proxy: a forged header changes nothing.
    assert_eq!(
        post_via(&mesh.gateway, 300, Some("149.154.167.1")).await.0,
        403
    );
    mesh.stop().await.unwrap();

    let mesh = mesh_with(
        &double,
        &[
            ("TELEGRAM_ALLOWED_SOURCES", "149.154.160.0/20".into()),
            ("TRUSTED_PROXIES", "127.0.0.0/8".into()),
        ],
    )
    .await;
    assert_eq!(
        post_via(&mesh.gateway, 301, Some("149.154.167.1")).await.0,
        200,
        "behind a trusted proxy, Telegram's address is allowed"
    );
    mesh.stop().await.unwrap();
}

/// 408 when a body stalls past GATEWAY_BODY_TIMEOUT_MS.
#[tokio::test]
async fn slow_body_times_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(&double, &[("GATEWAY_BODY_TIMEOUT_MS", "300".into())]).await;
    let addr = mesh.gateway.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /telegram-webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: 100\r\n\r\n{{\"update_id\":"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut answer))
        .await
        .expect("an answer before the client gives up")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains(r#"{"error":"request body timed out"}"#),
        "{text}"
    );
    mesh.stop().await.unwrap();
}

/// Sends raw bytes as one HTTP/1.1 request and returns the status code.
async fn raw_request(gateway: &str, head: &[u8], body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gateway.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    socket.write_all(head).await.unwrap();
    socket.write_all(body).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Header tricks: a duplicated secret header, control bytes in it, a bare
/// LF line ending smuggling a second header, a non-UTF-8 Stripe signature.
/// None is accepted, and nothing lands in state.
#[tokio::test]
async fn header_injection_attempts() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(
        &double,
        &[("STRIPE_WEBHOOK_SECRET", "whsec_header_tests".into())],
    )
    .await;
    let g = &mesh.gateway;
    let host = g.trim_start_matches("http://");
    let body = text_update(900, 909, "/help").to_string();
    let head = |headers: &str| {
        format!(
            "POST /telegram-webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    // Two secret headers, the right one first.
    let both = format!(
        "X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nX-Telegram-Bot-Api-Secret-Token: other\r\n"
    );
    assert_eq!(
        raw_request(g, head(&both).as_bytes(), body.as_bytes()).await,
        401
    );
    // Control bytes and an LF-smuggled header inside the value.
    let ctl = format!("X-Telegram-Bot-Api-Secret-Token: {SECRET}\x01\r\n");
    assert!(matches!(
        raw_request(g, head(&ctl).as_bytes(), body.as_bytes()).await,
        400 | 401
    ));
    let lf = format!(
        "X-Telegram-Bot-Api-Secret-Token: wrong\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
    );
    assert!(matches!(
        raw_request(g, head(&lf).as_bytes(), body.as_bytes()).await,
        400 | 401
    ));
    // A Stripe-Signature that is not text.
    let event = br#"{"id":"evt_h","object":"event","type":"invoice.paid","created":1,"data":{"object":{}}}"#;
    let mut stripe_head = format!(
        "POST /stripe-webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    )
    .into_bytes();
    stripe_head.extend_from_slice(b"Stripe-Signature: t=1,v1=\xff\xfe\r\n");
    stripe_head.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            event.len()
        )
        .as_bytes(),
    );
    assert_eq!(raw_request(g, &stripe_head, event).await, 400);
    // Nothing landed: a good update afterwards is the only thing answered.
    let (status, _) = post_update(g, &text_update(901, 909, "/help"), Some(SECRET)).await;
    assert_eq!(status, 200);
    mesh_tests::eventually(
        std::time::Duration::from_secs(10),
        "the good update's reply",
        || async { (!double.messages_to(909).is_empty()).then_some(()) },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(double.messages_to(909).len(), 1);
    mesh.stop().await.unwrap();
}

/// Deeply nested JSON is refused with 400 over HTTP; an event signed with
/// a secret whose rotation has ended is refused with 400; neither lands.
#[tokio::test]
async fn deep_nesting_and_retired_secret() {
    let double = TelegramDouble::start().await;
    let mesh = mesh_with(
        &double,
        &[("STRIPE_WEBHOOK_SECRET", "whsec_current_only".into())],
    )
    .await;
    let url = format!("{}/telegram-webhook", mesh.gateway);
    let deep = format!(
        r#"{{"update_id":77,"message":{{"message_id":1,"date":1,"chat":{{"id":910,"type":"private"}},"text":"/help","x":{}{}}}}}"#,
        "[".repeat(1500),
        "]".repeat(1500)
    );
    let (s, b) = raw_post(&url, Some("application/json"), deep.into_bytes(), true).await;
    assert_eq!((s, is_error_body(&b)), (400, true));

    let t = now();
    let sub = subscription(
        "sub_r",
        "cus_r",
        911,
        "active",
        t + 86_400,
        "price_monthly_placeholder",
    );
    let body = event("evt_retired", "customer.subscription.created", t, sub).to_string();
    let old = signature_header(&["whsec_retired_secret"], t, body.as_bytes());
    assert_eq!(
        post_event(&mesh.gateway, body.as_bytes(), Some(&old))
            .await
            .0,
        400
    );
    assert_eq!(
        entitlement_state(&mesh, 911).await,
        "ENTITLEMENT_STATE_NONE"
    );
    // A later good update of the same chat is the only one answered.
    assert_eq!(
        post_update(&mesh.gateway, &text_update(78, 910, "/help"), Some(SECRET))
            .await
            .0,
        200
    );
    mesh_tests::eventually(
        std::time::Duration::from_secs(10),
        "the good reply",
        || async { (!double.messages_to(910).is_empty()).then_some(()) },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(double.messages_to(910).len(), 1);
    mesh.stop().await.unwrap();
}
