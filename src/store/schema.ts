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
  {
    version: 2,
    description: 'agent sessions, saved context and handoffs, the human inbox, messages, artifacts',
    sql: `
CREATE TABLE agent_sessions (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  agent_name TEXT NOT NULL,
  profile TEXT,
  role TEXT,
  task_id TEXT REFERENCES tasks(id),
  mcp_session_id TEXT,
  status TEXT NOT NULL DEFAULT 'active',
  started_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  ended_at TEXT,
  end_reason TEXT
);
CREATE INDEX agent_sessions_task ON agent_sessions(task_id, started_at);
CREATE INDEX agent_sessions_mcp ON agent_sessions(mcp_session_id);
CREATE TABLE contexts (
  id TEXT PRIMARY KEY,
  session_id TEXT REFERENCES agent_sessions(id),
  task_id TEXT REFERENCES tasks(id),
  kind TEXT NOT NULL,
  pack TEXT NOT NULL,
  dropped TEXT NOT NULL DEFAULT '[]',
  bytes INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  resumed_by TEXT,
  resumed_at TEXT
);
CREATE INDEX contexts_task ON contexts(task_id, created_at);
CREATE INDEX contexts_session ON contexts(session_id, created_at);
CREATE TABLE human_requests (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  session_id TEXT REFERENCES agent_sessions(id),
  agent_name TEXT NOT NULL,
  task_id TEXT REFERENCES tasks(id),
  text TEXT NOT NULL,
  options TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'open',
  answer TEXT,
  answered_by TEXT,
  answered_at TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX human_requests_status ON human_requests(status, num);
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  from_kind TEXT NOT NULL,
  from_id TEXT NOT NULL,
  from_name TEXT NOT NULL,
  task_id TEXT REFERENCES tasks(id),
  sprint_id TEXT REFERENCES sprints(id),
  subject TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE message_recipients (
  message_id TEXT NOT NULL REFERENCES messages(id),
  recipient_kind TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  read_at TEXT,
  PRIMARY KEY (message_id, recipient_kind, recipient_id)
);
CREATE INDEX message_recipients_inbox ON message_recipients(recipient_kind, recipient_id, read_at);
CREATE TABLE artifacts (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  scope TEXT NOT NULL,
  sprint_id TEXT REFERENCES sprints(id),
  task_id TEXT REFERENCES tasks(id),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX artifacts_sha ON artifacts(sha256);
CREATE INDEX artifacts_task ON artifacts(task_id);
CREATE INDEX artifacts_sprint ON artifacts(sprint_id);
`,
  },
  {
    version: 3,
    description: 'terminal sessions: agent CLIs Baton runs in pseudo-terminals',
    sql: `
CREATE TABLE terminal_sessions (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  profile TEXT NOT NULL,
  title TEXT NOT NULL,
  command TEXT NOT NULL,
  task_id TEXT REFERENCES tasks(id),
  cwd TEXT NOT NULL,
  worktree TEXT,
  branch TEXT,
  tmux_session TEXT,
  pid INTEGER,
  state TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  exit_code INTEGER,
  end_reason TEXT,
  last_output TEXT NOT NULL DEFAULT ''
);
CREATE INDEX terminal_sessions_state ON terminal_sessions(state, num);
CREATE INDEX terminal_sessions_task ON terminal_sessions(task_id);
`,
  },
  {
    version: 4,
    description: 'import baselines (each imported row as last imported, for three-way re-imports) and import staging',
    // import_baselines.fields: JSON of the row's values as the plan had them (descriptions as hashes),
    // one generation per import (import_id); imports.baseline_id names the generation in force, so a new
    // generation is written ahead, invisibly, and takes over with that one column. Rows imported before
    // this migration have none; the importer infers theirs (services/planImport.ts).
    // import_stage_*: rows an import writes ahead in slices, published into tasks / checkpoints /
    // dependencies by one INSERT … SELECT in the import's final transaction (services/planService.ts).
    sql: `
CREATE TABLE import_baselines (
  import_id TEXT NOT NULL,
  source_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  fields TEXT NOT NULL,
  PRIMARY KEY (import_id, source_key)
);
ALTER TABLE imports ADD COLUMN baseline_id TEXT;
CREATE TABLE import_stage_tasks (
  import_id TEXT NOT NULL,
  id TEXT NOT NULL,
  num INTEGER NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  priority TEXT NOT NULL,
  estimate REAL,
  estimate_unit TEXT NOT NULL,
  sprint_id TEXT,
  parent_id TEXT,
  position INTEGER NOT NULL,
  progress INTEGER NOT NULL,
  source_key TEXT,
  created_at TEXT NOT NULL,
  completed_at TEXT
);
CREATE TABLE import_stage_checkpoints (
  import_id TEXT NOT NULL,
  id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  title TEXT NOT NULL,
  done INTEGER NOT NULL,
  position INTEGER NOT NULL,
  source_key TEXT
);
CREATE TABLE import_stage_dependencies (
  import_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  depends_on_id TEXT NOT NULL
);
`,
  },
  {
    version: 5,
    description: "agents: a task's agent (profile and optional role) and a sprint's default agent",
    sql: `
ALTER TABLE tasks ADD COLUMN agent_profile TEXT;
ALTER TABLE tasks ADD COLUMN agent_role TEXT;
ALTER TABLE sprints ADD COLUMN agent_profile TEXT;
ALTER TABLE sprints ADD COLUMN agent_role TEXT;
ALTER TABLE import_stage_tasks ADD COLUMN agent_profile TEXT;
ALTER TABLE import_stage_tasks ADD COLUMN agent_role TEXT;
`,
  },
  {
    version: 6,
    description: 'review pipelines (per task or sprint), review rounds and the reviews submitted in them',
    // review_pipelines: target_kind 'task' | 'sprint'; spec as parsePipeline reads it (core/reviewPipeline.ts).
    // review_rounds: one per time a task's completion sent it to review; state reviewing | awaiting_gate |
    // changes_requested | approved | rejected | cancelled | overridden; request_id the Inbox approval of a human gate.
    // reviews: one per reviewer slot and per session in a round; artifact_id the stored markdown (artifacts).
    sql: `
CREATE TABLE review_pipelines (
  target_kind TEXT NOT NULL,
  target_id TEXT NOT NULL,
  spec TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (target_kind, target_id)
);
CREATE TABLE review_rounds (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  round INTEGER NOT NULL,
  spec TEXT NOT NULL,
  reviewers TEXT NOT NULL,
  gate TEXT NOT NULL,
  state TEXT NOT NULL,
  request_id TEXT,
  implementer TEXT,
  outcome TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  PRIMARY KEY (task_id, round)
);
CREATE INDEX review_rounds_state ON review_rounds(state);
CREATE TABLE reviews (
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL UNIQUE,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  round INTEGER NOT NULL,
  reviewer TEXT NOT NULL,
  session_id TEXT,
  agent_name TEXT NOT NULL,
  score REAL NOT NULL,
  verdict TEXT NOT NULL,
  body TEXT NOT NULL,
  artifact_id TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (task_id, round, reviewer)
);
CREATE INDEX reviews_task ON reviews(task_id, round);
`,
  },
  {
    version: 7,
    description: 'autopilot: its on/off state and counters per workspace, and the sessions it started',
    // autopilot: one row (id 1). counters: JSON of the scheduler's counters (failures per task, the failure
    // streak, usage, reasons already told), so a restart neither repeats itself nor forgets a streak.
    // autopilot_runs: every session autopilot started; ended_at NULL while it runs (a restart finds them).
    sql: `
CREATE TABLE autopilot (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  enabled INTEGER NOT NULL DEFAULT 0,
  counters TEXT NOT NULL DEFAULT '{}',
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL
);
CREATE TABLE autopilot_runs (
  session_id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  reason TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  outcome TEXT
);
CREATE INDEX autopilot_runs_open ON autopilot_runs(ended_at);
CREATE INDEX autopilot_runs_task ON autopilot_runs(task_id);
`,
  },
  {
    version: 8,
    description: "landing: how a terminal session's branch was landed (merged, rebased or kept)",
    // landing: JSON { mode, outcome, commit, base, branch, at, by } written by sessions/landing.ts; NULL until landed.
    sql: `
ALTER TABLE terminal_sessions ADD COLUMN landing TEXT;
`,
  },
  {
    version: 9,
    description: 'usage: token and cost samples the agent CLIs report over OTLP, per terminal session',
    sql: `
CREATE TABLE usage_samples (
  id INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  task_id TEXT,
  source TEXT NOT NULL,
  model TEXT,
  kind TEXT NOT NULL,
  value REAL NOT NULL,
  temporality TEXT NOT NULL,
  series TEXT NOT NULL,
  start_ns TEXT NOT NULL,
  time_ns TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX usage_samples_session ON usage_samples(session_id);
CREATE INDEX usage_samples_task ON usage_samples(task_id);
CREATE INDEX usage_samples_series ON usage_samples(session_id, series, start_ns);
`,
  },
  {
    version: 10,
    description: 'terminal sessions: the task a reviewer session reviews (its tokens count to that task)',
    // review_task_id: set for reviewer sessions (orchestration/reviewers.ts), which hold no task (task_id NULL).
    sql: `
ALTER TABLE terminal_sessions ADD COLUMN review_task_id TEXT;
`,
  },
];
