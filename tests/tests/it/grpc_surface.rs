//! What every gRPC server serves besides its API: health, and reflection
//! in both protocol versions (grpcurl before 1.9 speaks only v1alpha).

use mesh::Target;
use mesh_tests::mesh::RunningMesh;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Lists services through one reflection protocol version (the v1 and
/// v1alpha modules have the same shape but distinct types).
macro_rules! list_services {
    ($version:ident, $url:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let mut client =
            ServerReflectionClient::new(mesh_proto::lazy_channel($url).expect("channel"));
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect(stringify!($version))
            .into_inner();
        match stream
            .message()
            .await
            .expect("answer")
            .and_then(|r| r.message_response)
        {
            Some(MessageResponse::ListServicesResponse(list)) => list
                .service
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<String>>(),
            other => panic!("unexpected {other:?}"),
        }
    }};
}

/// Whether reflection v1 knows the file defining `symbol`.
async fn knows_symbol(url: &str, symbol: &str) -> bool {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(mesh_proto::lazy_channel(url).expect("channel"));
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1")
        .into_inner();
    matches!(
        stream.message().await.expect("answer").and_then(|r| r.message_response),
        Some(MessageResponse::FileDescriptorResponse(files)) if !files.file_descriptor_proto.is_empty()
    )
}

async fn serving(url: &str, service: &str) -> bool {
    let mut client = HealthClient::new(mesh_proto::lazy_channel(url).expect("channel"));
    let response = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check")
        .into_inner();
    response.status() == tonic_health::pb::health_check_response::ServingStatus::Serving
}

/// Both services answer health checks (by name and overall) and list their
/// API, health and reflection through reflection v1 and v1alpha.
#[tokio::test]
async fn health_and_reflection_on_both_services() {
    let mesh = RunningMesh::start(Target::All, &[]).await;
    for (url, api) in [
        (&mesh.bot, "bot.v1.BotService"),
        (&mesh.billing, "billing.v1.BillingService"),
    ] {
        assert!(serving(url, api).await, "{api} serving");
        assert!(serving(url, "").await, "overall serving");
        assert!(
            serving(url, "liveness").await,
            "liveness for Kubernetes' probe"
        );
        for listed in [list_services!(v1, url), list_services!(v1alpha, url)] {
            for expected in [api, "grpc.health.v1.Health"] {
                assert!(
                    listed.iter().any(|s| s == expected),
                    "{expected} in {listed:?}"
                );
            }
        }
        // A refusal's details decode in grpcurl.
        for symbol in ["google.rpc.ErrorInfo", "google.rpc.Status"] {
            assert!(
                knows_symbol(url, symbol).await,
                "{symbol} through reflection"
            );
        }
    }
    mesh.stop().await.unwrap();
}

fn update_json(id: i64, chat: i64) -> bytes::Bytes {
    serde_json::json!({
        "update_id": id,
        "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "group"},
                    "from": {"id": 5, "is_bot": false, "first_name": "U"}, "text": "hi"}
    })
    .to_string()
    .into()
}

