//! Newtype ids, one per kind of row, so a job id is never passed where a build id is expected.
//! On the wire and in the database each is a plain integer.

use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }
    )*};
}

id_type!(
    /// A team.
    TeamId,
    /// A pipeline (one instance of an instanced pipeline).
    PipelineId,
    /// A job of a pipeline. The resolver tries passed jobs in ascending id order.
    JobId,
    /// A resource of a pipeline. A build's outputs are scanned in ascending resource id order.
    ResourceId,
    /// A resource type of a pipeline.
    ResourceTypeId,
    /// A resource config: a type plus a source digest.
    ResourceConfigId,
    /// A resource config scope: the version history one or more resources read.
    ScopeId,
    /// A resource version (`resource_config_versions.id`), as in `.../versions/:id`.
    VersionId,
    /// A build (job build, rerun, one-off, check). Ids grow with creation time.
    BuildId,
    /// A container.
    ContainerId,
    /// A volume.
    VolumeId,
    /// A resource cache (a version fetched with given params).
    ResourceCacheId,
    /// A task cache: one `caches:` path of one task step of one job.
    TaskCacheId,
    /// An artifact: files uploaded by `fly execute`, held in a volume.
    ArtifactId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_integers_on_the_wire_and_in_text() {
        assert_eq!(serde_json::to_string(&BuildId(42)).unwrap(), "42");
        assert_eq!(serde_json::from_str::<JobId>("7").unwrap(), JobId(7));
        assert_eq!("12".parse::<PipelineId>().unwrap(), PipelineId(12));
        assert!("x".parse::<TeamId>().is_err());
        assert_eq!(ScopeId(3).to_string(), "3");
    }
}
