//! The worker's side of the TSA: dial a TSA (the hosts in turn), check its host key, prove the
//! worker's key, and run commands. `forward` keeps the worker registered: it forwards the
//! worker's loopback service through the connection and runs `forward-worker`, reconnecting
//! with backoff whenever the connection drops (what runs on the worker is untouched by that).

use std::sync::Arc;
use std::time::Duration;

use concorde_proto::Worker as WorkerJson;
use russh::client::{Config, Handle, Msg, Session};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{Channel, ChannelMsg};
use tokio_util::sync::CancellationToken;

use crate::keys::{contains, signing_hash};

/// The address the worker asks the TSA to forward, as Concourse's workers do.
const GARDEN_ADDRESS: (&str, u32) = ("0.0.0.0", 7777);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How a worker reaches its TSAs.
#[derive(Clone)]
pub struct BeaconConfig {
    /// TSA addresses (`host:port`), tried in turn.
    pub hosts: Vec<String>,
    /// The host keys a TSA may present.
    pub tsa_public_keys: Vec<PublicKey>,
    /// The worker's own key.
    pub worker_key: PrivateKey,
    /// The worker as it registers.
    pub worker: WorkerJson,
    /// The port of the worker's service on loopback.
    pub service_port: u16,
    /// Time between heartbeats.
    pub heartbeat: Duration,
}

/// What went wrong talking to the TSA.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// No TSA could be reached or completed the handshake.
    #[error("all worker SSH gateways unreachable: {0}")]
    Unreachable(String),
    /// The TSA refused the worker's key.
    #[error("the TSA refused the worker's key")]
    Refused,
    /// The command failed; the TSA's message.
    #[error("{0}")]
    Failed(String),
}

/// How a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The TSA ended it: the worker landed or was deleted.
    ByTsa,
    /// The worker stopped it.
    Stopped,
}

/// A worker's connection to its TSAs.
#[derive(Clone)]
pub struct Beacon {
    config: Arc<BeaconConfig>,
}

struct Client {
    tsa_keys: Vec<PublicKey>,
    service_port: u16,
}

impl russh::client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => contains(&self.tsa_keys, key),
            _ => false,
        })
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        _connected_address: &str,
        _connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: russh::client::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let port = self.service_port;
        reply.accept().await;
        tokio::spawn(async move {
            let Ok(mut service) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                return;
            };
            let _ = service.set_nodelay(true);
            let mut stream = channel.into_stream();
            crate::tuning::splice(&mut service, &mut stream).await;
        });
        Ok(())
    }
}

impl Beacon {
    /// A beacon for `config`.
    pub fn new(config: BeaconConfig) -> Beacon {
        Beacon {
            config: Arc::new(config),
        }
    }

    async fn connect(&self) -> Result<Handle<Client>, BeaconError> {
        let ssh = Arc::new(Config {
            keepalive_interval: Some(Duration::from_secs(5)),
            keepalive_max: 60,
            nodelay: true,
            window_size: crate::tuning::WINDOW,
            maximum_packet_size: crate::tuning::PACKET,
            preferred: crate::tuning::preferred(),
            ..Default::default()
        });
        let mut failures = Vec::new();
        for host in &self.config.hosts {
            let client = Client {
                tsa_keys: self.config.tsa_public_keys.clone(),
                service_port: self.config.service_port,
            };
            let connecting = russh::client::connect(ssh.clone(), host.as_str(), client);
            let mut handle = match tokio::time::timeout(Duration::from_secs(10), connecting).await {
                Ok(Ok(handle)) => handle,
                Ok(Err(err)) => {
                    failures.push(format!("{host}: {err}"));
                    continue;
                }
                Err(_) => {
                    failures.push(format!("{host}: timed out"));
                    continue;
                }
            };
            let key = PrivateKeyWithHashAlg::new(
                Arc::new(self.config.worker_key.clone()),
                signing_hash(&self.config.worker_key),
            );
            let auth = handle
                .authenticate_publickey("beacon", key)
                .await
                .map_err(|err| BeaconError::Unreachable(format!("{host}: {err}")))?;
            if !auth.success() {
                return Err(BeaconError::Refused);
            }
            return Ok(handle);
        }
        Err(BeaconError::Unreachable(failures.join("; ")))
    }

