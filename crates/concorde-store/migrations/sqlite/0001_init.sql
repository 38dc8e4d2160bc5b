-- Concorde schema, version 1 (SQLite). Forward-only: never edit after merge; add 0002_*.sql.
-- Timestamps are BIGINT milliseconds since the Unix epoch; JSON documents are TEXT.

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) > 0),
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    auth TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX teams_lower_name ON teams (lower(name));

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    connector TEXT NOT NULL,
    last_login BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    token TEXT PRIMARY KEY,
    sub TEXT NOT NULL,
    claims TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE pipelines (
    id INTEGER PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) > 0),
    instance_vars TEXT,
    instance_key TEXT NOT NULL,
    config TEXT NOT NULL,
    config_version BIGINT NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    paused_by TEXT,
    paused_at BIGINT,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    ordering BIGINT NOT NULL,
    last_updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX pipelines_identity ON pipelines (team_id, name, instance_key);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    build_number_seq BIGINT NOT NULL DEFAULT 0,
    schedule_requested BIGINT NOT NULL DEFAULT 0,
    last_scheduled BIGINT NOT NULL DEFAULT 0,
    latest_completed_build_id BIGINT,
    next_build_id BIGINT,
    first_logged_build_id BIGINT NOT NULL DEFAULT 0,
    UNIQUE (pipeline_id, name)
);
CREATE INDEX jobs_schedule ON jobs (schedule_requested, last_scheduled) WHERE active;

CREATE TABLE base_resource_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE resource_configs (
    id INTEGER PRIMARY KEY,
    base_resource_type_id BIGINT REFERENCES base_resource_types (id) ON DELETE CASCADE,
    resource_cache_id BIGINT,
    source_hash TEXT NOT NULL,
    last_referenced BIGINT NOT NULL,
    CHECK ((base_resource_type_id IS NULL) <> (resource_cache_id IS NULL))
);
CREATE UNIQUE INDEX resource_configs_base ON resource_configs (base_resource_type_id, source_hash)
    WHERE base_resource_type_id IS NOT NULL;
CREATE UNIQUE INDEX resource_configs_cache ON resource_configs (resource_cache_id, source_hash)
    WHERE resource_cache_id IS NOT NULL;

CREATE TABLE resources (
    id INTEGER PRIMARY KEY,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    config TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    check_every TEXT,
    resource_config_id BIGINT REFERENCES resource_configs (id) ON DELETE SET NULL,
    scope_id BIGINT,
    last_check_start BIGINT,
    last_check_end BIGINT,
    last_check_error TEXT,
    api_pinned_version TEXT,
    pin_comment TEXT,
    config_pinned_version TEXT,
    UNIQUE (pipeline_id, name)
);

CREATE TABLE resource_types (
    id INTEGER PRIMARY KEY,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    config TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    check_every TEXT,
    resource_config_id BIGINT REFERENCES resource_configs (id) ON DELETE SET NULL,
    scope_id BIGINT,
    last_check_start BIGINT,
    last_check_end BIGINT,
    last_check_error TEXT,
    UNIQUE (pipeline_id, name)
);

CREATE TABLE resource_config_scopes (
    id INTEGER PRIMARY KEY,
    resource_config_id BIGINT NOT NULL REFERENCES resource_configs (id) ON DELETE CASCADE,
    resource_id BIGINT REFERENCES resources (id) ON DELETE CASCADE,
    last_check_start BIGINT,
    last_check_end BIGINT,
    last_check_succeeded BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX scopes_per_resource ON resource_config_scopes (resource_id, resource_config_id)
    WHERE resource_id IS NOT NULL;
CREATE UNIQUE INDEX scopes_shared ON resource_config_scopes (resource_config_id)
    WHERE resource_id IS NULL;

CREATE TABLE resource_config_versions (
    id INTEGER PRIMARY KEY,
    scope_id BIGINT NOT NULL REFERENCES resource_config_scopes (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    version_digest TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT 'null',
    check_order BIGINT NOT NULL,
    UNIQUE (scope_id, version_digest)
);
CREATE INDEX versions_by_order ON resource_config_versions (scope_id, check_order DESC);

CREATE TABLE job_inputs (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    resource_id BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    passed_job_id BIGINT REFERENCES jobs (id) ON DELETE CASCADE,
    is_trigger BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX job_inputs_job ON job_inputs (job_id);
CREATE INDEX job_inputs_resource ON job_inputs (resource_id);
CREATE INDEX job_inputs_passed ON job_inputs (passed_job_id);

CREATE TABLE disabled_versions (
    resource_id BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    version_digest TEXT NOT NULL,
    PRIMARY KEY (resource_id, version_digest)
);

CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'started', 'succeeded', 'failed', 'errored', 'aborted')),
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    pipeline_id BIGINT REFERENCES pipelines (id) ON DELETE CASCADE,
    job_id BIGINT REFERENCES jobs (id) ON DELETE CASCADE,
    plan TEXT,
    manually_triggered BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT,
    rerun_of BIGINT REFERENCES builds (id) ON DELETE CASCADE,
    rerun_number BIGINT NOT NULL DEFAULT 0,
    aborted BOOLEAN NOT NULL DEFAULT FALSE,
    completed BOOLEAN NOT NULL DEFAULT FALSE,
    logs_reaped BOOLEAN NOT NULL DEFAULT FALSE,
    create_time BIGINT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    UNIQUE (job_id, name)
);
CREATE INDEX builds_job ON builds (job_id, id DESC);
CREATE INDEX builds_pending ON builds (job_id, id) WHERE status = 'pending';
CREATE INDEX builds_rerun_of ON builds (rerun_of) WHERE rerun_of IS NOT NULL;
CREATE INDEX builds_running ON builds (id) WHERE status = 'started';

