//! Where a build is in its life: `pending → started → succeeded|failed|errored|aborted`, and
//! `pending → aborted`. The same spelling in the database, the API and event payloads.

use std::fmt;
use std::str::FromStr;

use crate::UnknownName;

/// Where a build is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    /// Created, waiting for inputs and a free slot.
    Pending,
    /// Running.
    Started,
    /// Finished: every step passed.
    Succeeded,
    /// Finished: a step failed.
    Failed,
    /// Finished: Concorde or a worker broke.
    Errored,
    /// Finished: someone aborted it.
    Aborted,
}

impl BuildStatus {
    /// Every status, in life order.
    pub const ALL: [BuildStatus; 6] = [
        BuildStatus::Pending,
        BuildStatus::Started,
        BuildStatus::Succeeded,
        BuildStatus::Failed,
        BuildStatus::Errored,
        BuildStatus::Aborted,
    ];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Pending => "pending",
            BuildStatus::Started => "started",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
            BuildStatus::Errored => "errored",
            BuildStatus::Aborted => "aborted",
        }
    }

    /// Whether the build has finished.
    pub fn is_finished(self) -> bool {
        !matches!(self, BuildStatus::Pending | BuildStatus::Started)
    }
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BuildStatus {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        BuildStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownName {
                what: "build status",
                text: text.to_owned(),
            })
    }
}

impl TryFrom<String> for BuildStatus {
    type Error = UnknownName;
    fn try_from(text: String) -> Result<Self, UnknownName> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_spelling() {
        for status in BuildStatus::ALL {
            assert_eq!(status.as_str().parse::<BuildStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
        }
        let err = "done".parse::<BuildStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown build status: \"done\"");
    }
}