    async fn start(
        &self,
        handle: &Handle<Client>,
        command: &str,
    ) -> Result<Channel<Msg>, BeaconError> {
        let failed = |err: russh::Error| BeaconError::Unreachable(err.to_string());
        let channel = handle.channel_open_session().await.map_err(failed)?;
        channel.exec(true, command).await.map_err(failed)?;
        let json = serde_json::to_vec(&self.config.worker)
            .map_err(|err| BeaconError::Failed(err.to_string()))?;
        channel.data_bytes(json).await.map_err(failed)?;
        channel.eof().await.map_err(failed)?;
        Ok(channel)
    }

    /// Runs `command` (`land-worker`, `retire-worker`, `delete-worker`, ...) once and returns
    /// what it printed.
    pub async fn run_command(&self, command: &str) -> Result<String, BeaconError> {
        let handle = self.connect().await?;
        let mut channel = self.start(&handle, command).await?;
        let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), None);
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                _ => {}
            }
        }
        match status {
            Some(0) => Ok(String::from_utf8_lossy(&stdout).into_owned()),
            Some(_) => Err(BeaconError::Failed(
                String::from_utf8_lossy(&stderr).trim().to_owned(),
            )),
            None => Err(BeaconError::Unreachable(
                "the TSA closed the connection".to_owned(),
            )),
        }
    }

    /// Keeps the worker registered until `stop` is cancelled or the TSA ends the registration
    /// (the worker landed or was deleted). Dropped connections are retried with backoff; a
    /// refused key or a failed command ends it with an error.
    pub async fn forward(&self, stop: CancellationToken) -> Result<Ended, BeaconError> {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.forward_once(&stop).await {
                Ok(ended) => return Ok(ended),
                Err(BeaconError::Unreachable(reason)) => {
                    tracing::warn!(%reason, retry_in = ?backoff, "lost the TSA; reconnecting");
                }
                Err(err) => return Err(err),
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(Ended::Stopped),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn forward_once(&self, stop: &CancellationToken) -> Result<Ended, BeaconError> {
        let handle = self.connect().await?;
        handle
            .tcpip_forward(GARDEN_ADDRESS.0, GARDEN_ADDRESS.1)
            .await
            .map_err(|err| BeaconError::Unreachable(format!("forwarding refused: {err}")))?;
        let command = format!(
            "forward-worker --garden {}:{} --heartbeat-interval {}s",
            GARDEN_ADDRESS.0,
            GARDEN_ADDRESS.1,
            self.config.heartbeat.as_secs().max(1)
        );
        let mut channel = self.start(&handle, &command).await?;
        let mut stderr = Vec::new();
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => {
                    let _ = channel.signal(russh::Sig::INT).await;
                    let _ = handle
                        .disconnect(russh::Disconnect::ByApplication, "worker stopping", "en")
                        .await;
                    return Ok(Ended::Stopped);
                }
                message = channel.wait() => message,
            };
            match message {
                Some(ChannelMsg::Data { data }) => {
                    for line in String::from_utf8_lossy(&data).lines() {
                        tracing::debug!(event = line, "TSA");
                        if line.contains("registered") {
                            tracing::info!("registered with the TSA");
                        }
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => stderr.extend_from_slice(&data),
                Some(ChannelMsg::ExitStatus { exit_status: 0 }) => return Ok(Ended::ByTsa),
                Some(ChannelMsg::ExitStatus { .. }) => {
                    return Err(BeaconError::Failed(
                        String::from_utf8_lossy(&stderr).trim().to_owned(),
                    ));
                }
                Some(_) => {}
                None => {
                    return Err(BeaconError::Unreachable(
                        "the TSA connection ended".to_owned(),
                    ));
                }
            }
        }
    }
}
