//! Teams, users (people who logged in) and API access tokens.

use crate::error::{StoreError, StoreResult, unique_to_exists};
use crate::ids::{TeamId, Timestamp};
use crate::json_column::JsonColumn;
use crate::{Store, with_db};

/// A team: the unit of ownership and access.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    /// Its id.
    pub id: TeamId,
    /// Its name; unique ignoring case.
    pub name: String,
    /// Whether members are administrators of the whole installation (the `main` team).
    pub admin: bool,
    /// Role-to-members document, `{role: {users: [], groups: []}}`.
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub auth: serde_json::Value,
}

/// Someone who logged in through a connector.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// The identity provider's subject, unique.
    pub sub: String,
    /// Display name.
    pub username: String,
    /// Which connector authenticated them (`local`, `github`, ...).
    pub connector: String,
    /// When they last logged in.
    pub last_login: Timestamp,
}

/// A bearer token handed to a client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessToken {
    /// The opaque token string (stored only as its SHA-256).
    pub token: String,
    /// Whose token it is.
    pub sub: String,
    /// Claims (teams, roles, ...).
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub claims: serde_json::Value,
    /// When it stops being valid.
    pub expires_at: Timestamp,
}

const TEAM_COLUMNS: &str = "id, name, admin, auth";

impl Store {
    /// Creates a team; `AlreadyExists` if the name is taken, ignoring case.
    pub async fn create_team(
        &self,
        name: &str,
        admin: bool,
        auth: &serde_json::Value,
    ) -> StoreResult<Team> {
        let auth = auth.to_string();
        with_db!(self, |pool, pg| {
            let sql = format!(
                "INSERT INTO teams (name, admin, auth) VALUES ($1, $2, $3) RETURNING {TEAM_COLUMNS}"
            );
            let team = sqlx::query_as::<_, Team>(&sql)
                .bind(name)
                .bind(admin)
                .bind(&auth)
                .fetch_one(pool)
                .await
                .map_err(unique_to_exists("team", name))?;
            Ok(team)
        })
    }

    /// The team with this name (ignoring case).
    pub async fn team_by_name(&self, name: &str) -> StoreResult<Team> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {TEAM_COLUMNS} FROM teams WHERE lower(name) = lower($1)");
            sqlx::query_as::<_, Team>(&sql)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("team", name))
        })
    }

    /// Every team, by name.
    pub async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY name");
            Ok(sqlx::query_as::<_, Team>(&sql).fetch_all(pool).await?)
        })
    }

    /// Replaces a team's auth document.
    pub async fn set_team_auth(&self, team: TeamId, auth: &serde_json::Value) -> StoreResult<()> {
        let auth = auth.to_string();
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE teams SET auth = $1 WHERE id = $2")
                .bind(&auth)
                .bind(team)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "team", team)
        })
    }

    /// Deletes a team and everything it owns (pipelines, builds, team workers).
    pub async fn delete_team(&self, team: TeamId) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("DELETE FROM teams WHERE id = $1")
                .bind(team)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "team", team)
        })
    }

    /// Records a login: creates the user or refreshes name and last login.
    pub async fn upsert_user(&self, user: &User) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            sqlx::query(
                "INSERT INTO users (sub, username, connector, last_login) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (sub) DO UPDATE SET username = excluded.username,
                   connector = excluded.connector, last_login = excluded.last_login",
            )
            .bind(&user.sub)
            .bind(&user.username)
            .bind(&user.connector)
            .bind(user.last_login)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Users who logged in at or after `since`, most recent first.
    pub async fn users_since(&self, since: Timestamp) -> StoreResult<Vec<User>> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_as::<_, User>(
                "SELECT sub, username, connector, last_login FROM users
                 WHERE last_login >= $1 ORDER BY last_login DESC, sub",
            )
            .bind(since)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Stores a new access token.
    pub async fn create_access_token(&self, token: &AccessToken) -> StoreResult<()> {
        let claims = token.claims.to_string();
        let digest = token_digest(&token.token);
        with_db!(self, |pool, pg| {
            sqlx::query("INSERT INTO access_tokens (token, sub, claims, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(&digest)
                .bind(&token.sub)
                .bind(&claims)
                .bind(token.expires_at)
                .execute(pool)
                .await
                .map_err(unique_to_exists("access token", "<redacted>"))?;
            Ok(())
        })
    }

    /// Looks a token up; expired tokens are `NotFound`.
    pub async fn access_token(&self, token: &str, now: Timestamp) -> StoreResult<AccessToken> {
        let digest = token_digest(token);
        let mut found = with_db!(self, |pool, pg| {
            sqlx::query_as::<_, AccessToken>(
                "SELECT token, sub, claims, expires_at FROM access_tokens
                 WHERE token = $1 AND expires_at > $2",
            )
            .bind(&digest)
            .bind(now)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| StoreError::not_found("access token", "<redacted>"))?
        });
        found.token = token.to_owned();
        Ok(found)
    }

    /// Deletes tokens that expired before `before`; returns how many.
    pub async fn delete_expired_access_tokens(&self, before: Timestamp) -> StoreResult<u64> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("DELETE FROM access_tokens WHERE expires_at < $1")
                .bind(before)
                .execute(pool)
                .await?;
            Ok(res.rows_affected())
        })
    }
}

/// What the database keeps of a bearer token: its SHA-256, so a copy of the database (or a
/// backup) hands out no working token.
fn token_digest(token: &str) -> String {
    concorde_config::sha256_hex(token.as_bytes())
}

/// Turns "no row changed" into `NotFound`.
pub(crate) fn expect_one(
    rows: u64,
    kind: &'static str,
    id: impl std::fmt::Display,
) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::not_found(kind, id))
    } else {
        Ok(())
    }
}
