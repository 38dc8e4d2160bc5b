-- Version 3 (SQLite): what workers advertise, container owners and flags, volume owners
-- (task caches, base resource types, artifacts), task caches, artifacts, and container uses of
-- resource caches. Forward-only: never edit after merge; add 0004_*.sql.

ALTER TABLE workers ADD COLUMN stalled_since BIGINT;

-- One row per base resource type a worker advertises; replaced when its image or version
-- changes, so volumes holding the old image lose their owner and get collected.
CREATE TABLE worker_base_resource_types (
    id INTEGER PRIMARY KEY,
    worker_name TEXT NOT NULL REFERENCES workers (name) ON DELETE CASCADE,
    base_resource_type_id BIGINT NOT NULL REFERENCES base_resource_types (id) ON DELETE CASCADE,
    image TEXT NOT NULL,
    version TEXT NOT NULL,
    privileged BOOLEAN NOT NULL DEFAULT FALSE,
    unique_version_history BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (worker_name, base_resource_type_id)
);

CREATE TABLE task_caches (
    id INTEGER PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_name TEXT NOT NULL,
    path TEXT NOT NULL,
    last_used BIGINT NOT NULL,
    UNIQUE (job_id, step_name, path)
);

CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    build_id BIGINT REFERENCES builds (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);

ALTER TABLE containers ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'none'
    CHECK (owner_kind IN ('none', 'step', 'check', 'image_check', 'image_get'));
ALTER TABLE containers ADD COLUMN pipeline_id BIGINT REFERENCES pipelines (id) ON DELETE SET NULL;
ALTER TABLE containers ADD COLUMN check_expires BIGINT;
ALTER TABLE containers ADD COLUMN discontinued BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX containers_team ON containers (team_id);
CREATE INDEX containers_pipeline ON containers (pipeline_id);
CREATE INDEX containers_check_scope ON containers (check_scope_id) WHERE check_scope_id IS NOT NULL;

ALTER TABLE volumes ADD COLUMN task_cache_id BIGINT REFERENCES task_caches (id) ON DELETE SET NULL;
ALTER TABLE volumes ADD COLUMN worker_base_resource_type_id BIGINT
    REFERENCES worker_base_resource_types (id) ON DELETE SET NULL;
ALTER TABLE volumes ADD COLUMN artifact_id BIGINT REFERENCES artifacts (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX volumes_worker_resource_cache ON volumes (worker_name, resource_cache_id)
    WHERE resource_cache_id IS NOT NULL;
CREATE UNIQUE INDEX volumes_worker_task_cache ON volumes (worker_name, task_cache_id)
    WHERE task_cache_id IS NOT NULL;
CREATE INDEX volumes_container ON volumes (container_id) WHERE container_id IS NOT NULL;
CREATE INDEX volumes_team ON volumes (team_id);

-- A resource cache is kept while a build or a container (a custom type's image) uses it.
CREATE TABLE resource_cache_container_uses (
    resource_cache_id BIGINT NOT NULL REFERENCES resource_caches (id) ON DELETE CASCADE,
    container_id BIGINT NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
    PRIMARY KEY (resource_cache_id, container_id)
);
CREATE INDEX resource_cache_uses_build ON resource_cache_uses (build_id);
