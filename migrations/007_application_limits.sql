-- Per-application limits (fair use): NULL takes the service's default from its configuration.
ALTER TABLE applications
  ADD COLUMN IF NOT EXISTS requests_per_second integer CHECK (requests_per_second > 0),
  ADD COLUMN IF NOT EXISTS max_open_jobs integer CHECK (max_open_jobs > 0);
