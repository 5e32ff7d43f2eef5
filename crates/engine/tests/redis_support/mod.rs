//! Real Redis for the shared-tier tests, started on free loopback ports and killed when dropped:
//! a plain `redis-server`, a TLS-only one (certificates made with `openssl` into a temporary
//! directory), and a Redis Cluster of masters with one replica each (`redis-cli --cluster create`).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port whose cluster-bus twin (port + 10000) is free too.
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < 55000 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16) {
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("redis-server did not start on port {port}");
}

/// A `redis-server` on a loopback port, killed when dropped.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    /// `redis-cli` arguments that reach it (TLS options included).
    cli_args: Vec<String>,
}

impl Redis {
    fn spawn(port: u16, args: &[String], cli_args: Vec<String>) -> Redis {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian package redis-server)");
        wait_for_port(port);
        Redis {
            child: Some(child),
            port,
            cli_args,
        }
    }

    pub fn start_on(port: u16) -> Redis {
        Redis::spawn(
            port,
            &["--port".into(), port.to_string()],
            vec!["-p".into(), port.to_string()],
        )
    }

    pub fn start() -> Redis {
        Redis::start_on(free_port())
    }

    /// Plain TCP off (`--port 0`): only TLS on a free port, with `certs`' server certificate.
    /// `require_client_certificates`: clients without one of `certs`' CA are refused.
    pub fn start_tls(certs: &Certs, require_client_certificates: bool) -> Redis {
        let port = free_port();
        let path = |p: &Path| p.display().to_string();
        let args = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path(&certs.server_cert),
            "--tls-key-file".into(),
            path(&certs.server_key),
            "--tls-ca-cert-file".into(),
            path(&certs.ca),
            "--tls-auth-clients".into(),
            if require_client_certificates {
                "yes"
            } else {
                "no"
            }
            .into(),
        ];
        let cli = vec![
            "-p".into(),
            port.to_string(),
            "--tls".into(),
            "--cacert".into(),
            path(&certs.ca),
            "--cert".into(),
            path(&certs.client_cert),
            "--key".into(),
            path(&certs.client_key),
        ];
        Redis::spawn(port, &args, cli)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1"])
            .args(&self.cli_args)
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Keys matching `pattern`, found with `SCAN` (`redis-cli --scan`).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cli(&["--scan", "--pattern", pattern])
            .lines()
            .map(str::to_string)
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a second
/// CA that signed nothing of these — made with `openssl` into a temporary directory.
pub struct Certs {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    pub fn make() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for ca in ["ca", "other-ca"] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-subj",
                    &format!("/CN=gatsby-dsg test {ca}"),
                ],
            );
        }
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
            openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-out",
                    &format!("{name}.pem"),
                    "-extfile",
                    ext,
                ],
            );
        }
        Certs {
            ca: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            client_cert: d.join("client.pem"),
            client_key: d.join("client.key"),
            other_ca: d.join("other-ca.pem"),
            _dir: dir,
        }
    }
}

/// A Redis Cluster on loopback: `masters` masters with one replica each, slots spread evenly by
/// `redis-cli --cluster create`, failure detection after 1 s (`cluster-node-timeout 1000`).
pub struct Cluster {
    _dir: tempfile::TempDir,
    pub nodes: Vec<Redis>,
}

