//! The real binaries as child processes, each with its log kept in
//! `target/<profile>/test-logs/<test>/<name>.log` and printed when a test
//! fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The directory cargo put the binaries in (next to this test's `deps/`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

/// Path of a workspace binary; fails with a hint when it was not built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, which the README's test command does)",
        path.display()
    );
    path
}

/// A running binary; killed when dropped.
pub struct Process {
    /// The name given at spawn.
    pub name: String,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    binary: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Process {
    /// Starts `binary` with exactly `env` (plus PATH), logging to a file
    /// under `test`'s log folder.
    pub fn spawn(test: &str, name: &str, binary: &str, env: &[(&str, String)]) -> Self {
        let dir = bin_dir().join("test-logs").join(test);
        std::fs::create_dir_all(&dir).expect("log dir");
        let mut process = Self {
            name: name.to_owned(),
            log: dir.join(format!("{name}.log")),
            binary: binary.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            child: None,
        };
        // A fresh log per run; restarts append to it.
        let _ = std::fs::remove_file(&process.log);
        process.restart();
        process
    }

    /// Starts it again with the same environment (appending to its log).
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let err = log.try_clone().expect("clone log");
        let child = Command::new(bin(&self.binary))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn binary");
        self.child = Some(child);
    }

    /// SIGKILL: the process dies where it stands.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `grace` for a clean exit; returns whether
    /// it exited successfully. Async, so doubles served by the test's own
    /// runtime (the OTLP receiver taking the final flush) keep answering.
    pub async fn terminate(&mut self, grace: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// The port it logged as listening on for `what` (a line with `what`,
    /// "listening" and `127.0.0.1:PORT`; the latest, after a restart):
    /// processes bind port 0 and say where they landed, so parallel tests
    /// never race for a port.
    pub async fn port(&self, what: &str) -> u16 {
        crate::eventually(
            Duration::from_secs(20),
            &format!("{} to listen", self.name),
            || async {
                let log = self.output();
                log.lines()
                    .rev()
                    .filter(|l| l.contains(what) && l.contains("listening"))
                    .find_map(|l| {
                        let rest = &l[l.find("127.0.0.1:")? + "127.0.0.1:".len()..];
                        rest.chars()
                            .take_while(char::is_ascii_digit)
                            .collect::<String>()
                            .parse()
                            .ok()
                    })
            },
        )
        .await
    }

    /// Changes one variable for the next [`Process::restart`].
    pub fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value));
    }

    /// Everything it has logged so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let out = self.output();
            let tail: Vec<&str> = out.lines().rev().take(40).collect();
            eprintln!(
                "---- last lines of {} ({}) ----",
                self.name,
                self.log.display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// The three services as separate processes, wired to each other.
pub struct MeshProcesses {
    /// billing-service.
    pub billing: Process,
    /// bot-service.
    pub bot: Process,
    /// gateway.
    pub gateway: Process,
    /// The gateway's base URL.
    pub gateway_url: String,
    /// billing-service's URL (kept across restarts).
    pub billing_url: String,
    /// bot-service's port (kept across restarts).
    pub bot_port: u16,
}

impl MeshProcesses {
    /// Starts billing, then bot (told where billing is), then the gateway
    /// (told where both are), each on a port of its own choosing, and
    /// waits until the gateway is ready.
    pub async fn start(test: &str, env: &[(&str, String)]) -> Self {
        let mut env: Vec<(&str, String)> = env.to_vec();
        env.extend([
            ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
            ("BOT_SERVICE_ADDR", "127.0.0.1:0".to_owned()),
            ("BILLING_SERVICE_ADDR", "127.0.0.1:0".to_owned()),
        ]);
        // The repository's plans unless the test brings its own.
        if !env.iter().any(|(k, _)| *k == "PLANS_FILE") {
            env.push((
                "PLANS_FILE",
                crate::mesh::plans_file().display().to_string(),
            ));
        }
        let mut billing = Process::spawn(test, "billing-service", "billing-service", &env);
        let billing_port = billing.port("billing-service listening").await;
        // With GRPC_TLS_* the services speak gRPC over TLS: https URLs.
        let scheme = if env.iter().any(|(k, _)| *k == "GRPC_TLS_CA") {
            "https"
        } else {
            "http"
        };
        let billing_url = format!("{scheme}://127.0.0.1:{billing_port}");
        // A restarted billing-service comes back where the others look for it.
        billing.set_env("BILLING_SERVICE_ADDR", format!("127.0.0.1:{billing_port}"));
        env.push(("BILLING_SERVICE_URL", billing_url.clone()));
        let bot = Process::spawn(test, "bot-service", "bot-service", &env);
        let bot_port = bot.port("bot-service listening").await;
        env.push((
            "BOT_SERVICE_URL",
            format!("{scheme}://127.0.0.1:{bot_port}"),
        ));
        let gateway = Process::spawn(test, "gateway", "gateway", &env);
        let gateway_url = format!(
            "http://127.0.0.1:{}",
            gateway.port("gateway listening").await
        );
        let mut bot = bot;
        // A restarted bot-service comes back where the gateway looks for it.
        bot.set_env("BOT_SERVICE_ADDR", format!("127.0.0.1:{bot_port}"));
        // billing-service started before bot-service had an address: restart
        // it (same port) knowing where to deliver its notices.
        billing.set_env(
            "BOT_SERVICE_URL",
            format!("{scheme}://127.0.0.1:{bot_port}"),
        );
        billing.kill();
        billing.restart();
        crate::http::wait_ready(&gateway_url).await;
        Self {
            billing,
            bot,
            gateway,
            gateway_url,
            billing_url,
            bot_port,
        }
    }
}
