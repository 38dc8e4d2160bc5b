//! The TSA's SSH server. Workers authenticate with a key from the authorized keys (global) or
//! a team's; each `tcpip-forward` binds a port on this node whose connections are tunnelled
//! back to the worker as `forwarded-tcpip` channels; each `exec` on a session channel runs one
//! command (`commands.rs`) once the worker's JSON has arrived on stdin. Everything a
//! connection set up ends with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use concorde_store::Store;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, Server as _, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodSet};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::commands::{Command, CommandContext, Output};
use crate::forwards::Forwards;
use crate::keys::contains;

/// Most stdin a command reads (the worker's JSON).
const MAX_STDIN: usize = 1024 * 1024;
/// Most ports one connection may forward, as Concourse allows.
const MAX_FORWARDS: usize = 2;

/// How the TSA runs.
#[derive(Clone)]
pub struct TsaConfig {
    /// Its host key.
    pub host_key: PrivateKey,
    /// Keys that may register any worker.
    pub authorized_keys: Vec<PublicKey>,
    /// Keys that may register only their team's workers, by team name.
    pub team_keys: Vec<(String, Vec<PublicKey>)>,
    /// The address other web nodes reach this node's forwarded ports at.
    pub peer_address: String,
}

impl std::fmt::Debug for TsaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsaConfig")
            .field("authorized_keys", &self.authorized_keys.len())
            .field("team_keys", &self.team_keys.len())
            .field("peer_address", &self.peer_address)
            .finish_non_exhaustive()
    }
}

/// Runs the TSA on `listener` until `stop` is cancelled.
pub async fn run_tsa(
    listener: tokio::net::TcpListener,
    config: TsaConfig,
    store: Store,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let ssh = russh::server::Config {
        keys: vec![config.host_key.clone()],
        methods: MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        inactivity_timeout: Some(Duration::from_secs(300)),
        keepalive_interval: Some(Duration::from_secs(15)),
        nodelay: true,
        window_size: crate::tuning::WINDOW,
        maximum_packet_size: crate::tuning::PACKET,
        preferred: crate::tuning::preferred(),
        ..Default::default()
    };
    let mut server = TsaServer {
        config: Arc::new(config),
        store,
        stop: stop.clone(),
    };
    let running = server.run_on_socket(Arc::new(ssh), &listener);
    let handle = running.handle();
    tokio::spawn(async move {
        stop.cancelled().await;
        handle.shutdown("the web node is stopping".into());
    });
    running.await
}

struct TsaServer {
    config: Arc<TsaConfig>,
    store: Store,
    stop: CancellationToken,
}

impl russh::server::Server for TsaServer {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection {
            config: self.config.clone(),
            store: self.store.clone(),
            peer,
            key_team: None,
            forwards: Forwards::default(),
            commands: HashMap::new(),
            ended: self.stop.child_token(),
        }
    }

    fn handle_session_error(&mut self, error: <Connection as russh::server::Handler>::Error) {
        tracing::debug!(error = %error, "a TSA connection failed");
    }
}

/// A command being received on a channel.
struct Pending {
    command: Option<Command>,
    stdin: Vec<u8>,
    cancel: CancellationToken,
}

