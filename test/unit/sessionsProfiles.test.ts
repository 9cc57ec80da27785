import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { frontMatterLines, listAgentDefinitions } from '../../src/sessions/agentDefinitions';
import { codexServerKind, stripJsonComments, wireMcp, type McpEndpoint } from '../../src/sessions/mcpWiring';
import { BUILTIN_PROFILES, checkInstalled, findExecutable, mergeProfiles, type AgentProfile } from '../../src/sessions/profiles';

const posix = process.platform !== 'win32';

function tmp(t: TestContext, prefix = 'baton-profiles-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const builtin = (id: string): AgentProfile => {
  const p = BUILTIN_PROFILES.find(x => x.id === id);
  assert.ok(p, `built-in profile ${id}`);
  return p;
};

// ───────────────────────────── profiles ─────────────────────────────

test('built-in profiles: the five agents and a shell, each valid and with an install hint for agents', () => {
  assert.deepEqual(BUILTIN_PROFILES.map(p => p.id), ['claude', 'gemini', 'qwen', 'codex', 'aider', 'shell']);
  for (const p of BUILTIN_PROFILES) {
    for (const src of [...(p.waitingPatterns ?? []), ...(p.donePatterns ?? [])]) assert.doesNotThrow(() => new RegExp(src, 'm'), `${p.id}: ${src}`);
    if (p.id !== 'shell') assert.match(p.install ?? '', /install/, p.id);
  }
  assert.deepEqual(builtin('claude').promptArgs, ['--']);
  assert.deepEqual(builtin('qwen').promptArgs, ['-i'], 'a positional prompt makes qwen run one-shot');
  assert.equal(builtin('aider').prompt, 'stdin', "aider's --message exits after one message");
  // The waiting patterns match the idle screens seen in the real TUIs.
  const waits = (id: string, screen: string) => builtin(id).waitingPatterns!.some(src => new RegExp(src, 'm').test(screen));
  assert.ok(waits('claude', '────\n❯ \n────\n  ⏵⏵ auto mode on'));
  assert.ok(waits('claude', ' Do you want to use this API key?\n    Yes\n  ❯ 1. No (recommended)'));
  assert.ok(!waits('claude', '❯ fix the bug in parser.ts\n✻ Working… (esc to interrupt)'));
  assert.ok(waits('gemini', ' >   Type your message or @path/to/file'));
  assert.ok(waits('codex', '› Ask Codex to do anything'));
});

test('mergeProfiles: nothing configured gives the built-ins unchanged', () => {
  for (const input of [undefined, null, []]) {
    const { profiles, errors } = mergeProfiles(input);
    assert.deepEqual(profiles, BUILTIN_PROFILES);
    assert.deepEqual(errors, []);
  }
});

test('mergeProfiles: a non-array is reported and ignored', () => {
  const { profiles, errors } = mergeProfiles({ id: 'x', command: 'x' });
  assert.deepEqual(profiles, BUILTIN_PROFILES);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /profiles must be an array of profile objects, got an object/);
});

test('mergeProfiles: user profiles add new ids and override built-ins field by field', () => {
  const { profiles, errors } = mergeProfiles([
    { id: 'claude', args: ['--model', 'opus'], env: { FOO: 'bar' } },
    { id: 'my-agent', command: '/opt/agent/bin/agent', args: ['--fast'], prompt: 'stdin', waitingPatterns: ['^> $'], mcp: 'claude', install: 'see the wiki' },
    { id: 'minimal', command: 'mini' },
  ]);
  assert.deepEqual(errors, []);
  const claude = profiles.find(p => p.id === 'claude')!;
  assert.deepEqual(claude.args, ['--model', 'opus']);
  assert.deepEqual(claude.env, { FOO: 'bar' });
  assert.equal(claude.command, 'claude', 'fields not given keep the built-in value');
  assert.equal(mergeProfiles([{ id: 'claude', command: undefined }]).profiles[0].command, 'claude', 'nor do fields given as undefined');
  assert.equal(claude.mcp, 'claude');
  assert.equal(profiles.indexOf(claude), 0, 'an override keeps its place');
  const mine = profiles.find(p => p.id === 'my-agent')!;
  assert.deepEqual(mine, {
    id: 'my-agent', label: 'my-agent', command: '/opt/agent/bin/agent', args: ['--fast'], prompt: 'stdin', waitingPatterns: ['^> $'], mcp: 'claude', install: 'see the wiki',
  });
  assert.deepEqual(profiles.find(p => p.id === 'minimal'), { id: 'minimal', label: 'minimal', command: 'mini', args: [], prompt: 'none', mcp: 'env-only' });
  assert.equal(profiles.length, BUILTIN_PROFILES.length + 2);
  assert.deepEqual(BUILTIN_PROFILES.find(p => p.id === 'claude')!.args, [], 'the built-ins themselves are not changed');
});

