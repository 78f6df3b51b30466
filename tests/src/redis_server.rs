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
        let port = crate::free_port();
        let dir =
            std::env::temp_dir().join(format!("mesh-test-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.start_again().await;
        server
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again (same port) after [`RedisServer::stop`].
    pub async fn start_again(&mut self) {
        let child = Command::new("redis-server")
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