/// One worker's SSH connection.
pub(crate) struct Connection {
    config: Arc<TsaConfig>,
    store: Store,
    peer: Option<SocketAddr>,
    key_team: Option<String>,
    forwards: Forwards,
    commands: HashMap<ChannelId, Pending>,
    /// Cancelled when the connection ends: stops its forwards and commands.
    ended: CancellationToken,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.ended.cancel();
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if contains(&self.config.authorized_keys, key.public_key) {
            self.key_team = None;
            return Ok(Auth::Accept);
        }
        for (team, keys) in &self.config.team_keys {
            if contains(keys, key.public_key) {
                self.key_team = Some(team.clone());
                return Ok(Auth::Accept);
            }
        }
        tracing::warn!(peer = ?self.peer, "TSA refused an unknown key");
        Ok(Auth::reject())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.commands.insert(
            channel.id(),
            Pending {
                command: None,
                stdin: Vec::new(),
                cancel: self.ended.child_token(),
            },
        );
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let line = String::from_utf8_lossy(data).into_owned();
        match (Command::parse(&line), self.commands.get_mut(&channel)) {
            (Ok(command), Some(pending)) => {
                pending.command = Some(command);
                session.channel_success(channel)?;
            }
            (Err(message), _) => {
                session.extended_data(channel, 1, format!("{message}\n").into_bytes())?;
                session.exit_status_request(channel, 1)?;
                session.channel_failure(channel)?;
                session.close(channel)?;
            }
            (Ok(_), None) => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(pending) = self.commands.get_mut(&channel) {
            if pending.stdin.len() + data.len() > MAX_STDIN {
                session.extended_data(channel, 1, b"stdin too large\n".to_vec())?;
                session.exit_status_request(channel, 1)?;
                session.close(channel)?;
                self.commands.remove(&channel);
                return Ok(());
            }
            pending.stdin.extend_from_slice(data);
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(pending) = self.commands.get_mut(&channel) else {
            return Ok(());
        };
        let Some(command) = pending.command.take() else {
            return Ok(());
        };
        let stdin = std::mem::take(&mut pending.stdin);
        let (output, mut outputs) = mpsc::channel(16);
        let context = CommandContext {
            store: self.store.clone(),
            key_team: self.key_team.clone(),
            forwards: self.forwards.clone(),
            peer_address: self.config.peer_address.clone(),
            output,
            cancel: pending.cancel.clone(),
        };
        let handle = session.handle();
        tokio::spawn(async move {
            let writer = {
                let handle = handle.clone();
                tokio::spawn(async move {
                    while let Some(output) = outputs.recv().await {
                        let _ = match output {
                            Output::Stdout(bytes) => handle.data(channel, bytes).await,
                            Output::Stderr(bytes) => handle.extended_data(channel, 1, bytes).await,
                        };
                    }
                })
            };
            let status = context.run(command, &stdin).await;
            drop(context);
            let _ = writer.await;
            if let Some(status) = status {
                let _ = handle.exit_status_request(channel, status).await;
                let _ = handle.eof(channel).await;
            }
            let _ = handle.close(channel).await;
        });
        Ok(())
    }

    async fn signal(
        &mut self,
        channel: ChannelId,
        _signal: russh::Sig,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(pending) = self.commands.get(&channel) {
            pending.cancel.cancel();
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(pending) = self.commands.remove(&channel) {
            pending.cancel.cancel();
        }
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        if self.forwards.len() >= MAX_FORWARDS {
            return Ok(false);
        }
        // Bound on the peer address only: the web nodes reach the worker there, and nothing
        // on the TSA's own networks (other workers included) can.
        let bind = (self.config.peer_address.as_str(), 0);
        let listener = match tokio::net::TcpListener::bind(bind).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "TSA could not bind a forwarded port");
                return Ok(false);
            }
        };
        let bound = listener.local_addr().map(|addr| addr.port()).unwrap_or(0);
        let requested = format!("{address}:{port}");
        let (address, requested_port) = (address.to_owned(), *port);
        *port = u32::from(bound);
        self.forwards.insert(requested, bound);
        let handle = session.handle();
        let ended = self.ended.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = ended.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut socket, from)) = accepted else {
                    continue;
                };
                let handle = handle.clone();
                let address = address.clone();
                tokio::spawn(async move {
                    let channel = handle
                        .channel_open_forwarded_tcpip(
                            address,
                            requested_port,
                            from.ip().to_string(),
                            u32::from(from.port()),
                        )
                        .await;
                    let Ok(channel) = channel else {
                        return;
                    };
                    let mut stream = channel.into_stream();
                    crate::tuning::splice(&mut socket, &mut stream).await;
                });
            }
        });
        Ok(true)
    }
}
