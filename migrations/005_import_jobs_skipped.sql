-- Rows an import skipped because the application already held them with the same content
-- (`on_existing: skip`), kept with the rows it wrote so that a redelivered message reports both.
ALTER TABLE import_jobs_applied ADD COLUMN rows_skipped integer NOT NULL DEFAULT 0;
