//! durability: the Redis side.

use std::time::Duration;

use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use crate::error::StoreError;
use crate::redis_backend::{Conn, RedisBackend, ms};

impl RedisBackend {
    /// What Redis keeps across a restart, from `CONFIG GET` (a node may
    /// refuse the command, renamed or disabled: then `None`).
    pub(crate) async fn durability(&self) -> Result<Option<super::Kept>, StoreError> {
        let mut c = self.conn.clone();
        let read = |name: &'static str| {
            let mut cmd = redis::cmd("CONFIG");
            cmd.arg("GET").arg(name);
            cmd
        };
        let answers: Result<Vec<(String, String)>, redis::RedisError> = async {
            let mut all: Vec<(String, String)> = read("appendonly").query_async(&mut c).await?;
            all.extend(
                read("appendfsync")
                    .query_async::<Vec<(String, String)>>(&mut c)
                    .await?,
            );
            all.extend(
                read("save")
                    .query_async::<Vec<(String, String)>>(&mut c)
                    .await?,
            );
            Ok(all)
        }
        .await;
        let Ok(answers) = answers else {
            return Ok(None);
        };
        let get = |k: &str| answers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Ok(Some(super::Kept::of_redis(
            get("appendonly").as_deref() == Some("yes"),
            get("appendfsync").unwrap_or_default(),
            get("save").unwrap_or_default(),
        )))
    }

    /// `WAIT replicas timeout` on the node holding `scope`: how many
    /// replicas hold every write this connection made there. WAIT counts
    /// per client connection, and each node's writes go over one
    /// multiplexed connection, so the writes just made are covered (with
    /// any made concurrently: a wait for one covers them all). It blocks
    /// that connection's later commands until it answers, which is why the
    /// timeout is short and why only durable writes ask for it.
    pub(crate) async fn wait_replicas(
        &self,
        scope: &str,
        replicas: u32,
        timeout: Duration,
    ) -> Result<u32, StoreError> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(ms(timeout));
        let got: i64 = match &self.conn {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await?,
            Conn::Cluster(l) => {
                // The shard that took the writes: the one `scope`'s hash
                // tag names (a key without one is a plain value's).
                let key = if scope.contains('{') {
                    scope.to_owned()
                } else {
                    self.value_key(scope)
                };
                let route = Route::with_key(key.as_bytes(), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let value = l.get().await?.route_command(cmd, routing).await?;
                redis::from_redis_value(value).map_err(|e| StoreError::Protocol(e.to_string()))?
            }
        };
        Ok(u32::try_from(got).unwrap_or(0))
    }
}
