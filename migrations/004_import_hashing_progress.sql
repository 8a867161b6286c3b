-- A users import's hashing progress: plain passwords handed out at fan-out, and those hashed so
-- far. Each chunk adds the rows its UPDATE actually changed, in the same statement, so a repeated
-- or retried chunk adds nothing: the count is exact, and the job's percentage follows it.
ALTER TABLE import_staging.loaded
  ADD COLUMN passwords integer NOT NULL DEFAULT 0,
  ADD COLUMN passwords_hashed integer NOT NULL DEFAULT 0;
