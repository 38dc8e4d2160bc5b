//! The commands a worker runs over SSH, with Concourse's names and meanings. Each reads the
//! worker's JSON from the channel's stdin; the TSA acts on the store directly (it lives in the
//! web node), checks a team key's team against the worker's for every command, and answers
//! with output and an exit status.

use std::time::Duration;

use concorde_proto::Worker as WorkerJson;
use concorde_store::{
    ContainerHandle, Heartbeat, Store, StoreError, Timestamp, Topic, VolumeHandle, WorkerName,
    WorkerSpec, WorkerState,
};
use concorde_worker::Runtime;
use concorde_worker_http::RemoteRuntime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Default time between heartbeats of a forwarded worker.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

/// A command line a worker sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Register the worker whose service is forwarded at `garden` and keep it alive.
    ForwardWorker {
        garden: String,
        heartbeat: Duration,
    },
    LandWorker,
    RetireWorker,
    DeleteWorker,
    SweepContainers,
    ReportContainers(Vec<String>),
    SweepVolumes,
    ReportVolumes(Vec<String>),
}

impl Command {
    /// Parses an `exec` request; the error is the message the worker sees.
    pub(crate) fn parse(line: &str) -> Result<Command, String> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        let rest: Vec<String> = words.map(str::to_owned).collect();
        match name {
            "forward-worker" => {
                let mut garden = None;
                let mut heartbeat = DEFAULT_HEARTBEAT;
                let mut args = rest.iter();
                while let Some(flag) = args.next() {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("invalid command: {flag} needs a value"))?;
                    match flag.as_str() {
                        "--garden" => garden = Some(value.clone()),
                        "--baggageclaim" => {}
                        "--heartbeat-interval" => {
                            heartbeat = parse_seconds(value).ok_or_else(|| {
                                format!("invalid command: bad heartbeat interval {value:?}")
                            })?;
                        }
                        other => return Err(format!("invalid command: unknown flag {other}")),
                    }
                }
                let garden =
                    garden.ok_or_else(|| "invalid command: --garden is required".to_owned())?;
                Ok(Command::ForwardWorker { garden, heartbeat })
            }
            "land-worker" => Ok(Command::LandWorker),
            "retire-worker" => Ok(Command::RetireWorker),
            "delete-worker" => Ok(Command::DeleteWorker),
            "sweep-containers" => Ok(Command::SweepContainers),
            "report-containers" => Ok(Command::ReportContainers(rest)),
            "sweep-volumes" => Ok(Command::SweepVolumes),
            "report-volumes" => Ok(Command::ReportVolumes(rest)),
            other => Err(format!("invalid command: unknown command: {other}")),
        }
    }
}

/// A positive Go duration (`30s`, `1m30s`).
fn parse_seconds(text: &str) -> Option<Duration> {
    concorde_config::parse_duration(text)
        .ok()
        .filter(|parsed| !parsed.negative && !parsed.magnitude.is_zero())
        .map(|parsed| parsed.magnitude)
}

/// What a command writes back.
#[derive(Debug)]
pub(crate) enum Output {
    /// Bytes for the channel's stdout.
    Stdout(Vec<u8>),
    /// Bytes for the channel's stderr.
    Stderr(Vec<u8>),
}

/// Everything a command may touch.
#[derive(Clone)]
pub(crate) struct CommandContext {
    pub store: Store,
    /// The team the caller's key belongs to; `None` for a global key.
    pub key_team: Option<String>,
    /// Where the connection's forwarded ports are reachable from the web nodes.
    pub forwards: crate::forwards::Forwards,
    pub peer_address: String,
    pub output: mpsc::Sender<Output>,
    pub cancel: CancellationToken,
}

impl CommandContext {
    async fn say(&self, output: Output) {
        let _ = self.output.send(output).await;
    }

    async fn fail(&self, message: impl std::fmt::Display) -> u32 {
        self.say(Output::Stderr(format!("{message}\n").into_bytes()))
            .await;
        1
    }

