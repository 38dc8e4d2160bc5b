//! login, logout, targets and status against a fake API server, and the targets file round trip.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use base64::Engine as _;
use common::{Env, Reply, Server};
use serde_json::json;

/// An opaque token as the server makes them: 20 random bytes then the LE expiry.
fn token_expiring_at(seconds: u64) -> String {
    let mut bytes = vec![7u8; 20];
    bytes.extend(seconds.to_le_bytes());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

#[test]
fn login_uses_the_password_grant_and_saves_the_target() {
    let server = Server::start();
    server.route(
        "POST",
        "/sky/issuer/token",
        Reply::json(
            200,
            json!({"access_token": "abc123", "token_type": "bearer", "expires_in": 86400}),
        ),
    );
    let env = Env::new();
    let out = env.run(&[
        "-t",
        "ci",
        "login",
        "-c",
        &format!("{}/", server.url),
        "-u",
        "admin",
        "-p",
        "s3cret",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "logging in to team 'main'\n\n\ntarget saved\n");

    let request = &server.find("POST", "/sky/issuer/token")[0];
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.header("authorization"), Some("Basic Zmx5OlpteDU="));
    assert_eq!(
        request.body_text(),
        "grant_type=password&username=admin&password=s3cret&scope=openid%20profile%20email%20federated%3Aid%20groups"
    );
    let saved = env.read_targets();
    assert!(saved.contains(&format!("api: {}\n", server.url)), "{saved}");
    assert!(saved.contains("team: main"), "{saved}");
    assert!(
        saved.contains("type: bearer") && saved.contains("value: abc123"),
        "{saved}"
    );
    // Keys come out sorted, as fly writes them.
    let keys: Vec<&str> = saved
        .lines()
        .map(str::trim)
        .filter_map(|line| line.split(':').next())
        .collect();
    let api = keys.iter().position(|key| *key == "api").unwrap();
    let team = keys.iter().position(|key| *key == "team").unwrap();
    let token = keys.iter().position(|key| *key == "token").unwrap();
    assert!(api < team && team < token, "{saved}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(env.home.path().join(".concorderc"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The saved token is sent as a bearer token by later commands.
    server.route("GET", "/api/v1/user", Reply::json(200, json!({"sub": "x", "name": "admin", "user_id": "admin", "user_name": "admin", "email": "", "is_admin": true, "is_system": false, "teams": {"main": ["owner"]}, "connector": "local", "display_user_id": "admin"})));
    let status = env.run(&["-t", "ci", "status"]);
    assert_eq!(
        (status.code, status.stdout.as_str()),
        (0, "logged in successfully\n")
    );
    assert_eq!(
        server.find("GET", "/api/v1/user")[0].header("authorization"),
        Some("bearer abc123")
    );
}

#[test]
fn login_with_a_team_and_bad_credentials_fails() {
    let server = Server::start();
    server.route(
        "POST",
        "/sky/issuer/token",
        Reply::json(401, json!({"error": "invalid_grant"})),
    );
    let env = Env::new();
    let out = env.run(&[
        "-t",
        "ci",
        "login",
        "-c",
        &server.url,
        "-n",
        "dev",
        "-u",
        "admin",
        "-p",
        "wrong",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "logging in to team 'dev'\n\n");
    assert_eq!(
        out.stderr,
        "error: oauth2: cannot fetch token: 401 Unauthorized\n"
    );
    assert!(!env.home.path().join(".concorderc").exists());
}

#[test]
fn login_without_a_target_name_fails() {
    let out = Env::new().run(&["login", "-c", "http://example.invalid"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: name for the target must be specified (--target/-t)\n"
    );
}

#[test]
fn login_accepts_a_pasted_token_and_reuses_the_saved_url() {
    let env = Env::with_target("http://127.0.0.1:9");
    let out = env.run_with_input(&["-t", "ci", "login"], "nonsense\nbearer pasted\n");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains(
        "navigate to the following URL in your browser:\n\n  http://127.0.0.1:9/login\n"
    ));
    assert!(
        out.stdout
            .contains("token must be of the format 'TYPE VALUE', e.g. 'Bearer ...'")
    );
    assert!(out.stdout.ends_with("target saved\n"));
    assert!(env.read_targets().contains("value: pasted"));
}

#[test]
fn targets_lists_sorted_with_decoded_expiry() {
    let env = Env::new();
    env.write_targets(&format!(
        "targets:\n  zz:\n    api: http://z\n    team: ''\n  ci:\n    api: http://ci.example.com\n    team: dev\n    token:\n      type: bearer\n      value: {}\n  bad:\n    api: http://b\n    team: main\n    token:\n      type: bearer\n      value: notbase64!!\n",
        token_expiring_at(1_136_214_245)
    ));
    let out = env.run(&["targets"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        "bad  http://b               main  n/a: invalid token           \n\
         ci   http://ci.example.com  dev   Mon, 02 Jan 2006 15:04:05 UTC\n\
         zz   http://z               main  n/a                          \n"
    );
    let mut tty = Env::new();
    tty.tty = true;
    tty.write_targets("targets:\n  a:\n    api: http://a\n    team: main\n");
    let out = tty.run(&["ts"]);
    assert_eq!(
        out.stdout,
        "\x1b[1mname\x1b[0m  \x1b[1murl\x1b[0m       \x1b[1mteam\x1b[0m  \x1b[1mexpiry\x1b[0m\na     http://a  main  n/a   \n"
    );
    let headers = Env::new();
    headers.write_targets("targets:\n  a:\n    api: http://a\n    team: main\n");
    assert_eq!(
        headers.run(&["--print-table-headers", "targets"]).stdout,
        "name  url       team  expiry\na     http://a  main  n/a   \n"
    );
}

#[test]
fn logout_revokes_and_blanks_the_token() {
    let server = Server::start();
    server.route("GET", "/sky/logout", Reply::empty(200));
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "logout"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "logged out of target: ci\n")
    );
    assert_eq!(
        server.find("GET", "/sky/logout")[0].header("cookie"),
        Some("skymarshal_auth=bearer TOKEN")
    );
    let saved = env.read_targets();
    assert!(saved.contains(&format!("api: {}", server.url)), "{saved}");
    assert!(!saved.contains("TOKEN"), "{saved}");
    let status = env.run(&["-t", "ci", "status"]);
    assert_eq!((status.code, status.stderr.as_str()), (1, "logged out\n"));

    let both = env.run(&["-t", "ci", "logout", "-a"]);
    assert_eq!(
        both.stderr,
        "error: must specify either --target or --all\n"
    );
    let all = env.run(&["logout", "-a"]);
    assert_eq!(
        (all.code, all.stdout.as_str()),
        (0, "logged out of all targets\n")
    );
}

#[test]
fn session_errors_read_as_fly_prints_them() {
    let server = Server::start();
    server.route("GET", "/api/v1/teams/main/pipelines", Reply::empty(401));
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "pipelines"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "not authorized. run the following to log in:\n\n    concorde -t ci login\n"
    );

    let none = env.run(&["pipelines"]);
    assert_eq!(
        none.stderr,
        "no target specified. specify the target with -t or log in like so:\n\n    concorde -t (alias) login -c (concorde url)\n"
    );
    let unknown = env.run(&["-t", "nope", "pipelines"]);
    assert_eq!(unknown.stderr, "error: unknown target: nope\n");

    // Nothing listens on a port we bound and closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let offline = Env::with_target(&format!("http://{closed}"));
    let out = offline.run(&["-t", "ci", "pipelines"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("could not reach the Concorde server called ci:\n\n    "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with("\n\nis the targeted Concorde running? better go catch it lol\n"),
        "{}",
        out.stderr
    );

    let status = Env::with_target(&server.url).run(&["-t", "ci", "status"]);
    assert_eq!(status.code, 1);
    assert!(
        status
            .stderr
            .starts_with("please login again.\n\ntoken validation failed with error: "),
        "{}",
        status.stderr
    );
}

#[test]
fn curl_calls_the_api_with_the_targets_token() {
    let server = Server::start();
    server.route(
        "GET",
        "/api/v1/info",
        Reply::json(200, json!({"version": "7.14.0"})),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "curl", "/api/v1/info", "--", "-s"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, r#"{"version":"7.14.0"}"#)
    );
    let asked = &server.find("GET", "/api/v1/info")[0];
    assert_eq!(asked.header("authorization"), Some("bearer TOKEN"));
    let printed = env.run(&["-t", "ci", "curl", "--print-and-exit", "api/v1/info"]);
    assert!(
        printed
            .stdout
            .starts_with("curl -H 'Authorization: bearer TOKEN' "),
        "{}",
        printed.stdout
    );
    assert!(
        printed
            .stdout
            .trim_end()
            .ends_with(&format!("{}/api/v1/info", server.url))
    );
}
