//! The mesh on a Redis Cluster (3 masters with replicas, six local
//! processes): webhooks, de-duplication and Stripe events work as on a
//! single node.

use std::time::Duration;

use mesh_tests::http::text_update;
use mesh_tests::product::Product;

fn cluster_url() -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("redis-cluster.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .output()
        .expect("run tests/redis-cluster.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A webhook answered once (a duplicate has no effect) and a paid checkout
/// granting access, all state on the cluster.
#[tokio::test]
async fn webhooks_and_billing_on_a_cluster() {
    let url = tokio::task::spawn_blocking(cluster_url).await.unwrap();
    let p = Product::start("cluster", &[("REDIS_URL", url)]).await;
    let update = text_update(1, 9901, "/help");
    p.post(&update).await;
    p.post(&update).await;
    p.wait_message(9901, "Here is what I can do").await;
    p.subscribe(9901).await;
    p.wait_call("the invite", |c| c.method == "createChatInviteLink")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        p.telegram
            .messages_to(9901)
            .iter()
            .filter(|m| m["text"]
                .as_str()
                .unwrap_or("")
                .contains("Here is what I can do"))
            .count(),
        1
    );
    p.stop().await;
}
