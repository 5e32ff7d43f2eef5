//! One connection to the shared tier, whatever its topology: a [`ConnectionManager`] to one
//! Redis, or a cluster connection that routes each command to the master of its key's slot and
//! follows MOVED/ASK redirections and failovers by itself. Both are multiplexed and cheap to clone.
//!
//! Commands that are not about one key (purge-all's `SCAN`) go to every master: [`Conn::masters`]
//! lists them from `CLUSTER SLOTS` at the time of the call, so a replica promoted by a failover is
//! scanned and a failed master is not.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A node's address.
pub type Node = (String, u16);
/// A master of a cluster (`None` for the one Redis of a single-node target).
pub type Master = Option<Node>;
/// A master and its replicas.
type Shard = (Node, Vec<Node>);

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    /// Every node that holds keys: the masters serving slots now (the one Redis otherwise).
    pub async fn masters(&mut self) -> RedisResult<Vec<Master>> {
        Ok(match self {
            Conn::Single(_) => vec![None],
            Conn::Cluster(_) => self
                .slots()
                .await?
                .into_iter()
                .map(|(master, _)| Some(master))
                .collect(),
        })
    }

    /// Every node of the cluster (masters first), for the purge subscription; empty for one Redis.
    pub async fn nodes(&mut self) -> RedisResult<Vec<Node>> {
        if let Conn::Single(_) = self {
            return Ok(Vec::new());
        }
        let mut nodes = Vec::new();
        let slots = self.slots().await?;
        for (master, _) in &slots {
            nodes.push(master.clone());
        }
        for (_, replicas) in slots {
            nodes.extend(replicas);
        }
        Ok(nodes)
    }

    /// The masters of `CLUSTER SLOTS`, each once, with their replicas.
    async fn slots(&mut self) -> RedisResult<Vec<Shard>> {
        let Conn::Cluster(c) = self else {
            return Ok(Vec::new());
        };
        let reply = c
            .route_command(
                &redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        let mut out: Vec<Shard> = Vec::new();
        let Value::Array(ranges) = reply else {
            return Ok(out);
        };
        for range in ranges {
            let Value::Array(fields) = range else {
                continue;
            };
            let nodes: Vec<(String, u16)> =
                fields.iter().skip(2).filter_map(node_address).collect();
            let Some((master, replicas)) = nodes.split_first() else {
                continue;
            };
            match out.iter_mut().find(|(m, _)| m == master) {
                Some((_, known)) => {
                    for r in replicas {
                        if !known.contains(r) {
                            known.push(r.clone());
                        }
                    }
                }
                None => out.push((master.clone(), replicas.to_vec())),
            }
        }
        Ok(out)
    }

    /// Runs `cmd` on `master` (a command without a key, e.g. `SCAN`).
    pub async fn on<T: redis::FromRedisValue>(
        &mut self,
        master: &Master,
        cmd: &Cmd,
    ) -> RedisResult<T> {
        match (self, master) {
            (Conn::Cluster(c), Some((host, port))) => {
                let value = c
                    .route_command(
                        cmd,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        }),
                    )
                    .await?;
                redis::from_owned_redis_value(value)
            }
            (conn, _) => cmd.query_async(conn).await,
        }
    }
}

/// `[host, port, id, …]` of a `CLUSTER SLOTS` node entry.
fn node_address(node: &Value) -> Option<Node> {
    let Value::Array(parts) = node else {
        return None;
    };
    let host = match parts.first()? {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok()?,
        Value::SimpleString(s) => s.clone(),
        _ => return None,
    };
    let port = match parts.get(1)? {
        Value::Int(p) => u16::try_from(*p).ok()?,
        _ => return None,
    };
    // An empty host means "the address this connection already uses" (Redis 7 `?`/empty).
    (!host.is_empty() && host != "?").then_some((host, port))
}
