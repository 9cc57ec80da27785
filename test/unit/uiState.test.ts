import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Actor, Sprint } from '../../src/core/model';
import { groupSprintsByPlan, planLabel } from '../../src/core/planGroups';
import { PlanRepository } from '../../src/store/planRepository';
import { ExpansionMemory, volatileStore } from '../../src/ui/expansionMemory';
import { commandLink, plainNotificationText } from '../../src/ui/notificationText';
import { openTestOwner, samplePlansDir } from './helpers/owner';

const me: Actor = { kind: 'user', name: 'ada' };
let owner: Awaited<ReturnType<typeof openTestOwner>>;
before(async () => { owner = await openTestOwner(); });
after(async () => { await owner.cleanup(); });

const names = (sprints: Sprint[]) => sprints.map(s => s.name);

test('one imported plan keeps the flat layout; a second groups each plan\'s sprints under it, Baton\'s own sprints stay loose', () => {
  const plan = owner.plan;
  const imports = () => new PlanRepository(owner.db).listImports();
  plan.importDocument(fs.readFileSync(path.join(samplePlansDir, 'orchestron-implementation-plan.md'), 'utf8'), 'PLAN.md', me);
  assert.equal(groupSprintsByPlan(plan.listSprints(), imports()), null, 'one plan: flat');

  const own = plan.createSprint({ name: 'Hotfixes' }, me);
  assert.equal(groupSprintsByPlan(plan.listSprints(), imports()), null, 'one plan and a Baton sprint: still flat');

  // Two documents that both start with a "Phase 1": the case.
  plan.importDocument('# Roadmap\n\n## Phase 1: Discovery\n\n- [ ] Interview five users\n- [ ] Write the brief\n\n## Phase 2: Build\n\n- [ ] Prototype\n', 'docs/ROADMAP.md', me);
  const layout = groupSprintsByPlan(plan.listSprints(), imports());
  assert.ok(layout, 'two plans: grouped');
  assert.deepEqual(layout.map(e => (e.kind === 'plan' ? `plan ${e.plan.source}` : `sprint ${e.sprint.name}`)), ['plan PLAN.md', 'sprint Hotfixes', 'plan docs/ROADMAP.md']);
  const [first, , second] = layout;
  assert.ok(first.kind === 'plan' && second.kind === 'plan');
  assert.equal(first.plan.sprints.length, 5, 'the five phases of the demo plan (its Timeline weeks restate them and are skipped)');
  assert.equal(first.plan.sprints[0].name, 'Phase 1: MCP Server Implementation');
  assert.deepEqual(names(second.plan.sprints), ['Phase 1: Discovery', 'Phase 2: Build']);
  assert.equal(second.plan.format, 'markdown');
  assert.match(second.plan.importedAt ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.equal(planLabel(second.plan.source), 'ROADMAP.md');
  assert.ok(!layout.some(e => e.kind === 'plan' && e.plan.sprints.some(s => s.id === own.id)), 'the Baton sprint is in no plan');

  // Re-importing a plan (its import time changes) does not reorder the plans.
  plan.importDocument(fs.readFileSync(path.join(samplePlansDir, 'orchestron-implementation-plan.md'), 'utf8'), 'PLAN.md', me);
  const again = groupSprintsByPlan(plan.listSprints(), imports())!;
  assert.deepEqual(again.map(e => (e.kind === 'plan' ? e.plan.source : e.sprint.name)), ['PLAN.md', 'Hotfixes', 'docs/ROADMAP.md']);
});

test('a source that prefixes another, and keys holding "#", find their own plan', () => {
  const sprint = (id: string, sourceKey: string | null, position: number): Sprint => ({
    id, name: id, goal: '', startDate: null, endDate: null, state: 'planned', position, sourceKey, agent: null, createdAt: '', updatedAt: '',
  });
  const imports = [
    { source: 'plan.md', format: 'markdown', importedAt: '2026-01-01T00:00:00.000Z' },
    { source: 'plan.md#v2', format: 'markdown', importedAt: '2026-01-02T00:00:00.000Z' },
  ];
  const layout = groupSprintsByPlan([
    sprint('S-1', 'plan.md#phase-1', 0),
    sprint('S-2', 'plan.md#v2#phase-1', 1),
    sprint('S-3', 'gone.json#tm#1', 2),
    sprint('S-4', null, 3),
  ], imports)!;
  assert.deepEqual(layout.map(e => (e.kind === 'plan' ? `${e.plan.source}: ${e.plan.sprints.map(s => s.id).join(',')}` : e.sprint.id)),
    ['plan.md: S-1', 'plan.md#v2: S-2', 'gone.json: S-3', 'S-4']);
  const gone = layout[2];
  assert.ok(gone.kind === 'plan' && gone.plan.format === null, 'a source the imports table no longer lists still gets its group');
});

test('expansion memory: what the person expanded or collapsed survives a reload (a new memory on the same store), bounded', () => {
  const store = volatileStore();
  const memory = new ExpansionMemory(store, 'k', 3);
  memory.set('sprint:S-1', 'collapsed');
  memory.set('task:T-4', 'expanded');
  const reloaded = new ExpansionMemory(store, 'k', 3);
  assert.equal(reloaded.get('sprint:S-1'), 'collapsed');
  assert.equal(reloaded.get('task:T-4'), 'expanded');
  assert.equal(reloaded.get('task:T-5'), undefined, 'never touched: the provider\'s default applies');
  reloaded.set('a', 'expanded');
  reloaded.set('b', 'expanded');
  const bounded = new ExpansionMemory(store, 'k', 3);
  assert.equal(bounded.get('sprint:S-1'), undefined, 'the oldest entry is dropped past the limit');
  assert.equal(bounded.get('b'), 'expanded');
  // A damaged stored value is ignored, not thrown.
  void store.update('bad', { not: 'a list' });
  assert.equal(new ExpansionMemory(store, 'bad').get('x'), undefined);
});

test('messages to the person: listed newest first without marking read, reply reaches the sending session, read events name what became read', () => {
  const { messages, sessions } = owner.services;
  const human = { kind: 'user' as const, id: 'human' };
  const agent = sessions.connect({ agentName: 'claude' });
  const read: string[][] = [];
  const sub = messages.onDidReadMessages(e => { if (e.recipient.id === 'human') read.push(e.ids); });
  const first = messages.send({ from: { kind: 'session', id: agent.id, name: `claude#${agent.id}` }, to: 'human', body: 'Schema done', subject: 'Status' }).message;
  const second = messages.send({ from: { kind: 'session', id: agent.id, name: `claude#${agent.id}` }, to: 'human', body: 'Which port?' }).message;
  const before = messages.unreadCount(human);
  assert.deepEqual(messages.received(human, 2).map(m => m.id), [second.id, first.id]);
  assert.equal(messages.unreadCount(human), before, 'listing marks nothing read');
  assert.equal(messages.getReceived(human, second.id.toLowerCase()).body, 'Which port?');
  assert.throws(() => messages.getReceived(human, 'M-99999'), /No message "M-99999"/);

  const reply = messages.reply(human, second.id, { kind: 'user', id: 'human', name: 'ada' }, 'Use 8080');
  assert.equal(reply.recipients, 1);
  assert.equal(reply.message.subject, `Re: ${second.id}`);
  const agentBox = messages.read({ kind: 'session', id: agent.id }, { markRead: false });
  assert.deepEqual(agentBox.map(m => [m.body, m.from.name]), [['Use 8080', 'ada']]);
  assert.ok(messages.getReceived(human, second.id).readAt, 'replying marks the message read');
  assert.deepEqual(read, [[second.id]]);
  assert.equal(messages.markRead(human, [second.id]), 0, 'already read: nothing changes, no event');
  assert.deepEqual(read, [[second.id]]);
  assert.equal(messages.reply(human, first.id, { kind: 'user', id: 'human', name: 'ada' }, 'Thanks').message.subject, 'Re: Status');

  const fromPerson = messages.send({ from: { kind: 'user', id: 'human', name: 'ada' }, to: 'human', body: 'note to self' }).message;
  assert.throws(() => messages.reply(human, fromPerson.id, { kind: 'user', id: 'human', name: 'ada' }, 'x'), /not an agent session/);
  sub.dispose();
});

test('notification text: an agent cannot plant a command link; Baton\'s own links carry their arguments', () => {
  // The pattern VS Code 1.139's workbench uses to find links in a notification's message.
  const LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^\)\s]+)(?: (["'])(.+?)(\3))?\)/gi;
  const evil = 'Done. [Click to approve](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%20-rf%20~%5Cn%22%7D) or [x\n](https://evil.example)';
  const shown = `${plainNotificationText(evil)} ${commandLink('Answer', 'baton.answerRequest', 'Q-7')}`;
  const links = [...shown.matchAll(LINK)].map(m => [m[1], m[2]]);
  assert.deepEqual(links, [['Answer', 'command:baton.answerRequest?%5B%22Q-7%22%5D']]);
  assert.match(shown, /^Done\. ［Click to approve］\(command:workbench/, 'the text is still readable');
  assert.deepEqual(JSON.parse(decodeURIComponent(links[0][1].split('?')[1])), ['Q-7']);
});