/// AcceptUpdates judges each update on its own: new, duplicate (of the
/// past or of the same call), refused with a reason; and refuses calls that
/// carry nothing or too much.
#[tokio::test]
async fn accept_updates_batch_api() {
    use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
    use mesh_proto::bot::v1::{AcceptUpdateRequest, AcceptUpdatesRequest, BatchedUpdate};
    let mesh = RunningMesh::start(Target::All, &[]).await;
    let mut bot = BotServiceClient::new(mesh_proto::lazy_channel(&mesh.bot).expect("channel"));
    let item = |update_id: i64, update_json: bytes::Bytes| BatchedUpdate {
        update: Some(AcceptUpdateRequest {
            update_id,
            update_json,
        }),
        traceparent: String::new(),
    };
    let first = bot
        .accept_updates(AcceptUpdatesRequest {
            updates: vec![item(71, update_json(71, -5))],
        })
        .await
        .expect("one update")
        .into_inner();
    assert!(!first.outcomes[0].duplicate && first.outcomes[0].invalid.is_empty());
    let outcomes = bot
        .accept_updates(AcceptUpdatesRequest {
            updates: vec![
                item(72, update_json(72, -5)),
                item(71, update_json(71, -5)),
                item(73, "not json".into()),
                item(74, update_json(75, -6)),
                item(72, update_json(72, -5)),
                BatchedUpdate::default(),
            ],
        })
        .await
        .expect("a mixed call")
        .into_inner()
        .outcomes;
    let seen: Vec<(bool, bool)> = outcomes
        .iter()
        .map(|o| (o.duplicate, !o.invalid.is_empty()))
        .collect();
    assert_eq!(
        seen,
        [
            (false, false),
            (true, false),
            (false, true),
            (false, true),
            (true, false),
            (false, true)
        ]
    );
    assert!(
        outcomes[3].invalid.contains("does not match"),
        "{outcomes:?}"
    );
    for updates in [
        Vec::new(),
        (0..513)
            .map(|i| item(1000 + i, update_json(1000 + i, -7)))
            .collect(),
    ] {
        let refused = bot
            .accept_updates(AcceptUpdatesRequest { updates })
            .await
            .expect_err("empty and oversized calls are refused");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }
    mesh.stop().await.unwrap();
}

/// A bot-service that predates AcceptUpdates (a rolling upgrade with the
/// gateway first): the gateway answers 503 for the updates of the call it
/// refused (Telegram redelivers them), then sends one AcceptUpdate each.
#[tokio::test]
async fn gateway_falls_back_for_an_older_bot_service() {
    use std::sync::{Arc, Mutex};

    use mesh_proto::bot::v1::bot_service_server::{BotService, BotServiceServer};
    use mesh_proto::bot::v1::*;
    use tonic::{Request, Response, Status};

    #[derive(Default, Clone)]
    struct OldBot {
        accepted: Arc<Mutex<Vec<i64>>>,
    }
    #[tonic::async_trait]
    impl BotService for OldBot {
        async fn accept_update(
            &self,
            request: Request<AcceptUpdateRequest>,
        ) -> Result<Response<AcceptUpdateResponse>, Status> {
            let id = request.into_inner().update_id;
            let mut seen = self.accepted.lock().unwrap();
            let duplicate = seen.contains(&id);
            seen.push(id);
            Ok(Response::new(AcceptUpdateResponse { duplicate }))
        }
        async fn accept_updates(
            &self,
            _: Request<AcceptUpdatesRequest>,
        ) -> Result<Response<AcceptUpdatesResponse>, Status> {
            Err(Status::unimplemented("not in this version"))
        }
        async fn notify_entitlement(
            &self,
            _: Request<NotifyEntitlementRequest>,
        ) -> Result<Response<NotifyEntitlementResponse>, Status> {
            Err(Status::unimplemented("not used here"))
        }
        async fn list_dead_letters(
            &self,
            _: Request<ListDeadLettersRequest>,
        ) -> Result<Response<ListDeadLettersResponse>, Status> {
            Err(Status::unimplemented("not used here"))
        }
        async fn replay_dead_letters(
            &self,
            _: Request<ReplayDeadLettersRequest>,
        ) -> Result<Response<ReplayDeadLettersResponse>, Status> {
            Err(Status::unimplemented("not used here"))
        }
    }

    let old = OldBot::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(BotServiceServer::new(old.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mesh = RunningMesh::start(
        Target::Gateway,
        &[
            ("BOT_SERVICE_URL", url),
            ("BILLING_SERVICE_URL", "http://127.0.0.1:9".to_owned()),
        ],
    )
    .await;
    let update = |id: i64| serde_json::from_slice(&update_json(id, -9)).unwrap();
    let (status, _) = mesh_tests::http::post_update(&mesh.gateway, &update(81), None).await;
    assert_eq!(status, 503, "refused by the old service: Telegram retries");
    for (id, expected) in [(81, 200), (82, 200), (81, 200)] {
        let (status, body) = mesh_tests::http::post_update(&mesh.gateway, &update(id), None).await;
        assert_eq!((status, body["status"].as_str()), (expected, Some("ok")));
    }
    assert_eq!(*old.accepted.lock().unwrap(), [81, 82, 81]);
    mesh.stop().await.unwrap();
}
