/**
 * The schema of Baton's state database (`state.db`), as numbered migrations. Each runs once, in order,
 * in its own transaction; the version reached is kept in `PRAGMA user_version`. Never edit a released
 * migration: add a new one.
 *
 * Foreign keys are documented with REFERENCES but not enforced (sql.js connections start with
 * `foreign_keys = OFF` and journal replay must behave exactly like the original run), so deletes of
 * dependent rows are written out explicitly by the repositories.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const STATE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'sprints, tasks, dependencies, checkpoints, notes, activity, imports',
    sql: `
CREATE TABLE sprints (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  name TEXT NOT NULL,
  goal TEXT NOT NULL DEFAULT '',
  start_date TEXT,
  end_date TEXT,
  state TEXT NOT NULL DEFAULT 'planned',
  position INTEGER NOT NULL,
  source_key TEXT UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'TODO',
  priority TEXT NOT NULL DEFAULT 'medium',
  estimate REAL,
  estimate_unit TEXT NOT NULL DEFAULT 'hours',
  assignee TEXT,
  sprint_id TEXT REFERENCES sprints(id),
  parent_id TEXT REFERENCES tasks(id),
  position INTEGER NOT NULL,
  progress INTEGER NOT NULL DEFAULT 0,
  context TEXT NOT NULL DEFAULT '',
  summary TEXT,
  source_key TEXT UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  completed_at TEXT
);
CREATE INDEX tasks_sprint ON tasks(sprint_id, position);
CREATE INDEX tasks_status ON tasks(status);
CREATE TABLE dependencies (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  depends_on_id TEXT NOT NULL REFERENCES tasks(id),
  PRIMARY KEY (task_id, depends_on_id)
);
CREATE INDEX dependencies_reverse ON dependencies(depends_on_id);
CREATE TABLE checkpoints (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  title TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  position INTEGER NOT NULL,
  source_key TEXT UNIQUE
);
CREATE INDEX checkpoints_task ON checkpoints(task_id, position);
CREATE TABLE notes (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  author_kind TEXT NOT NULL,
  author_name TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX notes_task ON notes(task_id, created_at);
CREATE TABLE activity (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  action TEXT NOT NULL,
  task_id TEXT,
  sprint_id TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX activity_task ON activity(task_id, id);
CREATE TABLE imports (
  source TEXT PRIMARY KEY,
  format TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  imported_at TEXT NOT NULL
);
`,
  },
];