    /// Runs `command` with the worker JSON `stdin`; returns the exit status, or `None` when
    /// the command was interrupted (the connection or the TSA went away), which a worker takes
    /// for a dropped connection and retries.
    pub(crate) async fn run(&self, command: Command, stdin: &[u8]) -> Option<u32> {
        let status = self.run_to_end(command, stdin).await;
        (!self.cancel.is_cancelled()).then_some(status)
    }

    async fn run_to_end(&self, command: Command, stdin: &[u8]) -> u32 {
        let worker: WorkerJson = match serde_json::from_slice(stdin) {
            Ok(worker) => worker,
            Err(err) => return self.fail(format!("invalid worker JSON: {err}")).await,
        };
        if let Err(message) = self.check_team(&worker) {
            return self.fail(message).await;
        }
        let name = WorkerName::new(&worker.name);
        let result = match command {
            Command::ForwardWorker { garden, heartbeat } => {
                return self.forward(worker, &garden, heartbeat).await;
            }
            Command::LandWorker => self.store.land_worker(&name).await.map(|_| Vec::new()),
            Command::RetireWorker => match self.store.retire_worker(&name).await {
                Err(StoreError::NotFound { .. }) => Ok(Vec::new()),
                other => other.map(|_| Vec::new()),
            },
            Command::DeleteWorker => self.store.delete_worker(&name).await.map(|()| Vec::new()),
            Command::SweepContainers => self
                .store
                .containers_to_destroy(&name)
                .await
                .map(|handles| json_list(handles.iter().map(ContainerHandle::as_str))),
            Command::SweepVolumes => self
                .store
                .volumes_to_destroy(&name)
                .await
                .map(|handles| json_list(handles.iter().map(VolumeHandle::as_str))),
            Command::ReportContainers(handles) => {
                let handles: Vec<ContainerHandle> = handles
                    .iter()
                    .map(|h| ContainerHandle::new(h.as_str()))
                    .collect();
                self.store
                    .report_containers(&name, &handles, Timestamp::now())
                    .await
                    .map(|_| Vec::new())
            }
            Command::ReportVolumes(handles) => {
                let handles: Vec<VolumeHandle> = handles
                    .iter()
                    .map(|h| VolumeHandle::new(h.as_str()))
                    .collect();
                self.store
                    .report_volumes(&name, &handles, Timestamp::now())
                    .await
                    .map(|_| Vec::new())
            }
        };
        match result {
            Ok(stdout) => {
                if !stdout.is_empty() {
                    self.say(Output::Stdout(stdout)).await;
                }
                0
            }
            Err(err) => self.fail(err).await,
        }
    }

    /// A team key acts only on its own team's workers.
    fn check_team(&self, worker: &WorkerJson) -> Result<(), String> {
        match &self.key_team {
            None => Ok(()),
            Some(team) if worker.team.is_empty() => Err(format!(
                "key is authorized for team {team}, but worker is global"
            )),
            Some(team) if !worker.team.eq_ignore_ascii_case(team) => Err(format!(
                "key is authorized for team {team}, but worker belongs to team {}",
                worker.team
            )),
            Some(_) => Ok(()),
        }
    }

