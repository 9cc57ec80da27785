/**
 * Bounded memory of a terminal session's recent output, and a small renderer that turns raw
 * terminal output (ANSI colours, `\r` progress bars, cursor movement) into plain text lines.
 *
 * Pure: no I/O, no timers, no `vscode`.
 */
// strip-ansi@6 is CommonJS (`module.exports = fn`).
import stripAnsi = require('strip-ansi');

/** Default capacity of an {@link OutputBuffer}: 1 MiB. */
export const DEFAULT_OUTPUT_BUFFER_BYTES = 1024 * 1024;

/** Appended strings longer than this (UTF-16 units) are stored as several pieces, so old output is dropped gradually. */
const PIECE_CHARS = 32 * 1024;
/** Consecutive small chunks are merged until a piece reaches this many bytes (keeps the ring short when a TUI writes byte by byte). */
const COALESCE_BYTES = 8 * 1024;
/** `lines(n)` renders at least this many trailing bytes, growing the window until it holds n lines. */
const MIN_RENDER_WINDOW = 64 * 1024;

/**
 * A ring of output chunks holding at most `maxBytes` bytes (UTF-8) of a session's most recent output.
 *
 * Appending never grows memory past the bound: the oldest chunks are dropped first, and a single
 * chunk larger than the bound keeps only its tail. The buffer holds between roughly
 * `maxBytes - 96 KiB` and `maxBytes` bytes once that much output has been seen.
 */
export class OutputBuffer {
  /** Most recent output last; `chunks[head]` is the oldest held chunk. */
  private chunks: string[] = [];
  private sizes: number[] = [];
  private head = 0;
  private held = 0;
  private total = 0;
  /** Screen height used to place absolute cursor moves (CSI H) when rendering lines; see {@link renderTerminalText}. */
  rows: number;

  /**
   * @param maxBytes capacity in bytes of UTF-8 (default 1 MiB); must be a positive integer.
   * @param rows screen height hint for {@link lines} (default 24); {@link TerminalSession} keeps it in step with resizes.
   * @throws RangeError when `maxBytes` is not a positive integer.
   */
  constructor(readonly maxBytes: number = DEFAULT_OUTPUT_BUFFER_BYTES, rows = 24) {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new RangeError(`OutputBuffer maxBytes must be a positive integer, got ${maxBytes}`);
    this.rows = rows;
  }

  /** Bytes (UTF-8) of every chunk ever appended, including output since dropped; `clear()` does not reset it. */
  get totalBytes(): number {
    return this.total;
  }

  /** Bytes (UTF-8) currently held; never more than `maxBytes`. */
  get heldBytes(): number {
    return this.held;
  }

  /** Number of pieces currently held (for tests and diagnostics). */
  get chunkCount(): number {
    return this.chunks.length - this.head;
  }

  /** Appends raw terminal output (any escape sequences kept as they are). Empty strings are ignored. */
  append(chunk: string): void {
    if (!chunk) return;
    if (chunk.length <= PIECE_CHARS) {
      const bytes = Buffer.byteLength(chunk, 'utf8');
      this.total += bytes;
      this.push(chunk, bytes);
      return;
    }
    this.total += Buffer.byteLength(chunk, 'utf8');
    // Only the tail can survive; skip pieces that would be dropped at once.
    let start = 0;
    const keepChars = this.maxBytes; // a character is at least one byte
    if (chunk.length > keepChars) start = chunk.length - keepChars;
    for (let i = start; i < chunk.length; ) {
      let end = Math.min(chunk.length, i + PIECE_CHARS);
      // Do not split a surrogate pair between pieces.
      if (end < chunk.length && isHighSurrogate(chunk.charCodeAt(end - 1))) end++;
      const piece = chunk.slice(i, end);
      this.push(piece, Buffer.byteLength(piece, 'utf8'));
      i = end;
    }
  }

  /** All held output as one raw string (escape sequences included), oldest first. */
  text(): string {
    return this.chunks.slice(this.head).join('');
  }

