//! A private Redis server that a test can stop and start on the same port.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` child process (killed on drop), persisting every write
/// to an append-only file as a production Redis behind this mesh must, so
/// a restart keeps what was acknowledged.
pub struct RedisServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    pub async fn start() -> Self {
        let mut server = Self::unstarted();
        server.start_again().await;
        server
    }

    /// A free port and a fresh directory, nothing running yet.
    fn unstarted() -> Self {
        let port = crate::free_port();
        let dir =
            std::env::temp_dir().join(format!("mesh-test-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        Self {
            port,
            dir,
            child: None,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts a server on a free port replicating `primary` (a replica on
    /// loopback, for failover tests), once it has synced.
    pub async fn replica_of(primary: &RedisServer) -> Self {
        Self::replica_via(primary.port).await
    }

    /// A replica of the primary reached through `port` (a [`crate::link::Link`]
    /// to it, say), once it has synced.
    pub async fn replica_via(primary: u16) -> Self {
        let mut server = Self::unstarted();
        server.launch(Some(primary)).await;
        server.wait_synced().await;
        server
    }

    /// Starts it again (same port) after [`RedisServer::stop`].
    pub async fn start_again(&mut self) {
        self.launch(None).await;
    }

    /// Starts it again (same port) after [`RedisServer::stop`] as a
    /// replica of `primary`, as Sentinel does with a primary that comes
    /// back after a failover (what it had of its own is replaced by a
    /// full copy of the new primary's), once it has synced.
    pub async fn rejoin_as_replica_of(&mut self, primary: &RedisServer) {
        self.launch(Some(primary.port)).await;
        self.wait_synced().await;
    }

    /// Promotes this replica to a primary (`REPLICAOF NO ONE`).
    pub async fn promote(&self) {
        let mut conn = self.connection().await;
        let _: () = redis::cmd("REPLICAOF")
            .arg("NO")
            .arg("ONE")
            .query_async(&mut conn)
            .await
            .expect("REPLICAOF NO ONE");
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    /// Waits until this replica's link to its primary is up.
    async fn wait_synced(&self) {
        let url = self.url();
        crate::eventually(Duration::from_secs(20), "the replica to sync", || async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut conn)
                .await
                .ok()?;
            info.contains("master_link_status:up").then_some(())
        })
        .await;
    }

    async fn launch(&mut self, replica_of: Option<u16>) {
        let mut command = Command::new("redis-server");
        if let Some(primary) = replica_of {
            command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
        }
        let child = command
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (see .ci/run)");
        self.child = Some(child);
        let port = self.port;
        crate::eventually(
            Duration::from_secs(10),
            "redis-server to answer",
            || async move {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            },
        )
        .await;
    }

    /// Kills it (SIGKILL: an outage, not a clean shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