    /// `forward-worker`: registers the worker at the forwarded address and heartbeats it until
    /// the connection ends, the worker lands, or someone deletes it.
    async fn forward(&self, worker: WorkerJson, garden: &str, interval: Duration) -> u32 {
        let Some(port) = self
            .forwards
            .wait_for(garden, Duration::from_secs(10))
            .await
        else {
            return self
                .fail(format!("garden address ({garden}) not forwarded"))
                .await;
        };
        let address = format!("{}:{port}", self.peer_address);
        let service = RemoteRuntime::new(&address);
        let team = match worker.team.as_str() {
            "" => None,
            name => match self.store.team_by_name(name).await {
                Ok(team) => Some(team.id),
                Err(err) => return self.fail(err).await,
            },
        };
        let ttl = interval * 2;
        let spec = WorkerSpec {
            name: WorkerName::new(&worker.name),
            addr: Some(address.clone()),
            baggageclaim_url: Some(format!("http://{address}")),
            team,
            platform: worker.platform.clone(),
            tags: worker.tags.clone(),
            resource_types: worker.resource_types.clone(),
            version: worker.version.clone(),
            ephemeral: worker.ephemeral,
            start_time: Timestamp(worker.start_time * 1000),
            active_containers: 0,
            active_volumes: 0,
            state: None,
        };
        // Registration waits until the worker's service answers through the tunnel.
        let registered_counts = loop {
            match counts(&service).await {
                Ok(found) => break found,
                Err(err) => {
                    tracing::debug!(worker = %worker.name, error = %err, "worker not answering yet");
                    tokio::select! {
                        () = self.cancel.cancelled() => return 0,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        let spec = WorkerSpec {
            active_containers: registered_counts.0,
            active_volumes: registered_counts.1,
            ..spec
        };
        if let Err(err) = self
            .store
            .register_worker(&spec, Some(ttl), Timestamp::now())
            .await
        {
            return self.fail(err).await;
        }
        tracing::info!(worker = %worker.name, %address, "worker registered");
        // Checks that found no worker wait for one: wake the checkers.
        if let Err(err) = self.store.notify(Topic::CheckRequested, "").await {
            tracing::warn!(error = %err, "could not wake the checkers");
        }
        self.say(Output::Stdout(b"{\"event\":\"registered\"}\n".to_vec()))
            .await;
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return 0,
                () = tokio::time::sleep(interval) => {}
            }
            let (containers, volumes) = match counts(&service).await {
                Ok(counts) => counts,
                Err(err) => {
                    tracing::warn!(worker = %worker.name, error = %err, "worker did not answer its heartbeat");
                    continue;
                }
            };
            let beat = Heartbeat {
                ttl: Some(ttl),
                active_containers: containers,
                active_volumes: volumes,
                now: Timestamp::now(),
            };
            match self.store.heartbeat_worker(&spec.name, &beat).await {
                Ok(saved) if saved.state == WorkerState::Landed => {
                    tracing::info!(worker = %worker.name, "worker landed");
                    return 0;
                }
                Ok(_) => {
                    self.say(Output::Stdout(b"{\"event\":\"heartbeated\"}\n".to_vec()))
                        .await;
                }
                Err(StoreError::NotFound { .. }) => return 0,
                Err(err) => {
                    tracing::warn!(worker = %worker.name, error = %err, "could not save a heartbeat");
                }
            }
        }
    }
}

async fn counts(service: &RemoteRuntime) -> Result<(i64, i64), concorde_worker::WorkerError> {
    let containers = service.list_containers().await?.len();
    let volumes = service.list_volumes().await?.len();
    Ok((
        i64::try_from(containers).unwrap_or(i64::MAX),
        i64::try_from(volumes).unwrap_or(i64::MAX),
    ))
}

fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let list: Vec<&str> = items.collect();
    let mut bytes = serde_json::to_vec(&list).unwrap_or_else(|_| b"[]".to_vec());
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_as_concourse_names_them() {
        assert_eq!(
            Command::parse("forward-worker --garden 0.0.0.0:7777 --baggageclaim 0.0.0.0:7788"),
            Ok(Command::ForwardWorker {
                garden: "0.0.0.0:7777".to_owned(),
                heartbeat: DEFAULT_HEARTBEAT
            })
        );
        assert_eq!(
            Command::parse("forward-worker --garden a:1 --heartbeat-interval 1m30s"),
            Ok(Command::ForwardWorker {
                garden: "a:1".to_owned(),
                heartbeat: Duration::from_secs(90)
            })
        );
        assert_eq!(
            Command::parse("report-volumes a b"),
            Ok(Command::ReportVolumes(vec!["a".to_owned(), "b".to_owned()]))
        );
        assert_eq!(
            Command::parse("rm -rf /"),
            Err("invalid command: unknown command: rm".to_owned())
        );
        assert!(Command::parse("forward-worker").is_err());
        assert!(Command::parse("forward-worker --garden x --heartbeat-interval soon").is_err());
    }
}
