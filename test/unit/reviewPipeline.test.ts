import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatPipeline, parsePipeline, parseReview, resolvePipeline, reviewerPrompt, roundOutcome,
} from '../../src/core/reviewPipeline';

test('a pipeline spec parses into implementer, reviewers and gate, and formats back to the same pipeline', () => {
  const p = parsePipeline('implement: claude -> review: codex, gemini -> gate: human');
  assert.deepEqual(p.implement, { profile: 'claude', role: null });
  assert.deepEqual(p.reviewers, [{ profile: 'codex', role: null }, { profile: 'gemini', role: null }]);
  assert.deepEqual(p.gate, { kind: 'human' });
  assert.equal(formatPipeline(p), 'implement: claude -> review: codex, gemini -> gate: human');
  assert.deepEqual(parsePipeline(formatPipeline(p)), p);

  const rule = parsePipeline('Reviewers: codex:security, codex:style → Gate: score >= 8');
  assert.deepEqual(rule.reviewers, [{ profile: 'codex', role: 'security' }, { profile: 'codex', role: 'style' }]);
  assert.deepEqual(rule.gate, { kind: 'rule', minScore: 8 });
  assert.equal(formatPipeline(rule), 'review: codex:security, codex:style -> gate: score>=8');
  assert.deepEqual(parsePipeline('review: codex').gate, { kind: 'human' }, 'the gate defaults to the person');
  assert.deepEqual(parsePipeline('review: codex -> gate: auto').gate, { kind: 'rule', minScore: 0 });
  assert.equal(parsePipeline('none').none, true);
  assert.equal(formatPipeline(parsePipeline('OFF')), 'none');
});

test('bad pipeline specs are refused with an error naming the stage and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /non-empty/],
    ['review codex', /each stage is "name: value"/],
    ['review: codex -> approve: human', /unknown stage "approve"/],
    ['gate: human -> review: codex', /stage "review" must come before "gate"/],
    ['review: codex -> review: gemini', /stage "review" is given twice/],
    ['review: codex -> gate: maybe', /gate: gate must be "human", "auto" or "score>=N" \(N 0–10\), got "maybe"/],
    ['review: codex -> gate: score>=11', /got "score>=11"/],
    ['review: codex, codex', /codex is listed twice/],
    ['review: co dex', /review: Agent profile must be a name/],
    ['implement:  -> gate: human', /stage "implement" has no value/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => parsePipeline(spec), (e: Error) => message.test(e.message) && (spec === '' || e.message.includes(spec.trim())) || assert.fail(`${spec}: ${e.message}`));
  }
});

test('resolution: the task\'s pipeline, else the sprint\'s, else the workspace\'s; "none" switches review off', () => {
  assert.equal(resolvePipeline({ task: null, sprint: null, workspace: null }), null);
  assert.equal(resolvePipeline({ workspace: 'review: codex' })!.source, 'workspace');
  const sprint = resolvePipeline({ task: '', sprint: 'review: gemini -> gate: score>=7', workspace: 'review: codex' })!;
  assert.equal(sprint.source, 'sprint');
  assert.equal(sprint.spec, 'review: gemini -> gate: score>=7');
  assert.equal(resolvePipeline({ task: 'review: qwen', sprint: 'review: gemini', workspace: 'review: codex' })!.pipeline.reviewers[0].profile, 'qwen');
  assert.equal(resolvePipeline({ task: 'none', sprint: 'review: gemini', workspace: 'review: codex' }), null);
});

test('a review is checked field by field with zod; request_changes must say what to change', () => {
  const ok = parseReview({ score: 8.5, verdict: 'approve', summary: 'Solid.', findings: [{ file: 'src/a.ts', line: 3, message: 'nit: name' }] });
  assert.equal(ok.score, 8.5);
  assert.deepEqual(ok.findings, [{ file: 'src/a.ts', line: 3, severity: 'major', message: 'nit: name' }]);
  assert.deepEqual(ok.strengths, []);
  const bad: [unknown, RegExp][] = [
    [{ score: 11, verdict: 'approve', summary: 'x' }, /Review: score: score must be from 0 to 10/],
    [{ score: 5, verdict: 'lgtm', summary: 'x' }, /Review: verdict: verdict must be "approve" or "request_changes"/],
    [{ score: 5, verdict: 'approve', summary: '  ' }, /Review: summary: summary must not be empty/],
    [{ score: 5, verdict: 'approve', summary: 'x', findings: [{ file: 'a.ts', line: 0, message: 'm' }] }, /Review: findings\.0\.line: finding\.line must be 1 or more/],
    [{ score: 5, verdict: 'approve', summary: 'x', findings: [{ file: 'https://x.test/a', message: 'm' }] }, /not a URL/],
    [{ score: 5, verdict: 'approve', summary: 'x', mood: 'happy' }, /Review: Unrecognized key: "mood"|Review: .*mood/],
    [{ score: 3, verdict: 'request_changes', summary: 'Needs work.' }, /must say what to change/],
  ];
  for (const [input, message] of bad) assert.throws(() => parseReview(input), message);
});

test('a round waits for every reviewer; any request_changes or a score below a rule gate sends it back; else approved', () => {
  const human = { kind: 'human' } as const;
  assert.deepEqual(roundOutcome(['codex', 'gemini'], [{ reviewer: 'codex', verdict: 'approve', score: 9 }], human), { kind: 'waiting', missing: ['gemini'] });
  assert.equal(roundOutcome(['codex', 'gemini'], [{ reviewer: 'codex', verdict: 'approve', score: 9 }, { reviewer: 'gemini', verdict: 'request_changes', score: 4 }], human).kind, 'changes_requested');
  assert.equal(roundOutcome(['codex'], [{ reviewer: 'codex', verdict: 'approve', score: 7 }], { kind: 'rule', minScore: 8 }).kind, 'changes_requested');
  assert.equal(roundOutcome(['codex'], [{ reviewer: 'codex', verdict: 'approve', score: 8 }], { kind: 'rule', minScore: 8 }).kind, 'approved');
  assert.equal(roundOutcome([], [], human).kind, 'approved', 'no reviewers: straight to the gate');
});

test('the reviewer prompt holds the task, the diff against the base and the checklist, and cuts a huge diff', () => {
  const prompt = reviewerPrompt({
    task: { id: 'T-3', title: 'Login', description: 'Build the login form.', summary: 'Form and validation done.' },
    reviewer: 'codex', round: 2, base: 'main', diff: '+const a = 1;\n'.repeat(10), maxDiffChars: 50,
  });
  for (const part of ['T-3 "Login"', 'round 2', 'Build the login form.', 'Form and validation done.', 'Changes against main', '+const a = 1;',
    'diff cut at 50 characters', 'Score the work from 0 to 10', 'Critical gaps', 'Final verdict', 'submit_review']) {
    assert.ok(prompt.includes(part), `prompt has ${part}`);
  }
});