CREATE TABLE build_inputs (
    build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    job_id BIGINT,
    resource_id BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    version_digest TEXT NOT NULL,
    name TEXT NOT NULL,
    first_occurrence BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (build_id, name, resource_id, version_digest)
);
CREATE INDEX build_inputs_job_version ON build_inputs (job_id, resource_id, version_digest);

CREATE TABLE build_outputs (
    build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    job_id BIGINT,
    resource_id BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    version_digest TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (build_id, name, resource_id, version_digest)
);
CREATE INDEX build_outputs_job_version ON build_outputs (job_id, resource_id, version_digest);

CREATE TABLE build_pipes (
    from_build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    to_build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    PRIMARY KEY (to_build_id, from_build_id)
);

CREATE TABLE next_build_inputs (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    input_name TEXT NOT NULL,
    resource_id BIGINT REFERENCES resources (id) ON DELETE CASCADE,
    version_digest TEXT,
    first_occurrence BOOLEAN NOT NULL DEFAULT FALSE,
    passed_build_ids TEXT NOT NULL DEFAULT '[]',
    resolve_error TEXT,
    PRIMARY KEY (job_id, input_name)
);

CREATE TABLE build_event_chunks (
    build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    first_event_id BIGINT NOT NULL,
    last_event_id BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (build_id, first_event_id)
);

CREATE TABLE components (
    name TEXT PRIMARY KEY,
    interval_ms BIGINT NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    last_ran BIGINT
);

CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    addr TEXT,
    baggageclaim_url TEXT,
    state TEXT NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'stalled', 'landing', 'landed', 'retiring')),
    expires BIGINT,
    team_id BIGINT REFERENCES teams (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    resource_types TEXT NOT NULL DEFAULT '[]',
    version TEXT NOT NULL DEFAULT '',
    ephemeral BOOLEAN NOT NULL DEFAULT FALSE,
    start_time BIGINT NOT NULL,
    active_containers BIGINT NOT NULL DEFAULT 0,
    active_volumes BIGINT NOT NULL DEFAULT 0,
    active_tasks BIGINT NOT NULL DEFAULT 0 CHECK (active_tasks >= 0)
);

CREATE TABLE resource_caches (
    id INTEGER PRIMARY KEY,
    resource_config_id BIGINT NOT NULL REFERENCES resource_configs (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    version_digest TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    metadata TEXT,
    UNIQUE (resource_config_id, version_digest, params_hash)
);

CREATE TABLE resource_cache_uses (
    resource_cache_id BIGINT NOT NULL REFERENCES resource_caches (id) ON DELETE CASCADE,
    build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    PRIMARY KEY (resource_cache_id, build_id)
);

CREATE TABLE containers (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    worker_name TEXT NOT NULL REFERENCES workers (name) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'creating'
        CHECK (state IN ('creating', 'created', 'destroying', 'failed')),
    build_id BIGINT REFERENCES builds (id) ON DELETE SET NULL,
    plan_id TEXT,
    team_id BIGINT REFERENCES teams (id) ON DELETE SET NULL,
    check_scope_id BIGINT REFERENCES resource_config_scopes (id) ON DELETE SET NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    missing_since BIGINT,
    last_hijack BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX containers_worker_state ON containers (worker_name, state);
CREATE INDEX containers_build ON containers (build_id);

CREATE TABLE volumes (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    worker_name TEXT NOT NULL REFERENCES workers (name) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'creating'
        CHECK (state IN ('creating', 'created', 'destroying', 'failed')),
    path TEXT NOT NULL DEFAULT '',
    team_id BIGINT REFERENCES teams (id) ON DELETE SET NULL,
    container_id BIGINT REFERENCES containers (id) ON DELETE SET NULL,
    resource_cache_id BIGINT REFERENCES resource_caches (id) ON DELETE SET NULL,
    parent_id BIGINT,
    parent_state TEXT,
    missing_since BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (id, state),
    FOREIGN KEY (parent_id, parent_state) REFERENCES volumes (id, state)
);
CREATE INDEX volumes_worker_state ON volumes (worker_name, state);
CREATE INDEX volumes_parent ON volumes (parent_id) WHERE parent_id IS NOT NULL;