impl Cluster {
    pub fn start(masters: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for _ in 0..masters * 2 {
            let port = free_port();
            let conf = dir.path().join(format!("nodes-{port}.conf"));
            nodes.push(Redis::spawn(
                port,
                &[
                    "--port".into(),
                    port.to_string(),
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    conf.display().to_string(),
                    "--cluster-node-timeout".into(),
                    "1000".into(),
                    "--dir".into(),
                    dir.path().display().to_string(),
                ],
                vec!["-p".into(), port.to_string()],
            ));
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Cluster { _dir: dir, nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}/", hosts.join(","))
    }

    /// Every node still running agrees the cluster is up (all slots served).
    pub fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self
                .running()
                .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if ok && self.masters().len() * 2 >= self.nodes.len() - self.stopped() {
                return;
            }
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn running(&self) -> impl Iterator<Item = &Redis> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    fn stopped(&self) -> usize {
        self.nodes.iter().filter(|n| n.child.is_none()).count()
    }

    /// The running nodes that are masters now.
    pub fn masters(&self) -> Vec<&Redis> {
        self.running()
            .filter(|n| n.cli(&["ROLE"]).lines().next() == Some("master"))
            .collect()
    }

    /// The running replicas.
    pub fn replicas(&self) -> Vec<&Redis> {
        self.running()
            .filter(|n| n.cli(&["ROLE"]).lines().next() == Some("slave"))
            .collect()
    }

    /// Kills (SIGKILL) the master at `index` of [`Cluster::masters`]; returns its port.
    pub fn kill_master(&mut self, index: usize) -> u16 {
        let port = self.masters()[index].port;
        let node = self.nodes.iter_mut().find(|n| n.port == port).unwrap();
        node.stop();
        port
    }

    /// Waits until every replica has applied everything its master wrote (equal offsets in
    /// `ROLE`).
    pub fn wait_for_replication(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let caught_up = self.replicas().iter().all(|replica| {
                let role = replica.cli(&["ROLE"]);
                let fields: Vec<&str> = role.lines().collect();
                let (Some(port), Some(applied)) = (fields.get(2), fields.get(4)) else {
                    return false;
                };
                let Some(master) = self.running().find(|n| n.port.to_string() == *port) else {
                    return true;
                };
                master.cli(&["ROLE"]).lines().nth(1) == Some(*applied)
            });
            if caught_up {
                return;
            }
            assert!(Instant::now() < deadline, "replicas did not catch up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Clients of `node` that are instances' connections: `(commands, subscriptions)` (the
/// `CLIENT LIST` call itself and replication links left out).
pub fn instance_clients(node: &Redis) -> (usize, usize) {
    let list = node.cli(&["CLIENT", "LIST"]);
    let mut counts = (0, 0);
    for line in list.lines().filter(|l| !l.contains("cmd=client|list")) {
        if line.contains(" flags=N ") {
            counts.0 += 1;
        } else if line.contains(" flags=P ") {
            counts.1 += 1;
        }
    }
    counts
}

impl Cluster {
    /// Waits until `n` instances are connected: each master has `n` command connections, and
    /// `n` purge subscriptions stand somewhere in the cluster.
    pub async fn wait_connected(&self, n: usize) {
        for _ in 0..400 {
            let masters = self.masters();
            let commands = masters.iter().all(|m| instance_clients(m).0 >= n);
            let subscriptions: usize = self.running().map(|node| instance_clients(node).1).sum();
            if commands && subscriptions >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{n} instances did not connect to the cluster");
    }
}

impl Redis {
    /// Waits until `n` instances have a command connection and a purge subscription here.
    pub async fn wait_connected(&self, n: usize) {
        for _ in 0..400 {
            let (commands, subscriptions) = instance_clients(self);
            if commands >= n && subscriptions >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "{n} instances did not connect to redis-server on port {}",
            self.port
        );
    }
}

impl Cluster {
    /// Moves `slots` hash slots from the master at `from` to the one at `to` (indexes of
    /// [`Cluster::masters`]) with `redis-cli --cluster reshard`: keys migrate one by one, clients
    /// get `ASK` for a slot being migrated and `MOVED` once it has moved.
    pub fn reshard(&self, from: usize, to: usize, slots: usize) {
        let masters = self.masters();
        let id = |n: &Redis| n.cli(&["CLUSTER", "MYID"]);
        let out = Command::new("redis-cli")
            .args([
                "--cluster",
                "reshard",
                &format!("127.0.0.1:{}", masters[from].port),
            ])
            .args([
                "--cluster-from",
                &id(masters[from]),
                "--cluster-to",
                &id(masters[to]),
            ])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli");
        assert!(
            out.status.success(),
            "redis-cli --cluster reshard: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