test('mergeProfiles: invalid entries are skipped with errors naming the entry and the field', () => {
  const { profiles, errors } = mergeProfiles([
    'claude',
    { command: 'x' },
    { id: 'has space', command: 'x' },
    { id: 'bad-args', command: 'x', args: '--fast' },
    { id: 'no-command', label: 'No command' },
    { id: 'bad-enum', command: 'x', prompt: 'clipboard', mcp: 'vscode' },
    { id: 'bad-regex', command: 'x', waitingPatterns: ['(unclosed'] },
    { id: 'bad-env', command: 'x', env: { A: 1 } },
    { id: 'codex', args: [1, 2] },
    { id: 'typo', command: 'x', promptArg: ['-p'] },
    { id: 'typo', command: 'y' },
  ]);
  const has = (re: RegExp) => assert.ok(errors.some(e => re.test(e)), `expected an error like ${re}, got:\n${errors.join('\n')}`);
  has(/^profiles\[0\]: must be an object with at least "id" and "command", got "claude"; skipped$/);
  has(/^profiles\[1\]: field "id" must be a non-empty string, got undefined; skipped$/);
  has(/^profiles\[2\]: field "id" must be letters, digits/);
  has(/^profiles\[3\] \("bad-args"\): field "args" must be an array of strings, got "--fast"$/);
  has(/^profiles\[3\] \("bad-args"\): skipped because of the error above$/);
  has(/^profiles\[4\] \("no-command"\): field "command" is required for a new profile/);
  has(/^profiles\[5\] \("bad-enum"\): field "prompt" must be one of "argument", "stdin", "none", got "clipboard"$/);
  has(/^profiles\[5\] \("bad-enum"\): field "mcp" must be one of "claude", "gemini", "qwen", "codex", "aider", "env-only", got "vscode"$/);
  has(/^profiles\[5\] \("bad-enum"\): skipped because of the errors above$/);
  has(/^profiles\[6\] \("bad-regex"\): field "waitingPatterns\[0\]" has an invalid regular expression "\(unclosed"/);
  has(/^profiles\[7\] \("bad-env"\): field "env\.A" must be a string, got number 1$/);
  has(/^profiles\[8\] \("codex"\): field "args\[0\]" must be a string, got number 1$/);
  has(/^profiles\[8\] \("codex"\): skipped because of the error above \(the built-in "codex" profile is used\)$/);
  has(/^profiles\[9\] \("typo"\): unknown field "promptArg" ignored/);
  has(/^profiles\[10\] \("typo"\): duplicate id, already defined by profiles\[9\]; skipped$/);
  const ids = profiles.map(p => p.id);
  assert.deepEqual(ids, [...BUILTIN_PROFILES.map(p => p.id), 'typo'], 'only the entry with a mere unknown field is kept');
  assert.deepEqual(profiles.find(p => p.id === 'codex'), builtin('codex'));
  assert.equal(profiles.find(p => p.id === 'typo')!.command, 'x');
  assert.ok(!('promptArg' in profiles.find(p => p.id === 'typo')!));
});