  /**
   * The last `n` lines of output as plain text: escape sequences removed (strip-ansi plus the cursor
   * controls below), `\r` overwrites resolved the way a terminal shows them (a progress bar keeps its
   * last state), `\b`, erase-in-line and cursor moves applied, trailing spaces trimmed and trailing
   * empty lines dropped. Without `n`, every held line. The oldest held line may be cut short when
   * older output was dropped.
   */
  lines(n?: number): string[] {
    if (n !== undefined && n <= 0) return [];
    const count = this.chunks.length - this.head;
    if (count === 0) return [];
    if (n === undefined) return trimTrailingEmpty(renderTerminalText(this.text(), { rows: this.rows }));
    let window = Math.max(MIN_RENDER_WINDOW, n * 256);
    for (;;) {
      // Collect the newest chunks until at least `window` bytes.
      let bytes = 0;
      let first = this.chunks.length;
      while (first > this.head && bytes < window) {
        first--;
        bytes += this.sizes[first];
      }
      const whole = first === this.head;
      let lines = trimTrailingEmpty(renderTerminalText(this.chunks.slice(first).join(''), { rows: this.rows }));
      if (!whole) lines = lines.slice(1); // the first line of a partial window may be cut
      if (lines.length >= n || whole) return lines.slice(-n);
      window *= 4;
    }
  }

  /** Drops all held output (`totalBytes` keeps counting). */
  clear(): void {
    this.chunks = [];
    this.sizes = [];
    this.head = 0;
    this.held = 0;
  }

