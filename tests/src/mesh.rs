//! The mesh run in this test process on ephemeral ports, the way
//! `mesh all` (or one target) runs it.

use std::path::PathBuf;

use mesh::{Listeners, Mesh, Target};
use mesh_runtime::{CancellationToken, Env};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The repository's plans file.
pub fn plans_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plans.toml")
}

/// A one-time lifetime pass (Checkout in payment mode), as a plans-file
/// entry.
pub const LIFETIME_PLAN: &str = r#"
[[plans]]
id = "lifetime"
name = "Lifetime"
description = "Once, for ever."
stripe_price_id = "price_pass_placeholder"
mode = "payment"
"#;

/// A 30-day pass (Checkout in payment mode), as a plans-file entry.
pub const PASS30_PLAN: &str = r#"
[[plans]]
id = "pass30"
name = "30-day pass"
description = "A month, no renewal."
stripe_price_id = "price_pass_placeholder"
mode = "payment"
duration_days = 30
"#;

/// Plans sold for Telegram Stars, as plans-file entries: a 30-day Stars
/// pass and a lifetime one, both Stars only (the repository's monthly plan
/// is on both rails).
pub const STARS_PLANS: &str = r#"
[[plans]]
id = "starpass"
name = "Star pass"
description = "Thirty days, paid in Stars."
stars_price = 100
mode = "payment"
duration_days = 30

[[plans]]
id = "starlife"
name = "Star lifetime"
description = "For ever, paid in Stars."
stars_price = 1000
mode = "payment"
"#;

/// The repository's plans and `extra` entries, written for `test`; returns
/// the path for `PLANS_FILE`.
pub fn plans_with(test: &str, extra: &str) -> String {
    let path = std::env::temp_dir().join(format!("plans-{test}-{}.toml", std::process::id()));
    let default = std::fs::read_to_string(plans_file()).expect("plans.toml");
    std::fs::write(&path, format!("{default}\n{extra}")).expect("plans file");
    path.display().to_string()
}

/// A running mesh (or part of one).
pub struct RunningMesh {
    /// `http://127.0.0.1:PORT` of the gateway, when it runs.
    pub gateway: String,
    /// `http://127.0.0.1:PORT` of bot-service, when it runs.
    pub bot: String,
    /// `http://127.0.0.1:PORT` of billing-service, when it runs.
    pub billing: String,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

impl RunningMesh {
    /// Starts `target` with `vars` on top of test defaults (metrics
    /// listeners off, the repository's plans file). Services this process
    /// does not run are found through `BOT_SERVICE_URL` /
    /// `BILLING_SERVICE_URL` in `vars`.
    pub async fn start(target: Target, vars: &[(&str, String)]) -> Self {
        crate::init_logs();
        let runs = |t: Target| target == Target::All || target == t;
        let mut env = Env::from_pairs([
            ("BOT_METRICS_ADDR", "off".to_owned()),
            ("BILLING_METRICS_ADDR", "off".to_owned()),
            ("PLANS_FILE", plans_file().display().to_string()),
        ]);
        let mut listeners = Listeners::default();
        let (mut gateway, mut bot, mut billing) = (String::new(), String::new(), String::new());
        if runs(Target::Bot) {
            let (l, url) = bind().await;
            env = env.with("BOT_SERVICE_URL", url.clone());
            listeners.bot = Some(l);
            bot = url;
        }
        if runs(Target::Billing) {
            let (l, url) = bind().await;
            env = env.with("BILLING_SERVICE_URL", url.clone());
            listeners.billing = Some(l);
            billing = url;
        }
        if runs(Target::Gateway) {
            let (l, url) = bind().await;
            listeners.gateway = Some(l);
            gateway = url;
        }
        for (k, v) in vars {
            env = env.with(k, v.clone());
        }
        let mesh = Mesh::from_env(target, &env).expect("valid test configuration");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(mesh.run(listeners, shutdown.clone()));
        Self {
            gateway,
            bot,
            billing,
            shutdown,
            task,
        }
    }

    /// Drains and stops it; returns how the run ended.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await?
    }
}
