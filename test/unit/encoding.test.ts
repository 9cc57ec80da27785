import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { looksMisencoded, repairMojibake } from '../../src/core/encoding';

/** `<repo>/../shared/fixtures`, found by walking up from this file (works in the developers' checkout and in a CI clone; falls back to resources/sample-plans). */
function fixturesDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'fixtures');
    if (fs.existsSync(path.join(candidate, 'orchestration-v1-readiness-plan.md'))) return candidate;
    // Outside the workplace layout, the same documents ship as the extension's sample plans.
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '../../resources/sample-plans');
  }
}

const FIXTURES = ['orchestration-v1-readiness-plan.md', 'orchestron-implementation-plan.md'];

/**
 * An independent Windows-1252 decoder for the tests (Node 20's TextDecoder('windows-1252') decodes
 * 0x80–0x9F as C1 controls, i.e. as Latin-1). Undefined bytes become C1 controls, as browsers do.
 */
const CP1252: Record<number, string> = {
  0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ', 0x89: '‰',
  0x8a: 'Š', 0x8b: '‹', 0x8c: 'Œ', 0x8e: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•',
  0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9a: 'š', 0x9b: '›', 0x9c: 'œ', 0x9e: 'ž', 0x9f: 'Ÿ',
};
function asCp1252(text: string): string {
  return Array.from(Buffer.from(text, 'utf8'), b => CP1252[b] ?? String.fromCharCode(b)).join('');
}
function asLatin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

test('repairMojibake: repairs emoji, symbols and accents decoded as cp1252', () => {
  assert.equal(repairMojibake('ðŸ“‹ Plan'), '📋 Plan');
  assert.equal(repairMojibake('âœ… Done'), '✅ Done');
  assert.equal(repairMojibake('a â€” b'), 'a — b');
  assert.equal(repairMojibake('cafÃ© crÃ¨me'), 'café crème');
  assert.equal(repairMojibake('â€œquotedâ€\u009d'), '“quoted”'); // 0x9D is undefined in cp1252: kept as C1
  assert.equal(repairMojibake('Browser â†” Agent'), 'Browser ↔ Agent');
});

test('repairMojibake: repairs text decoded as Latin-1 (raw C1 controls stand for bytes 0x80–0x9F)', () => {
  assert.equal(repairMojibake(asLatin1('📋 Plan — été')), '📋 Plan — été');
  assert.equal(repairMojibake(asLatin1('⚠️ Warning')), '⚠️ Warning');
});

test('repairMojibake: correct text, including non-ASCII, is never changed', () => {
  const correct = [
    '',
    'plain ASCII text',
    'café',
    '—',
    'naïve résumé ±5 °C — “quoted” … ™ € Œuvre',
    'Browser ↔ Agent → ✅ 🎯 📋',
    'São Paulo, Zürich, Ærø, ½ × ¾',
    'Ã alone',
  ];
  for (const text of correct) {
    assert.equal(repairMojibake(text), text, text);
    assert.equal(looksMisencoded(text), false, text);
  }
});

test('repairMojibake: a mis-decoded run next to correct text is repaired, the correct text kept', () => {
  assert.equal(repairMojibake('café and cafÃ©'), 'café and café');
  assert.equal(repairMojibake('— vs â€”'), '— vs —');
});

test('repairMojibake: text mis-decoded twice is repaired', () => {
  assert.equal(repairMojibake(asCp1252(asCp1252('✅ Sprint A — done'))), '✅ Sprint A — done');
  assert.equal(repairMojibake(asLatin1(asLatin1('📋 Plan'))), '📋 Plan');
});

test('looksMisencoded: true for mojibake, false for clean text', () => {
  assert.equal(looksMisencoded('ðŸŽ¯ Vision'), true);
  assert.equal(looksMisencoded('ðŸŽ¯ Vision'.replace('Ÿ', '\u009f').replace('Ž', '\u008e')), true);
  assert.equal(looksMisencoded('🎯 Vision'), false);
});

test('repairMojibake: both fixtures survive a Latin-1 and a cp1252 mis-decode round trip', () => {
  for (const name of FIXTURES) {
    const clean = fs.readFileSync(path.join(fixturesDir(), name), 'utf8');
    assert.equal(looksMisencoded(clean), false, `${name} is clean`);
    for (const damaged of [asLatin1(clean), asCp1252(clean)]) {
      assert.notEqual(damaged, clean);
      assert.equal(looksMisencoded(damaged), true);
      assert.equal(repairMojibake(damaged), clean, name);
    }
  }
});