  private push(piece: string, bytes: number): void {
    if (bytes > this.maxBytes) {
      piece = tailBytes(piece, this.maxBytes);
      bytes = Buffer.byteLength(piece, 'utf8');
    }
    const last = this.chunks.length - 1;
    if (last >= this.head && this.sizes[last] + bytes <= COALESCE_BYTES) {
      this.chunks[last] += piece;
      this.sizes[last] += bytes;
    } else {
      this.chunks.push(piece);
      this.sizes.push(bytes);
    }
    this.held += bytes;
    while (this.held > this.maxBytes && this.head < this.chunks.length) {
      this.held -= this.sizes[this.head];
      this.chunks[this.head] = '';
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** The last `maxBytes` bytes of `s` in UTF-8, starting at a character boundary, as a fresh string. */
function tailBytes(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  let start = buf.length - maxBytes;
  while (start < buf.length && (buf[start] & 0xc0) === 0x80) start++; // skip continuation bytes
  return buf.subarray(start).toString('utf8');
}

function trimTrailingEmpty(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0 && lines[end - 1] === '') end--;
  return end === lines.length ? lines : lines.slice(0, end);
}

/** Options of {@link renderTerminalText}. */
export interface RenderOptions {
  /** Screen height, used to map absolute cursor positions (CSI row;col H) onto the last `rows` lines. Default 24. */
  rows?: number;
  /** Keep trailing spaces of each line (default false: trimmed). */
  keepTrailingSpaces?: boolean;
}

/** Columns beyond this are not rendered (cursor moves are clamped to it). */
const MAX_COLUMN = 4096;
const CSI_RE = /\x1b\[([0-9;:?<=>!]*)[ -/]*([@-~])/y;
const STRING_RE = /\x1b[\]P^_X][\s\S]*?(?:\x07|\x1b\\|$)/y; // OSC, DCS, SOS, PM, APC (terminated by BEL or ST, or cut at the end)
const ESC_RE = /\x1b[ -/]*[0-~]/y;
const CONTROL_RE = /[\x00-\x1f\x7f\x9b]/g; // U+009B is the 8-bit CSI introducer: dropped

/**
 * Renders raw terminal output into lines of plain text, approximating what a terminal would show.
 *
 * Handled: `\n` (new line, column 0), `\r`, `\b`, `\t` (kept), CSI K (erase in line), G/` (column),
 * C/D (right/left), A/B/E/F (up/down), H/f/d (absolute position, rows counted from the top of the last
 * `rows` lines), J (erase display, from the cursor or all of the screen), X/P/@ (erase/delete/insert
 * characters), L/M (insert/delete lines), ESC M (reverse index). Leaving the alternate screen right
 * after clearing it restores what the clear erased (a tmux client does this when it detaches).
 * Colours, modes and every other
 * escape sequence (CSI, OSC, DCS, charset selection) are removed; remaining C0 controls are dropped.
 * Lines are logical: long lines are not wrapped at the terminal width. Wide characters count as one column.
 *
 * @returns lines oldest first; the last one is the cursor's line (possibly empty).
 */
export function renderTerminalText(raw: string, options: RenderOptions = {}): string[] {
  const rows = Math.max(1, options.rows ?? 24);
  const lines: string[] = [''];
  let r = 0;
  let c = 0;

  const ensureRow = (row: number) => {
    while (lines.length <= row) lines.push('');
  };
  // Screen content blanked by the last "erase display", until text is written again: a program that
  // clears its screen and then leaves the alternate screen (what a tmux client does when it
  // detaches or its pane dies) leaves the last content it showed readable.
  let clearedScreen: { top: number; saved: string[] } | undefined;
  const write = (text: string) => {
    clearedScreen = undefined;
    const line = lines[r];
    if (c === line.length) lines[r] = line + text;
    else if (c > line.length) lines[r] = line + ' '.repeat(c - line.length) + text;
    else lines[r] = line.slice(0, c) + text + line.slice(c + text.length);
    c += text.length;
  };
  const screenTop = () => Math.max(0, lines.length - rows);

  let i = 0;
  const len = raw.length;
  CONTROL_RE.lastIndex = 0;
  while (i < len) {
    CONTROL_RE.lastIndex = i;
    const m = CONTROL_RE.exec(raw);
    const next = m ? m.index : len;
    if (next > i) write(raw.slice(i, next));
    if (!m) break;
    i = next;
    const ch = raw.charCodeAt(i);
    if (ch === 0x0a) {
      // LF: a pty turns "\n" into "\r\n" anyway; a bare "\n" from other sources also starts at column 0.
      r++;
      ensureRow(r);
      c = 0;
      i++;
    } else if (ch === 0x0d) {
      c = 0;
      i++;
    } else if (ch === 0x08) {
      if (c > 0) c--;
      i++;
    } else if (ch === 0x09) {
      write('\t');
      i++;
    } else if (ch === 0x1b) {
      CSI_RE.lastIndex = i;
      const csi = CSI_RE.exec(raw);
      if (csi) {
        i = CSI_RE.lastIndex;
        const params = csi[1];
        if (params.length > 0 && /[?<=>!]/.test(params[0])) {
          // Private modes are ignored, except leaving the alternate screen right after clearing it.
          if (clearedScreen && csi[2] === 'l' && /^\?(1049|1047|47)$/.test(params)) {
            const { top, saved } = clearedScreen;
            for (let k = 0; k < saved.length; k++) lines[top + k] = saved[k];
            clearedScreen = undefined;
          }
          continue;
        }
        // Counts and positions are clamped: a hostile "ESC [ 99999999 B" must not allocate millions of lines.
        const nums = params === '' ? [] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Math.min(Number(p) || 0, MAX_COLUMN)));
        const n1 = nums[0] || 1; // count parameter, default 1
        switch (csi[2]) {
          case 'K': {
            const mode = nums[0] ?? 0;
            const line = lines[r];
            if (mode === 0) lines[r] = line.slice(0, c);
            else if (mode === 1) lines[r] = ' '.repeat(c + 1) + line.slice(c + 1);
            else if (mode === 2) lines[r] = '';
            break;
          }
          case 'G':
          case '`':
            c = n1 - 1;
            break;
          case 'C':
            c = Math.min(c + n1, MAX_COLUMN);
            break;
          case 'D':
            c = Math.max(0, c - n1);
            break;
          case 'A':
            r = Math.max(Math.min(r, screenTop()), r - n1);
            break;
          case 'F':
            r = Math.max(Math.min(r, screenTop()), r - n1);
            c = 0;
            break;
          case 'B':
            r = Math.min(r + n1, Math.max(r, screenTop() + rows - 1));
            ensureRow(r);
            break;
          case 'E':
            r = Math.min(r + n1, Math.max(r, screenTop() + rows - 1));
            ensureRow(r);
            c = 0;
            break;
          case 'H':
          case 'f': {
            const row = Math.min(nums[0] || 1, rows);
            r = screenTop() + row - 1;
            ensureRow(r);
            c = (nums[1] || 1) - 1;
            break;
          }
          case 'd':
            r = screenTop() + Math.min(n1, rows) - 1;
            ensureRow(r);
            break;
          case 'J': {
            const mode = nums[0] ?? 0;
            if (mode === 0) {
              // Erase below: the screen keeps its height, so rows are blanked rather than removed.
              lines[r] = lines[r].slice(0, c);
              for (let k = r + 1; k < lines.length; k++) lines[k] = '';
            } else if (mode === 2 || mode === 3) {
              const top = screenTop();
              const saved = lines.slice(top);
              if (!clearedScreen && saved.some((l) => l !== '')) clearedScreen = { top, saved };
              for (let k = top; k < lines.length; k++) lines[k] = '';
            }
            break;
          }
          case 'X': {
            const line = lines[r];
            if (c < line.length) lines[r] = line.slice(0, c) + ' '.repeat(Math.min(n1, line.length - c)) + line.slice(c + n1);
            break;
          }
          case 'P': {
            const line = lines[r];
            if (c < line.length) lines[r] = line.slice(0, c) + line.slice(c + n1);
            break;
          }
          case '@': {
            const line = lines[r];
            if (c < line.length) lines[r] = line.slice(0, c) + ' '.repeat(n1) + line.slice(c);
            break;
          }
          case 'L': {
            // Insert lines: rows pushed past the bottom of the screen are lost.
            const bottom = screenTop() + rows;
            lines.splice(r, 0, ...new Array<string>(Math.min(n1, rows)).fill(''));
            if (lines.length > bottom) lines.length = Math.max(bottom, r + 1);
            break;
          }
          case 'M': {
            // Delete lines: rows below move up and blank rows appear at the bottom.
            const removed = lines.splice(r, Math.min(n1, rows)).length;
            for (let k = 0; k < removed; k++) lines.push('');
            break;
          }
          default:
            break; // SGR colours, scroll regions, …: nothing to render
        }
        continue;
      }
      STRING_RE.lastIndex = i;
      if (STRING_RE.exec(raw)) {
        i = STRING_RE.lastIndex;
        continue;
      }
      ESC_RE.lastIndex = i;
      const esc = ESC_RE.exec(raw);
      if (esc) {
        i = ESC_RE.lastIndex;
        if (esc[0] === '\x1bM') r = Math.max(0, r - 1); // reverse index
        else if (esc[0] === '\x1bE') {
          r++;
          ensureRow(r);
          c = 0;
        }
        continue;
      }
      i++; // lone ESC (possibly cut at the end of the window)
    } else {
      i++; // other C0 controls (BEL, SO/SI, …) and 8-bit CSI introducer: dropped
    }
  }
  if (options.keepTrailingSpaces) return lines;
  return lines.map((l) => l.replace(/\s+$/, ''));
}

/**
 * Visible text of a chunk of terminal output: escape sequences removed (then strip-ansi), other control
 * characters except `\n` and `\t` dropped. Cheap enough to run on every chunk.
 */
export function visibleText(chunk: string): string {
  const plain = chunk.includes('\x1b') || chunk.includes('\x9b') ? stripAnsi(chunk.replace(ESCAPES_RE, '')) : chunk;
  return plain.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/** Every ECMA-48 escape sequence (CSI with private markers such as `ESC [ > c`, OSC/DCS strings, two-byte escapes), which strip-ansi misses in part. */
const ESCAPES_RE = /\x1b\[[0-9;:?<=>!]*[ -/]*[@-~]|\x1b[\]P^_X][\s\S]*?(?:\x07|\x1b\\|$)|\x1b[ -/]*[0-~]|\x9b[0-9;:?<=>!]*[ -/]*[@-~]/g;
