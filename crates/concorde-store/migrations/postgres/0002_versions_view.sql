-- Version 2 (PostgreSQL): successful build outputs and the indexes the versions view reads.

CREATE TABLE successful_build_outputs (
    build_id BIGINT PRIMARY KEY REFERENCES builds (id) ON DELETE CASCADE,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    rerun_of BIGINT,
    rank BIGINT NOT NULL
);
CREATE INDEX sbo_job_rank ON successful_build_outputs (job_id, rank DESC, build_id DESC);

CREATE TABLE successful_build_output_entries (
    build_id BIGINT NOT NULL REFERENCES successful_build_outputs (build_id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    resource_id BIGINT NOT NULL,
    version_digest TEXT NOT NULL,
    PRIMARY KEY (build_id, idx)
);
CREATE INDEX sbo_entries_version ON successful_build_output_entries (resource_id, version_digest, build_id);

CREATE INDEX builds_succeeded_rank ON builds (job_id, (COALESCE(rerun_of, id)) DESC, id DESC)
    WHERE status = 'succeeded';
CREATE INDEX build_inputs_job_name ON build_inputs (job_id, name, resource_id, version_digest);
