-- The chat platform's data: tenants (applications), users, rooms and their participants, comments.
-- Every row belongs to exactly one application; uniqueness rules are per application.

CREATE TABLE applications (
  app_id          text PRIMARY KEY,
  secret_hash     text NOT NULL,
  name            text NOT NULL DEFAULT '',
  nightly_export  boolean NOT NULL DEFAULT false,
  timezone        text NOT NULL DEFAULT 'UTC',
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id                    bigserial PRIMARY KEY,
  app_id                text NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
  email                 text NOT NULL,
  name                  text NOT NULL,
  avatar_url            text NOT NULL DEFAULT '',
  authentication_token  text NOT NULL,
  password_hash         text NOT NULL,
  created_at            timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_app_email_key ON users (app_id, lower(email));
CREATE UNIQUE INDEX users_app_token_key ON users (app_id, authentication_token);
CREATE INDEX users_app_created_idx ON users (app_id, created_at, id);

CREATE TABLE rooms (
  id          bigserial PRIMARY KEY,
  app_id      text NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
  unique_id   text NOT NULL,
  name        text NOT NULL,
  type        text NOT NULL CHECK (type IN ('single', 'group')),
  options     text NOT NULL DEFAULT '',
  avatar_url  text NOT NULL DEFAULT '',
  creator_id  bigint NOT NULL REFERENCES users (id),
  created_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX rooms_app_unique_id_key ON rooms (app_id, unique_id);
CREATE INDEX rooms_app_created_idx ON rooms (app_id, created_at, id);

CREATE TABLE room_participants (
  room_id   bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  user_id   bigint NOT NULL REFERENCES users (id),
  position  integer NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_participants_user_idx ON room_participants (user_id);

CREATE TABLE comments (
  id                    bigserial PRIMARY KEY,
  app_id                text NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
  room_id               bigint NOT NULL REFERENCES rooms (id),
  user_id               bigint NOT NULL REFERENCES users (id),
  unique_id             text NOT NULL,
  type                  text NOT NULL,
  message               text NOT NULL,
  payload               jsonb,
  disable_link_preview  boolean NOT NULL DEFAULT false,
  parent_id             bigint REFERENCES comments (id),
  created_at            timestamptz NOT NULL
);
CREATE UNIQUE INDEX comments_app_unique_id_key ON comments (app_id, unique_id);
CREATE INDEX comments_app_created_idx ON comments (app_id, created_at, id);
CREATE INDEX comments_room_idx ON comments (room_id);
