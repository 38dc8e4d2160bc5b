//! The kinds of build event, each with the version its payload is written in: the one table
//! the engine writes from, the web node's own events use, and `fly`'s renderer checks against
//! (it accepts an event whose major version it knows, as fly does).

use std::fmt;
use std::str::FromStr;

use crate::UnknownName;

/// A kind of build event (the `event` field of an envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The build started or finished.
    Status,
    /// Output of a step.
    Log,
    /// A step (or the build) errored.
    Error,
    /// A generic step initializes.
    Initialize,
    /// A generic step starts.
    Start,
    /// A generic step finishes.
    Finish,
    /// A check step initializes.
    InitializeCheck,
    /// A get step initializes.
    InitializeGet,
    /// A get step starts fetching.
    StartGet,
    /// A get step finished, with the version fetched.
    FinishGet,
    /// A put step initializes.
    InitializePut,
    /// A put step starts pushing.
    StartPut,
    /// A put step finished, with the version produced.
    FinishPut,
    /// A task step initializes, with its config.
    InitializeTask,
    /// A task step starts its process.
    StartTask,
    /// A task step finished, with its exit status.
    FinishTask,
    /// A step waits for a worker.
    WaitingForWorker,
    /// A step picked its worker.
    SelectedWorker,
    /// A volume is streamed between workers.
    StreamingVolume,
    /// A step waits for a volume being streamed.
    WaitingForStreamedVolume,
    /// A task image's check.
    ImageCheck,
    /// A task image's get.
    ImageGet,
    /// A `set_pipeline` step says whether the config changed.
    SetPipelineChanged,
    /// An `across` step lists its substeps.
    AcrossSubsteps,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 24] = [
        EventKind::Status,
        EventKind::Log,
        EventKind::Error,
        EventKind::Initialize,
        EventKind::Start,
        EventKind::Finish,
        EventKind::InitializeCheck,
        EventKind::InitializeGet,
        EventKind::StartGet,
        EventKind::FinishGet,
        EventKind::InitializePut,
        EventKind::StartPut,
        EventKind::FinishPut,
        EventKind::InitializeTask,
        EventKind::StartTask,
        EventKind::FinishTask,
        EventKind::WaitingForWorker,
        EventKind::SelectedWorker,
        EventKind::StreamingVolume,
        EventKind::WaitingForStreamedVolume,
        EventKind::ImageCheck,
        EventKind::ImageGet,
        EventKind::SetPipelineChanged,
        EventKind::AcrossSubsteps,
    ];

    /// The `event` field's text.
    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// The `version` field: the version of the payload's shape that we write.
    pub fn version(self) -> &'static str {
        self.row().1
    }

    /// The major part of [`EventKind::version`]: a reader understands every version with the
    /// same major.
    pub fn major(self) -> &'static str {
        let version = self.version();
        version.split_once('.').map_or(version, |(major, _)| major)
    }

    fn row(self) -> (&'static str, &'static str) {
        match self {
            EventKind::Status => ("status", "1.0"),
            EventKind::Log => ("log", "5.1"),
            EventKind::Error => ("error", "4.1"),
            EventKind::Initialize => ("initialize", "1.0"),
            EventKind::Start => ("start", "1.0"),
            EventKind::Finish => ("finish", "1.0"),
            EventKind::InitializeCheck => ("initialize-check", "1.0"),
            EventKind::InitializeGet => ("initialize-get", "2.0"),
            EventKind::StartGet => ("start-get", "1.0"),
            EventKind::FinishGet => ("finish-get", "5.1"),
            EventKind::InitializePut => ("initialize-put", "2.0"),
            EventKind::StartPut => ("start-put", "1.0"),
            EventKind::FinishPut => ("finish-put", "5.1"),
            EventKind::InitializeTask => ("initialize-task", "4.0"),
            EventKind::StartTask => ("start-task", "5.0"),
            EventKind::FinishTask => ("finish-task", "4.0"),
            EventKind::WaitingForWorker => ("waiting-for-worker", "1.0"),
            EventKind::SelectedWorker => ("selected-worker", "1.0"),
            EventKind::StreamingVolume => ("streaming-volume", "1.0"),
            EventKind::WaitingForStreamedVolume => ("waiting-for-streamed-volume", "1.0"),
            EventKind::ImageCheck => ("image-check", "1.0"),
            EventKind::ImageGet => ("image-get", "1.0"),
            EventKind::SetPipelineChanged => ("set-pipeline-changed", "1.0"),
            EventKind::AcrossSubsteps => ("across-substeps", "1.0"),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EventKind {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| UnknownName {
                what: "event type",
                text: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name_and_has_a_major_version() {
        for kind in EventKind::ALL {
            assert_eq!(kind.name().parse::<EventKind>(), Ok(kind));
            assert!(kind.version().starts_with(kind.major()), "{kind}");
            assert!(kind.major().parse::<u32>().is_ok(), "{kind}");
        }
        assert_eq!(EventKind::Log.major(), "5");
        assert!("end".parse::<EventKind>().is_err());
    }
}
