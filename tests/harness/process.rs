//! wagate as a child process, for restart, crash and signal tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub struct ProcessServer {
    pub child: Child,
    pub addr: SocketAddr,
    /// Lines the process printed on standard output.
    pub stdout: mpsc::UnboundedReceiver<String>,
}

impl ProcessServer {
    /// Spawns `binary args…` with JSON logs and `env`, and waits (bounded) for
    /// the log line announcing the listening address named `listening_message`.
    pub async fn spawn(
        binary: &str,
        args: &[&str],
        env: &HashMap<String, String>,
        listening_message: &str,
    ) -> Self {
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WAGATE_LOG_FORMAT", "json")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn wagate");
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (addr_tx, mut addr_rx) = mpsc::unbounded_channel();
        let message = listening_message.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[wagate] {line}");
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                    && json.get("message").and_then(|m| m.as_str()) == Some(message.as_str())
                    && let Some(addr) = json.get("addr").and_then(|a| a.as_str())
                {
                    let _ = addr_tx.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = out_tx.send(line);
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx.recv())
            .await
            .expect("server announced its address in time")
            .expect("server announced its address");
        Self {
            child,
            addr,
            stdout: out_rx,
        }
    }

    /// Sends a signal (e.g. `libc`-free: "TERM", "KILL") with the kill command.
    pub async fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("process did not exit within {limit:?}"))
            .expect("wait for process");
        status.code()
    }

    /// Every stdout line printed so far.
    pub fn stdout_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.try_recv() {
            lines.push(line);
        }
        lines
    }
}

/// Settings of a `wagate serve` process on the simulated network for crash,
/// restart and load tests: loopback gRPC on a free port, `database_url`,
/// files under `data_dir`, the test admin token, no metrics or HTTP
/// listener; `extra` adds or overrides settings.
pub fn sim_server_env(
    database_url: &str,
    data_dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("WAGATE_GRPC_ADDR", "127.0.0.1:0"),
        ("WAGATE_DATABASE_URL", database_url),
        ("WAGATE_ADMIN_TOKEN", crate::ADMIN_TOKEN),
        ("WAGATE_ENGINE", "sim"),
        ("WAGATE_METRICS_ADDR", "off"),
        ("WAGATE_HTTP_ADDR", "off"),
        ("WAGATE_RECONNECT_STAGGER", "10ms"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert("WAGATE_DATA_DIR".into(), data_dir.display().to_string());
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// Spawns `binary serve` with `env` and waits until its health is SERVING.
pub async fn spawn_serving(
    binary: &str,
    env: &HashMap<String, String>,
) -> (ProcessServer, tonic::transport::Channel) {
    let server = ProcessServer::spawn(binary, &["serve"], env, "gRPC server listening").await;
    let channel = crate::connect(server.addr).await;
    crate::wait_serving(channel.clone(), Duration::from_secs(30)).await;
    (server, channel)
}
