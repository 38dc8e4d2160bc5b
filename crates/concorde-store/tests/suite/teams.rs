//! Teams, users, access tokens and components.

use concorde_store::testing::TestStore;
use concorde_store::{AccessToken, StoreError, Timestamp, User};

store_test!(teams_crud, users_and_tokens, components_lifecycle);

async fn teams_crud(db: &TestStore) {
    let store = &db.store;
    let main = store
        .create_team(
            "main",
            true,
            &serde_json::json!({"owner": {"users": ["a"]}}),
        )
        .await
        .unwrap();
    assert!(main.admin);
    let err = store
        .create_team("MAIN", false, &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { kind: "team", .. }),
        "{err}"
    );
    let other = store
        .create_team("other", false, &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(store.team_by_name("Main").await.unwrap().id, main.id);
    let names: Vec<_> = store
        .list_teams()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["main", "other"]);
    let auth = serde_json::json!({"member": {}});
    store.set_team_auth(other.id, &auth).await.unwrap();
    assert_eq!(store.team_by_name("other").await.unwrap().auth, auth);
    store.delete_team(other.id).await.unwrap();
    assert!(matches!(
        store.team_by_name("other").await,
        Err(StoreError::NotFound { kind: "team", .. })
    ));
    assert!(matches!(
        store.delete_team(other.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn users_and_tokens(db: &TestStore) {
    let store = &db.store;
    let user = User {
        sub: "s1".into(),
        username: "ann".into(),
        connector: "local".into(),
        last_login: Timestamp(10),
    };
    store.upsert_user(&user).await.unwrap();
    store
        .upsert_user(&User {
            username: "anne".into(),
            last_login: Timestamp(20),
            ..user.clone()
        })
        .await
        .unwrap();
    let users = store.users_since(Timestamp(15)).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username, "anne");
    assert!(store.users_since(Timestamp(21)).await.unwrap().is_empty());

    let token = AccessToken {
        token: "tok".into(),
        sub: "s1".into(),
        claims: serde_json::json!({"teams": ["main"]}),
        expires_at: Timestamp(100),
    };
    store.create_access_token(&token).await.unwrap();
    assert_eq!(
        stored_tokens(db).await,
        [concorde_config::sha256_hex(b"tok")],
        "the database keeps only the token's digest"
    );
    if db.store.backend_kind() == "sqlite" {
        use std::os::unix::fs::PermissionsExt;
        let file = std::path::Path::new(&db.location).join("concorde.db");
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only the owner reads the database file"
        );
    }
    assert!(matches!(
        store.create_access_token(&token).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store.access_token("tok", Timestamp(50)).await.unwrap(),
        token
    );
    assert!(matches!(
        store.access_token("tok", Timestamp(100)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store
            .delete_expired_access_tokens(Timestamp(99))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_access_tokens(Timestamp(101))
            .await
            .unwrap(),
        1
    );
}

async fn components_lifecycle(db: &TestStore) {
    let store = &db.store;
    let c = store.register_component("scheduler", 10_000).await.unwrap();
    assert_eq!((c.paused, c.last_ran), (false, None));
    store.set_component_paused("scheduler", true).await.unwrap();
    store
        .mark_component_ran("scheduler", Timestamp(5))
        .await
        .unwrap();
    let again = store.register_component("scheduler", 20_000).await.unwrap();
    assert_eq!(
        (again.interval_ms, again.paused, again.last_ran),
        (20_000, true, Some(Timestamp(5)))
    );
    store.register_component("tracker", 1).await.unwrap();
    let names: Vec<_> = store
        .list_components()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["scheduler", "tracker"]);
    assert_eq!(store.component("tracker").await.unwrap().interval_ms, 1);
    assert!(matches!(
        store.component("nope").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.mark_component_ran("nope", Timestamp(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.set_component_paused("nope", true).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The `token` column of every access token row, read past the store.
async fn stored_tokens(db: &TestStore) -> Vec<String> {
    let sql = "SELECT token FROM access_tokens";
    if db.store.backend_kind() == "postgres" {
        let pool = sqlx::PgPool::connect(&db.location).await.unwrap();
        let rows = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let url = format!("sqlite://{}/concorde.db", db.location);
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}
