//! gRPC between the services over mutual TLS (GRPC_TLS_CERT/KEY/CA): the
//! mesh works end to end, and a caller without a client certificate, or
//! without TLS, is refused.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mesh_tests::http::{post_update, text_update};
use mesh_tests::process::MeshProcesses;
use mesh_tests::telegram::TelegramDouble;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A CA and one certificate for 127.0.0.1 (server and client use), made
/// with the openssl command line.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mesh-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "node.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "node.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

async fn health(url: &str, tls: Option<ClientTlsConfig>) -> Result<(), tonic::Status> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(2));
    if let Some(config) = tls {
        endpoint = endpoint.tls_config(config).unwrap();
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(drop)
}

/// The mesh over mutual TLS: /start answered (gateway -> bot -> billing);
/// plaintext and certificate-less callers refused; a caller with a
/// certificate from the CA admitted.
#[tokio::test]
async fn services_speak_mutual_tls() {
    let test = "tls";
    let dir = std::env::temp_dir().join(mesh_tests::unique_prefix(test));
    std::fs::create_dir_all(&dir).unwrap();
    make_certs(&dir);
    let telegram = TelegramDouble::start().await;
    let path = |f: &str| dir.join(f).display().to_string();
    let mut env = mesh_tests::base_env(test, &telegram);
    env.extend([
        ("GRPC_TLS_CERT", path("node.pem")),
        ("GRPC_TLS_KEY", path("node.key")),
        ("GRPC_TLS_CA", path("ca.pem")),
    ]);
    let mesh = MeshProcesses::start(test, &env).await;
    assert!(mesh.billing_url.starts_with("https://"));
    assert_eq!(
        post_update(&mesh.gateway_url, &text_update(1, 4711, "/start"), None)
            .await
            .0,
        200
    );
    mesh_tests::eventually(
        Duration::from_secs(15),
        "the welcome with plans from billing",
        || async {
            telegram
                .messages_to(4711)
                .iter()
                .any(|m| m["text"].as_str().is_some_and(|t| t.contains("Monthly")))
                .then_some(())
        },
    )
    .await;

    let bot = format!("https://127.0.0.1:{}", mesh.bot_port);
    let ca = Certificate::from_pem(std::fs::read(dir.join("ca.pem")).unwrap());
    let identity = Identity::from_pem(
        std::fs::read(dir.join("node.pem")).unwrap(),
        std::fs::read(dir.join("node.key")).unwrap(),
    );
    assert!(
        health(&bot.replace("https", "http"), None).await.is_err(),
        "plaintext refused"
    );
    assert!(
        health(
            &bot,
            Some(ClientTlsConfig::new().ca_certificate(ca.clone()))
        )
        .await
        .is_err(),
        "TLS without a client certificate refused"
    );
    health(
        &bot,
        Some(ClientTlsConfig::new().ca_certificate(ca).identity(identity)),
    )
    .await
    .expect("a client with a certificate from the CA is admitted");
    let _ = std::fs::remove_dir_all(&dir);
}
