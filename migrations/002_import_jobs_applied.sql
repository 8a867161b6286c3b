-- One row per import whose rows were written, inserted in the same transaction as the rows.
-- A redelivered import message finds its job here and finishes without writing twice.
CREATE TABLE import_jobs_applied (
  job_id        text PRIMARY KEY,
  app_id        text NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
  resource      text NOT NULL,
  rows_written  integer NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now()
);
