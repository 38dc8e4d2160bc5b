-- Version 4: check builds, one-off builds and never-reused build ids. Every check is a build:
-- a builds row named `check` with its resource or resource type, the version it starts from,
-- and its events in build_events; resources and resource types point at their last check
-- build. Forward-only: never edit after merge; add 0005_*.sql.

ALTER TABLE builds ADD COLUMN resource_id BIGINT REFERENCES resources (id) ON DELETE CASCADE;
ALTER TABLE builds ADD COLUMN resource_type_id BIGINT
    REFERENCES resource_types (id) ON DELETE CASCADE;
-- Canonical JSON of the version a check starts from (`check-resource --from`).
ALTER TABLE builds ADD COLUMN check_from TEXT;
CREATE INDEX builds_resource_checks ON builds (resource_id, id) WHERE resource_id IS NOT NULL;
CREATE INDEX builds_resource_type_checks ON builds (resource_type_id, id)
    WHERE resource_type_id IS NOT NULL;
CREATE INDEX builds_unfinished_checks ON builds (id)
    WHERE NOT completed AND (resource_id IS NOT NULL OR resource_type_id IS NOT NULL);

ALTER TABLE resources ADD COLUMN last_check_build_id BIGINT
    REFERENCES builds (id) ON DELETE SET NULL;
ALTER TABLE resource_types ADD COLUMN last_check_build_id BIGINT
    REFERENCES builds (id) ON DELETE SET NULL;

-- Build ids are never reused, even after the newest builds are deleted (destroyed pipelines,
-- forgotten check builds): every insert takes the next value of this counter.
INSERT INTO counters (name, value) SELECT 'build_id', COALESCE(MAX(id), 0) FROM builds;

-- One-off builds (`fly execute`): created `started` without a start time until a tracker
-- runs them; the plan they run is kept only until they finish (`plan` is the public form).
ALTER TABLE builds ADD COLUMN private_plan TEXT;
CREATE INDEX builds_unfinished_one_off ON builds (id)
    WHERE NOT completed AND job_id IS NULL AND resource_id IS NULL AND resource_type_id IS NULL;
-- Artifacts belong to a team and live in a worker volume.
ALTER TABLE artifacts ADD COLUMN team_id BIGINT REFERENCES teams (id) ON DELETE CASCADE;
ALTER TABLE artifacts ADD COLUMN volume TEXT;

-- Pipelines set by a `set_pipeline` step remember the job and build that set them: they are
-- archived when a later successful build of that job no longer sets them, when the job goes,
-- and when the parent pipeline is archived or destroyed.
ALTER TABLE pipelines ADD COLUMN parent_job_id BIGINT;
ALTER TABLE pipelines ADD COLUMN parent_build_id BIGINT;
CREATE INDEX pipelines_parent_job ON pipelines (parent_job_id) WHERE parent_job_id IS NOT NULL;

-- The order of the instances of one pipeline name (`order-instanced-pipelines`).
ALTER TABLE pipelines ADD COLUMN secondary_ordering BIGINT NOT NULL DEFAULT 0;
