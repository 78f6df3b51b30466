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
    }
    mesh.stop().await.unwrap();
}
