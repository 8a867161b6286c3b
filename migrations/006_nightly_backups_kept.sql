-- How many nightly backups an application keeps; NULL: the service's setting (NIGHTLY_BACKUPS_KEPT).
ALTER TABLE applications
  ADD COLUMN nightly_backups_kept integer CHECK (nightly_backups_kept BETWEEN 1 AND 366);