test('findExecutable: PATH lookup without a shell, absolute and relative paths, only executable files', { skip: !posix && 'POSIX permissions' }, t => {
  const dir = tmp(t);
  const bin1 = path.join(dir, 'bin1');
  const bin2 = path.join(dir, 'bin2');
  fs.mkdirSync(bin1);
  fs.mkdirSync(bin2);
  fs.writeFileSync(path.join(bin1, 'agent'), '#!/bin/sh\necho hi\n', { mode: 0o644 }); // not executable: skipped
  fs.writeFileSync(path.join(bin2, 'agent'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.mkdirSync(path.join(bin1, 'dir-agent'));
  const env = { PATH: ['', bin1, bin2].join(path.delimiter) };
  assert.equal(findExecutable('agent', env), path.join(bin2, 'agent'));
  assert.equal(findExecutable('dir-agent', env), null, 'a folder is not an executable');
  assert.equal(findExecutable('missing-agent', env), null);
  assert.equal(findExecutable('agent', {}), null, 'no PATH, nothing found');
  assert.equal(findExecutable('', env), null);
  assert.equal(findExecutable(path.join(bin2, 'agent'), {}), path.join(bin2, 'agent'), 'an absolute path needs no PATH');
  assert.equal(findExecutable(path.join(bin1, 'agent'), env), null, 'an absolute path to a non-executable file');
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  assert.equal(findExecutable('./bin2/agent', {}), path.join(bin2, 'agent'), 'a relative path resolves against the current folder');
  fs.writeFileSync(path.join(dir, 'planted'), '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(findExecutable('planted', env), null, 'an empty PATH entry is not the current folder');
  assert.equal(findExecutable('planted', { PATH: '' }), null);
  assert.equal(findExecutable('$(touch pwned)', env), null);
  assert.ok(!fs.existsSync(path.join(dir, 'pwned')), 'no shell is involved');
  assert.ok(findExecutable('node'), 'node is on the PATH of the test run');
});

test('checkInstalled: the path when found; otherwise says it is not installed and how to install it', { skip: !posix && 'POSIX permissions' }, t => {
  const dir = tmp(t);
  fs.writeFileSync(path.join(dir, 'fake-agent'), '#!/bin/sh\n', { mode: 0o755 });
  const found = checkInstalled({ id: 'f', label: 'Fake', command: 'fake-agent', args: [], prompt: 'none', mcp: 'env-only', env: { PATH: dir } });
  assert.deepEqual(found, { ok: true, path: path.join(dir, 'fake-agent') });

  const missing = checkInstalled({ ...builtin('claude'), command: 'definitely-not-installed-claude' });
  assert.equal(missing.ok, false);
  assert.equal((missing as { message: string }).message,
    'Claude Code is not installed: "definitely-not-installed-claude" was not found on PATH. Install it with: npm install -g @anthropic-ai/claude-code');
  const noHint = checkInstalled({ id: 'mine', label: 'Mine', command: '/nowhere/mine', args: [], prompt: 'none', mcp: 'env-only' });
  assert.equal((noHint as { message: string }).message,
    'Mine is not installed: /nowhere/mine does not exist or is not executable. Install it, or set "command" of the "mine" profile in the baton.sessions.profiles setting to its full path.');
});

// ───────────────────────────── agent definitions ─────────────────────────────

test('listAgentDefinitions: no .claude/agents folder is no error', t => {
  assert.deepEqual(listAgentDefinitions(tmp(t)), { definitions: [], errors: [] });
});

test('listAgentDefinitions: reads front matter and instructions; reports each bad file clearly', t => {
  const ws = tmp(t);
  const dir = path.join(ws, '.claude', 'agents');
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  // As Claude Code's /agents writes them: a plain description with colons and quotes in it.
  write('code-reviewer.md', [
    '---',
    'name: code-reviewer',
    'description: Use this agent after writing code. Examples: <example>user: "Review it" assistant: "On it"</example>',
    'tools: Read, Grep, Glob',
    'model: sonnet',
    'color: blue',
    '---',
    '',
    'You are a senior code reviewer.',
    '',
    '## Steps',
    '1. Read the diff.',
    '',
  ].join('\n'));
  write('lists.md', [
    '---',
    '# a comment',
    'name: "tester"',
    "description: 'Writes tests: it''s thorough' # trailing comment",
    'tools:',
    '  - Read',
    '  - "Bash"',
    'hooks:',
    '  PreToolUse:',
    '    - matcher: Bash',
    '---',
    'Write tests first.',
  ].join('\n'));
  write('blocks.md', [
    '---',
    'name: planner',
    'description: |',
    '  Plans work.',
    '  Two lines.',
    'tools: [Read, "Write"]',
    'model: >-',
    '  opus',
    '---',
    'Plan.',
  ].join('\r\n'));
  write('folded.md', '---\nname: folder\ndescription: a long description\n  continued here\n---\n');
  write('escaped.md', '---\nname: esc\ndescription: "tab\\there \\"quoted\\" \\u00e9"\n---\nBody\n');
  write('nested.md', '---\nname: nested\ndescription:\n  short: text\n---\nBody\n');
  write('nested-list.md', '---\nname: nested-list\ndescription: d\ntools:\n  - name: Read\n---\nBody\n');
  write('no-front-matter.md', '# Just markdown\n');
  write('unclosed.md', '---\nname: unclosed\ndescription: d\n');
  write('no-name.md', '---\ndescription: no name here\n---\nBody\n');
  write('no-description.md', '---\nname: lonely\n---\nBody\n');
  write('zz-duplicate.md', '---\nname: tester\ndescription: same name as lists.md\n---\n');
  write('mapping.md', '---\nname: m\ndescription: {a: 1}\n---\n');
  write('anchor.md', '---\nname: anchor\ndescription: *ref\n---\n');
  write('bad-quote.md', '---\nname: q\ndescription: "not closed\n---\n');
  write('twice.md', '---\nname: twice\nname: again\ndescription: d\n---\n');
  write('junk.md', '---\nname: junk\njust some words\n---\n');
  write('notes.txt', 'not a definition');
  fs.mkdirSync(path.join(dir, 'folder.md'));

  const { definitions, errors } = listAgentDefinitions(ws);
  const byName = Object.fromEntries(definitions.map(d => [d.name, d]));
  assert.deepEqual(Object.keys(byName).sort(), ['code-reviewer', 'esc', 'folder', 'planner', 'tester']);
  assert.deepEqual(byName['code-reviewer'], {
    name: 'code-reviewer',
    description: 'Use this agent after writing code. Examples: <example>user: "Review it" assistant: "On it"</example>',
    model: 'sonnet',
    tools: ['Read', 'Grep', 'Glob'],
    instructions: 'You are a senior code reviewer.\n\n## Steps\n1. Read the diff.',
    file: path.join(dir, 'code-reviewer.md'),
  });
  assert.deepEqual(byName.tester, {
    name: 'tester', description: "Writes tests: it's thorough", tools: ['Read', 'Bash'], instructions: 'Write tests first.', file: path.join(dir, 'lists.md'),
  });
  assert.equal(byName.planner.description, 'Plans work.\nTwo lines.', 'a | block keeps its line breaks (values are trimmed)');
  assert.deepEqual(byName.planner.tools, ['Read', 'Write']);
  assert.equal(byName.planner.model, 'opus');
  assert.equal(byName.planner.instructions, 'Plan.');
  assert.equal(byName.folder.description, 'a long description continued here');
  assert.equal(byName.folder.instructions, '');
  assert.equal(byName.esc.description, 'tab\there "quoted" é');

  const err = Object.fromEntries(errors.map(e => [path.basename(e.file), e.message]));
  assert.deepEqual(Object.keys(err).sort(), [
    'anchor.md', 'bad-quote.md', 'junk.md', 'mapping.md', 'nested-list.md', 'nested.md', 'no-description.md', 'no-front-matter.md', 'no-name.md', 'twice.md', 'unclosed.md', 'zz-duplicate.md',
  ]);
  assert.equal(err['nested.md'], 'front matter line 4: "description" must be text or a list of "- item" lines; nested YAML is not supported');
  assert.equal(err['nested-list.md'], 'front matter line 5: "tools": list items must be plain or quoted text; nested YAML is not supported');
  assert.equal(err['no-front-matter.md'], 'no front matter: the file must start with a "---" line');
  assert.equal(err['unclosed.md'], 'front matter is not closed: no "---" line after the opening one');
  assert.equal(err['no-name.md'], 'front matter has no "name"');
  assert.equal(err['no-description.md'], 'front matter has no "description"');
  assert.equal(err['zz-duplicate.md'], 'name "tester" is already used by lists.md');
  assert.equal(err['mapping.md'], 'front matter line 3: "description": nested mappings are not supported');
  assert.equal(err['anchor.md'], 'front matter line 3: unknown alias *ref (its "&ref" anchor must come first)');
  // The YAML reader's own messages, with the file's line.
  assert.equal(err['bad-quote.md'], 'front matter line 3: Missing closing "quote');
  assert.equal(err['twice.md'], 'front matter line 3: "name" appears twice');
  assert.equal(err['junk.md'], 'front matter line 3: Implicit map keys need to be followed by map values');
});

test('listAgentDefinitions: front matter is real YAML (anchors, multi-line quotes, numbers), and plain values with ": " still work', t => {
  const ws = tmp(t);
  const dir = path.join(ws, '.claude', 'agents');
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  write('yaml.md', [
    '---',
    'defaults: &tools [Read, "Bash(git diff, git log)"]',
    'name: reviewer',
    'description: "Reviews code,',
    '  line by line."',
    'tools: *tools',
    'model: 4',
    'hooks: { PreToolUse: [{ matcher: Bash }] }',
    '---',
    'Review.',
  ].join('\n'));
  // Strict YAML rejects these plain values; they are read as the rest of the line, as before.
  write('lenient.md', [
    '---',
    'name: helper',
    'description: Use when: the user asks. Example: "do it" # not part of it',
    '  and more: here',
    'tools: Read, Grep',
    'color: blue',
    '---',
    'Help.',
  ].join('\n'));
  write('mention.md', '---\nname: mention\ndescription: @team reviews it\n---\n');
  write('tabs.md', '---\nname: tabs\ndescription: first\n\tsecond\n---\n');
  write('still-bad.md', '---\nname: bad\ndescription: Use when: x\ntools: [Read\n---\n');

  const { definitions, errors } = listAgentDefinitions(ws);
  const byName = Object.fromEntries(definitions.map(d => [d.name, d]));
  assert.deepEqual(byName.reviewer, {
    name: 'reviewer', description: 'Reviews code, line by line.', model: '4', tools: ['Read', 'Bash(git diff, git log)'],
    instructions: 'Review.', file: path.join(dir, 'yaml.md'),
  });
  assert.equal(byName.helper.description, 'Use when: the user asks. Example: "do it" and more: here');
  assert.deepEqual(byName.helper.tools, ['Read', 'Grep']);
  assert.equal(byName.mention.description, '@team reviews it');
  assert.equal(byName.tabs.description, 'first second');
  assert.deepEqual(errors.map(e => [path.basename(e.file), e.message.replace(/:.*/, '')]), [['still-bad.md', 'front matter line 4']]);
});

test('frontMatterLines: the role text Baton gives an agent is the file after its front matter, or all of it', () => {
  assert.deepEqual(frontMatterLines('\uFEFF---\r\nname: a\r\n---\r\nDo this.\r\n'), { frontMatter: ['name: a'], body: 'Do this.\n' });
  assert.deepEqual(frontMatterLines('---\nname: a\n...\nBody'), { frontMatter: ['name: a'], body: 'Body' });
  assert.deepEqual(frontMatterLines('# Only markdown\n'), { frontMatter: null, body: '# Only markdown\n', problem: 'no front matter: the file must start with a "---" line' });
  assert.equal(frontMatterLines('---\nname: a\nnever closed').frontMatter, null);
});

// ───────────────────────────── MCP wiring ─────────────────────────────

const TOKEN = 'tok_SECRET_0123456789abcdefghijklmnopqrstuv';
const endpoint: McpEndpoint = { url: 'http://127.0.0.1:43210/mcp', token: TOKEN };
const stdioFallback = { command: '/usr/bin/node', args: ['/opt/baton/dist/cli.js', 'mcp', '--workspace', '/work/project'] };

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Checks what every wiring must do: files private, token nowhere in the description or arguments. */
function checkCommon(w: ReturnType<typeof wireMcp>, sessionDir: string): void {
  assert.ok(!w.description.includes(TOKEN), `token in description: ${w.description}`);
  assert.ok(!w.args.some(a => a.includes(TOKEN)), 'token on the command line');
  assert.ok(w.description.length > 20 && !w.description.includes('\n'), 'one line');
  for (const f of w.files) {
    assert.ok(f.startsWith(sessionDir + path.sep), `${f} is in the session folder`);
    if (posix) assert.equal(modeOf(f), 0o600, `${f} is 0600`);
  }
}

test('wireMcp claude: --mcp-config=<sessionDir>/mcp.json (one argument) with an http server and the bearer header', t => {
  const sessionDir = path.join(tmp(t), 'sessions', 'run-1');
  const w = wireMcp(builtin('claude'), endpoint, sessionDir, '/work/project');
  const file = path.join(sessionDir, 'mcp.json');
  assert.deepEqual(w.args, [`--mcp-config=${file}`]);
  assert.deepEqual(w.env, {});
  assert.deepEqual(w.files, [file]);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), {
    mcpServers: { baton: { type: 'http', url: endpoint.url, headers: { Authorization: `Bearer ${TOKEN}` } } },
  });
  if (posix) assert.equal(modeOf(sessionDir), 0o700, 'the session folder is created private');
  assert.match(w.description, /Claude Code gets MCP server "baton" at http:\/\/127\.0\.0\.1:43210\/mcp \(HTTP\) from --mcp-config=/);
  checkCommon(w, sessionDir);

  // Wiring again (the file exists, even with loose permissions) rewrites it private.
  fs.chmodSync(file, 0o644);
  const again = wireMcp(builtin('claude'), { ...endpoint, name: 'baton-2' }, sessionDir, '/work/project');
  assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).mcpServers), ['baton-2']);
  checkCommon(again, sessionDir);

  // stdio transport when the profile asks for it.
  const stdio = wireMcp({ ...builtin('claude'), mcpTransport: 'stdio' }, { ...endpoint, stdioFallback }, sessionDir, '/work/project');
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).mcpServers.baton, { type: 'stdio', ...stdioFallback });
  assert.match(stdio.description, /Baton's stdio proxy/);
  const noFallback = wireMcp({ ...builtin('claude'), mcpTransport: 'stdio' }, endpoint, sessionDir, '/work/project');
  assert.match(noFallback.description, /stdio asked for, but Baton's CLI is not available: using HTTP/);
});

