-- Imports check whole files inside PostgreSQL: each import job loads its rows into tables of its
-- own in this schema (UNLOGGED: they are scratch space, rebuilt from the uploaded file if lost),
-- named after the job, so that they outlive one worker invocation and are dropped when it ends.
CREATE SCHEMA import_staging;

-- A job's staging tables are complete (every row of the file loaded) once its row is here.
CREATE TABLE import_staging.loaded (
  job_id      text PRIMARY KEY,
  rows        integer NOT NULL,
  -- A users import's password chunks were queued (once per job, whatever the deliveries).
  hashing_queued boolean NOT NULL DEFAULT false,
  loaded_at   timestamptz NOT NULL DEFAULT now()
);

