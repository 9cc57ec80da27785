/**
 * Repair of "mojibake": text that was UTF-8 but was decoded as Latin-1 / Windows-1252 somewhere on
 * its way (a copy through a legacy tool, a web form, a wrongly configured editor). Plans written by
 * agents are full of emoji and typographic punctuation, so they arrive as `ðŸ“‹` instead of 📋,
 * `âœ…` instead of ✅, `â€”` instead of — and `Ã©` instead of é.
 *
 * The damage is reversible: each wrong character stands for one byte of the original UTF-8. We map
 * every character back to its byte (Windows-1252 for 0x80–0x9F, Latin-1 identity otherwise, raw C1
 * controls U+0080–U+009F accepted as the bytes a Latin-1 decoder turns them into) and decode the
 * bytes again as strict UTF-8.
 *
 * Correct text must never be damaged, so the repair works per run: a maximal run of characters that
 * are all single-byte representable and are all >= 0x80 (UTF-8 multi-byte sequences consist only of
 * such bytes; ASCII never takes part in one). A run is replaced only when its bytes decode as valid
 * UTF-8; otherwise it is kept as it was. `café` (a lone 0xE9) or `—` (a lone 0x97) are not valid
 * UTF-8, so they stay unchanged, while `Ã©` (C3 A9) becomes `é`.
 *
 * Pure: no I/O.
 */

/** Windows-1252 characters for the bytes 0x80–0x9F (the five undefined bytes are absent). */
const CP1252_HIGH: ReadonlyArray<readonly [byte: number, char: string]> = [
  [0x80, '\u20AC'], // €
  [0x82, '\u201A'], // ‚
  [0x83, '\u0192'], // ƒ
  [0x84, '\u201E'], // „
  [0x85, '\u2026'], // …
  [0x86, '\u2020'], // †
  [0x87, '\u2021'], // ‡
  [0x88, '\u02C6'], // ˆ
  [0x89, '\u2030'], // ‰
  [0x8a, '\u0160'], // Š
  [0x8b, '\u2039'], // ‹
  [0x8c, '\u0152'], // Œ
  [0x8e, '\u017D'], // Ž
  [0x91, '\u2018'], // ‘
  [0x92, '\u2019'], // ’
  [0x93, '\u201C'], // “
  [0x94, '\u201D'], // ”
  [0x95, '\u2022'], // •
  [0x96, '\u2013'], // –
  [0x97, '\u2014'], // —
  [0x98, '\u02DC'], // ˜
  [0x99, '\u2122'], // ™
  [0x9a, '\u0161'], // š
  [0x9b, '\u203A'], // ›
  [0x9c, '\u0153'], // œ
  [0x9e, '\u017E'], // ž
  [0x9f, '\u0178'], // Ÿ
];

/** Code point → byte for the Windows-1252 characters outside Latin-1. */
const CP1252_BYTE = new Map<number, number>(CP1252_HIGH.map(([byte, char]) => [char.charCodeAt(0), byte]));

/** Mis-decoded text is repaired at most this many times (text that went through two wrong decodes). */
const MAX_PASSES = 3;

/**
 * The byte a Latin-1 / Windows-1252 decoder turned into this UTF-16 code unit, or -1 when no
 * single byte decodes to it (then the character cannot be part of mojibake).
 */
function byteOf(code: number): number {
  if (code <= 0xff) return code; // ASCII, raw C1 controls (Latin-1 / undefined cp1252 bytes), Latin-1
  return CP1252_BYTE.get(code) ?? -1;
}

interface RepairResult {
  text: string;
  /** How many runs were replaced. */
  repaired: number;
}

/** One pass over `text`: replaces each high-byte run that decodes as valid UTF-8. */
function repairOnce(text: string): RepairResult {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let out = '';
  let repaired = 0;
  let i = 0;
  while (i < text.length) {
    const byte = byteOf(text.charCodeAt(i));
    if (byte < 0x80) {
      // ASCII or a character no single byte decodes to: copy it up to the next candidate run.
      let j = i + 1;
      while (j < text.length && byteOf(text.charCodeAt(j)) < 0x80) j++;
      out += text.slice(i, j);
      i = j;
      continue;
    }
    let j = i;
    const bytes: number[] = [];
    for (; j < text.length; j++) {
      const b = byteOf(text.charCodeAt(j));
      if (b < 0x80) break;
      bytes.push(b);
    }
    const run = text.slice(i, j);
    let replacement = run;
    try {
      replacement = decoder.decode(Uint8Array.from(bytes));
      repaired++;
    } catch {
      // Not valid UTF-8: this run is genuine text (café, —, ±), keep it.
    }
    out += replacement;
    i = j;
  }
  return { text: out, repaired };
}

/**
 * Repairs UTF-8 text that was decoded as Latin-1 or Windows-1252 (`ðŸ“‹ Plan` → `📋 Plan`,
 * `Ã©tÃ©` → `été`). Correct text, including correct non-ASCII text, is returned unchanged: only
 * runs whose bytes form valid UTF-8 are replaced. Text that went through the wrong decode twice is
 * repaired too (up to three passes).
 */
export function repairMojibake(text: string): string {
  let current = text;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const result = repairOnce(current);
    if (result.repaired === 0) break;
    current = result.text;
  }
  return current;
}

/**
 * True when `text` contains at least one run of characters that is UTF-8 mis-decoded as
 * Latin-1 / Windows-1252, i.e. when `repairMojibake` would change it. Importers use it to decide
 * whether to repair (and to tell the user that they did).
 */
export function looksMisencoded(text: string): boolean {
  return repairOnce(text).repaired > 0;
}

/**
 * Decodes a plan file's bytes into text: UTF-8 (a UTF-8 byte-order mark is dropped), or UTF-16 LE/BE when
 * the file starts with that byte-order mark (as Windows editors save "Unicode" text). `name` names the file
 * in errors. Throws an Error saying what is wrong when the file is empty (0 bytes) or is not text (it
 * contains NUL bytes: a binary file, or UTF-16 without a byte-order mark).
 */
export function decodeTextFile(bytes: Uint8Array, name: string): string {
  if (bytes.length === 0) throw new Error(`${name} is empty (0 bytes): there is nothing to import.`);
  let text: string;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder('utf-16le').decode(bytes.subarray(2));
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder('utf-16be').decode(bytes.subarray(2));
  else {
    const nul = bytes.indexOf(0);
    if (nul !== -1) {
      throw new Error(`${name} is not a text file (NUL byte at offset ${nul}): give a markdown plan or tasks.json in UTF-8, or UTF-16 with a byte-order mark.`);
    }
    text = new TextDecoder('utf-8').decode(bytes);
  }
  text = text.replace(/^\uFEFF/, '');
  if (text.includes('\u0000')) throw new Error(`${name} is not a text file (it contains NUL characters).`);
  if (!text.trim()) throw new Error(`${name} has no text (only white space): there is nothing to import.`);
  return text;
}