test('wireMcp qwen: --mcp-config=<sessionDir>/qwen-mcp.json with httpUrl (Streamable HTTP)', t => {
  const sessionDir = tmp(t);
  const w = wireMcp(builtin('qwen'), endpoint, sessionDir, '/work/project');
  const file = path.join(sessionDir, 'qwen-mcp.json');
  assert.deepEqual(w.args, [`--mcp-config=${file}`]);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { mcpServers: { baton: { httpUrl: endpoint.url, headers: { Authorization: `Bearer ${TOKEN}` } } } });
  checkCommon(w, sessionDir);
});

test('wireMcp gemini: a per-session GEMINI_CLI_HOME with the person\'s settings plus the server; their files untouched', t => {
  const root = tmp(t);
  const realHome = path.join(root, 'home');
  const realDir = path.join(realHome, '.gemini');
  fs.mkdirSync(path.join(realDir, 'extensions'), { recursive: true });
  const userSettings = '{\n  // my theme\n  "ui": { "theme": "GitHub" }, /* servers */\n  "mcpServers": { "other": { "command": "other-mcp" }, "baton": { "httpUrl": "http://stale" } }\n}\n';
  fs.writeFileSync(path.join(realDir, 'settings.json'), userSettings);
  fs.writeFileSync(path.join(realDir, 'oauth_creds.json'), '{"token":"x"}');
  fs.writeFileSync(path.join(realHome, '.env'), 'GEMINI_API_KEY=abc\n');
  const sessionDir = path.join(root, 'session');
  const profile = { ...builtin('gemini'), env: { GEMINI_CLI_HOME: realHome } };

  const w = wireMcp(profile, endpoint, sessionDir, '/work/project');
  const home = path.join(sessionDir, 'gemini-home');
  const settingsFile = path.join(home, '.gemini', 'settings.json');
  assert.deepEqual(w.args, []);
  assert.deepEqual(w.env, { GEMINI_CLI_HOME: home, GEMINI_CLI_TRUSTED_FOLDERS_PATH: path.join(realDir, 'trustedFolders.json') });
  assert.deepEqual(w.files, [settingsFile]);
  assert.deepEqual(JSON.parse(fs.readFileSync(settingsFile, 'utf8')), {
    ui: { theme: 'GitHub' },
    mcpServers: { other: { command: 'other-mcp' }, baton: { httpUrl: endpoint.url, headers: { Authorization: `Bearer ${TOKEN}` } } },
  });
  if (posix) {
    assert.equal(fs.readlinkSync(path.join(home, '.gemini', 'oauth_creds.json')), path.join(realDir, 'oauth_creds.json'));
    assert.equal(fs.readlinkSync(path.join(home, '.gemini', 'extensions')), path.join(realDir, 'extensions'));
    assert.equal(fs.readlinkSync(path.join(home, '.env')), path.join(realHome, '.env'));
    assert.equal(modeOf(home), 0o700);
  }
  assert.equal(fs.readFileSync(path.join(realDir, 'settings.json'), 'utf8'), userSettings, "the person's settings are not edited");
  assert.match(w.description, /GEMINI_CLI_HOME=/);
  checkCommon(w, sessionDir);

  // Wiring again replaces the per-session home.
  const again = wireMcp(profile, endpoint, sessionDir, '/work/project');
  checkCommon(again, sessionDir);

  // No ~/.gemini at all: just the server.
  const bare = wireMcp({ ...builtin('gemini'), env: { GEMINI_CLI_HOME: path.join(root, 'empty-home') } }, endpoint, path.join(root, 's2'), '/work/project');
  assert.deepEqual(JSON.parse(fs.readFileSync(bare.files[0], 'utf8')), { mcpServers: { baton: { httpUrl: endpoint.url, headers: { Authorization: `Bearer ${TOKEN}` } } } });

  // Unreadable settings: not wired, and the description says why.
  fs.writeFileSync(path.join(realDir, 'settings.json'), '{ "ui": ');
  const broken = wireMcp(profile, endpoint, path.join(root, 's3'), '/work/project');
  assert.deepEqual(broken, { args: [], env: {}, files: [], description: broken.description });
  assert.match(broken.description, /Gemini CLI is NOT connected to Baton's MCP server: cannot read .*settings\.json/);
});

test('wireMcp codex: -c overrides for mcp_servers.baton (Streamable HTTP) with the token in BATON_MCP_TOKEN', t => {
  const root = tmp(t);
  const codexHome = path.join(root, 'codex');
  const profile = { ...builtin('codex'), env: { CODEX_HOME: codexHome } };
  const w = wireMcp(profile, endpoint, path.join(root, 's'), '/work/project');
  assert.deepEqual(w.args, ['-c', 'mcp_servers.baton.url="http://127.0.0.1:43210/mcp"', '-c', 'mcp_servers.baton.bearer_token_env_var="BATON_MCP_TOKEN"']);
  assert.deepEqual(w.env, { BATON_MCP_TOKEN: TOKEN });
  assert.deepEqual(w.files, []);
  checkCommon(w, path.join(root, 's'));

  // The person's config.toml defines baton as a stdio server: Codex would refuse a url on it.
  fs.mkdirSync(codexHome);
  fs.writeFileSync(path.join(codexHome, 'config.toml'), 'model = "o3"\n\n[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\n');
  const viaStdio = wireMcp(profile, { ...endpoint, stdioFallback }, path.join(root, 's'), '/work/project');
  assert.deepEqual(viaStdio.args, [
    '-c', 'mcp_servers.baton.command="/usr/bin/node"', '-c', 'mcp_servers.baton.args=["/opt/baton/dist/cli.js","mcp","--workspace","/work/project"]',
  ]);
  assert.deepEqual(viaStdio.env, {});
  assert.match(viaStdio.description, /defines mcp_servers\.baton as a stdio server, so Baton's stdio proxy replaces its command/);
  const refused = wireMcp(profile, endpoint, path.join(root, 's'), '/work/project');
  assert.deepEqual(refused.args, []);
  assert.match(refused.description, /Codex is NOT connected to Baton's MCP server: .*config\.toml defines mcp_servers\.baton as a stdio server/);
});

test('codexServerKind: finds the server in the usual config.toml shapes', t => {
  const dir = tmp(t);
  const kind = (toml: string, name = 'baton') => {
    fs.writeFileSync(path.join(dir, 'config.toml'), toml);
    return codexServerKind(path.join(dir, 'config.toml'), name);
  };
  assert.equal(codexServerKind(path.join(dir, 'missing.toml'), 'baton'), null);
  assert.equal(kind('model = "o3"\n[mcp_servers.other]\ncommand = "x"\n'), null);
  assert.equal(kind('[mcp_servers.baton]\nurl = "http://x"\n'), 'http');
  assert.equal(kind('[mcp_servers.baton]\ncommand = "x"\n[mcp_servers.other]\nurl = "y"\n'), 'stdio');
  assert.equal(kind('[ mcp_servers."baton" ]\n  command = "x"\n'), 'stdio');
  assert.equal(kind('[mcp_servers]\nbaton = { command = "x", args = [] }\n'), 'stdio');
  assert.equal(kind('[mcp_servers]\nbaton.url = "http://x"\n'), 'http');
  assert.equal(kind('mcp_servers.baton.command = "x"\n'), 'stdio');
  assert.equal(kind('[mcp_servers.baton-dev]\ncommand = "x"\n'), null, 'another name with the same prefix');
  assert.equal(kind('[mcp_servers.baton.env]\nA = "1"\n'), null, 'a sub-table alone says nothing');
  // Read as TOML, not line by line: what a line scan got wrong.
  assert.equal(kind('notes = """\n[mcp_servers.baton]\ncommand = "x"\n"""\n'), null, 'a table header inside a multi-line string is text');
  assert.equal(kind('[mcp_servers.baton]\nargs = [\n  "--url", # a comment\n  "command = x",\n]\nurl = "http://x"\n'), 'http', '"command =" inside a multi-line array is text');
  assert.equal(kind('mcp_servers = { baton = { env = { A = "1" }, command = "x" } }\n'), 'stdio', 'nested inline tables');
  assert.equal(kind('[mcp_servers.baton]\nurl = """\nhttp://x"""  # comment\n[mcp_servers.baton.env]\ncommand = "not the server\'s"\n'), 'http', 'command of a sub-table is not the server\'s');
  assert.equal(kind("[mcp_servers.'baton']\nargs = ['a']\ncommand = 'x'\n"), 'stdio');
  assert.equal(kind('[mcp_servers.baton\ncommand = "x"\n'), null, 'invalid TOML: Codex reports it; Baton does not guess');
});

test('wireMcp aider and env-only: environment variables and a standard mcp.json for whatever runs there', t => {
  const sessionDir = tmp(t);
  for (const id of ['aider', 'shell']) {
    const w = wireMcp(builtin(id), endpoint, sessionDir, '/work/project');
    const file = path.join(sessionDir, 'mcp.json');
    assert.deepEqual(w.args, []);
    assert.deepEqual(w.env, { BATON_MCP_URL: endpoint.url, BATON_MCP_TOKEN: TOKEN, BATON_MCP_NAME: 'baton', BATON_MCP_CONFIG: file });
    assert.deepEqual(w.files, [file]);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).mcpServers.baton.url, endpoint.url);
    if (id === 'aider') assert.match(w.description, /^Aider has no MCP client, so it cannot call Baton's tools/);
    checkCommon(w, sessionDir);
  }
});

test('wireMcp: every built-in profile is wired without the token in the description or arguments', t => {
  const root = tmp(t);
  for (const p of BUILTIN_PROFILES) {
    const profile = p.mcp === 'gemini' ? { ...p, env: { GEMINI_CLI_HOME: path.join(root, 'nohome') } } : p.mcp === 'codex' ? { ...p, env: { CODEX_HOME: path.join(root, 'nocodex') } } : p;
    const sessionDir = path.join(root, p.id);
    const w = wireMcp(profile, endpoint, sessionDir, '/work/project');
    checkCommon(w, sessionDir);
    assert.ok(!JSON.stringify(w.args).includes(TOKEN));
  }
});

test('wireMcp: rejects a bad server name or URL', t => {
  const sessionDir = tmp(t);
  assert.throws(() => wireMcp(builtin('claude'), { ...endpoint, name: 'ba ton' }, sessionDir, '/w'), /server name must be letters/);
  assert.throws(() => wireMcp(builtin('claude'), { ...endpoint, name: 'a.b' }, sessionDir, '/w'), /server name/);
  assert.throws(() => wireMcp(builtin('claude'), { ...endpoint, url: 'not a url' }, sessionDir, '/w'), /not a URL/);
  assert.throws(() => wireMcp(builtin('claude'), { ...endpoint, url: 'file:///etc/passwd' }, sessionDir, '/w'), /must be http/);
  assert.throws(() => wireMcp(builtin('claude'), { ...endpoint, url: 'http://u:p@127.0.0.1/mcp' }, sessionDir, '/w'), /credentials/);
});

test('stripJsonComments: removes // and /* */ comments outside strings only', () => {
  const text = '{\n // c1\n "a": "http://x//y", /* c2\n more */ "b": "/* not */", "c": "q\\"//"\n}';
  assert.deepEqual(JSON.parse(stripJsonComments(text)), { a: 'http://x//y', b: '/* not */', c: 'q"//' });
});
