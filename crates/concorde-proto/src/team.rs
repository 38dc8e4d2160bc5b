//! Teams and their role-based auth documents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::TeamId;

/// A team, as `GET /api/v1/teams` and `GET /api/v1/teams/:team_name` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Its id.
    pub id: TeamId,
    /// Its name, unique ignoring case.
    pub name: String,
    /// Role name (`owner`, `member`, `pipeline-operator`, `viewer`) to who holds it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auth: TeamAuth,
}

/// Role name to members, the body of `PUT /api/v1/teams/:team_name` under `auth`.
pub type TeamAuth = BTreeMap<String, RoleConfig>;

/// Who holds one role: `connector:id` users and `connector:group` groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleConfig {
    /// Users, e.g. `local:admin`.
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups, e.g. `github:org:team`.
    #[serde(default)]
    pub groups: Vec<String>,
}
