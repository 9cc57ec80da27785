/**
 * Bounded memory of a terminal session's recent output, and the screen it draws: raw output is kept
 * in a ring (to replay into a terminal view that opens late) and parsed by a headless xterm.js
 * terminal (`@xterm/headless`, the emulator VS Code's own terminal uses), whose buffer gives the
 * plain-text lines that {@link OutputBuffer.lines} returns. Character widths follow Unicode 11
 * (`@xterm/addon-unicode11`).
 *
 * No I/O, no `vscode`. Parsing is asynchronous (xterm.js parses written data on a later tick):
 * {@link OutputBuffer.flush} waits for it, {@link OutputBuffer.append}'s callback tells when a chunk is parsed.
 */
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { type IBufferLine, Terminal } from '@xterm/headless';
// strip-ansi@6 is CommonJS (`module.exports = fn`).
import stripAnsi = require('strip-ansi');

/** Default capacity of an {@link OutputBuffer}'s raw ring: 1 MiB. */
export const DEFAULT_OUTPUT_BUFFER_BYTES = 1024 * 1024;
/** Default number of lines the terminal keeps above the screen (its scrollback): about 2 MB of cells at 100 columns (measured), allocated as output arrives. */
export const DEFAULT_SCROLLBACK_LINES = 2_000;

/** Appended strings longer than this (UTF-16 units) are stored as several pieces, so old output is dropped gradually. */
const PIECE_CHARS = 32 * 1024;
/** Consecutive small chunks are merged until a piece reaches this many bytes (keeps the ring short when a TUI writes byte by byte). */
const COALESCE_BYTES = 8 * 1024;
/**
 * Second parameters that mark the sequences `markScrollUps` writes (the sequences themselves read
 * only their first parameter): the scroll-up, the move down to the region's bottom, the moves back up.
 */
const MARK_SCROLL = 7770;
const MARK_DOWN = 7771;
const MARK_UP = 7772;
/** DEC private modes that switch to the alternate screen. */
const ALT_SCREEN_MODES = new Set([47, 1047, 1049]);

/** Options of {@link OutputBuffer}. */
export interface OutputBufferOptions {
  /** Terminal width in character cells (default 80); long lines wrap at it. */
  cols?: number;
  /** Terminal height in character cells (default 24). */
  rows?: number;
  /** Lines kept above the screen (default {@link DEFAULT_SCROLLBACK_LINES}); older lines are dropped. */
  scrollback?: number;
  /**
   * Draw alternate-screen output on the main screen, so lines that scroll off go to the scrollback
   * (default false: the alternate screen works as in any terminal). For the output of a `tmux attach`
   * client, which draws the whole pane on the alternate screen. Then a screen cleared just before
   * leaving the alternate screen (a tmux client detaching, or ending with its pane) is drawn again,
   * so the last screen stays readable, and scrolling by several lines (`CSI n S`) keeps the lines
   * it scrolls off the top. (Output that tmux never drew — when it outpaces the client tmux jumps to
   * the newest screen — is not there: tmux's own history has it.)
   */
  mainScreenOnly?: boolean;
}

/**
 * The output of one terminal session: a ring of raw chunks holding at most `maxBytes` bytes (UTF-8)
 * of the most recent output, and a headless terminal of `cols` × `rows` cells plus `scrollback`
 * lines that renders it (colours dropped, `\r` overwrites, cursor movement, erase, wide characters
 * taking two cells, lines wrapping at the width, the alternate screen).
 *
 * Appending never grows memory past the bounds: the ring drops its oldest chunks first (a single
 * chunk larger than the bound keeps only its tail), and the terminal drops lines past its scrollback.
 * The ring holds between roughly `maxBytes - 96 KiB` and `maxBytes` bytes once that much output has
 * been seen.
 */
export class OutputBuffer {
  /** Most recent output last; `chunks[head]` is the oldest held chunk. */
  private chunks: string[] = [];
  private sizes: number[] = [];
  private head = 0;
  private held = 0;
  private total = 0;
  private pending = 0;
  /** Writes (output, flushes, deferred resizes) given to the terminal and not parsed yet. */
  private queued = 0;
  /** Resolvers of {@link flush} calls not answered yet (answered at {@link dispose} if never parsed). */
  private readonly waiters = new Set<() => void>();
  /** Screens redrawn from {@link erasedScreen}, queued while parsing and not parsed yet. */
  private redraws = 0;
  private disposed = false;
  private readonly term: Terminal;
  /** Text of the screen erased by the last "erase display" (mainScreenOnly), to draw again if the alternate screen is left right after. */
  private erasedScreen: string[] | undefined;
  private readonly mainScreenOnly: boolean;
  /** Scrolling region (1-based rows; bottom undefined: the last row) as last set by `CSI top;bottom r`. */
  private region: { top: number; bottom: number | undefined } = { top: 1, bottom: undefined };
  /** The marked scroll-up being parsed (see {@link markScrollUps}): replaced by indexes, or run as it is. */
  private scrollUp: { replace: boolean; indexes: number; ups: number } | undefined;

  /**
   * @param maxBytes capacity of the raw ring in bytes of UTF-8 (default 1 MiB); must be a positive integer.
   * @param options terminal size and scrollback (see {@link OutputBufferOptions}).
   * @throws RangeError when `maxBytes` is not a positive integer, `cols` or `rows` is not an integer from 1 to 10 000, or `scrollback` is not a non-negative integer.
   */
  constructor(
    readonly maxBytes: number = DEFAULT_OUTPUT_BUFFER_BYTES,
    options: OutputBufferOptions = {},
  ) {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new RangeError(`OutputBuffer maxBytes must be a positive integer, got ${maxBytes}`);
    const cols = checkCells(options.cols ?? 80, 'cols');
    const rows = checkCells(options.rows ?? 24, 'rows');
    const scrollback = options.scrollback ?? DEFAULT_SCROLLBACK_LINES;
    if (!Number.isInteger(scrollback) || scrollback < 0) throw new RangeError(`OutputBuffer scrollback must be a non-negative integer, got ${scrollback}`);
    // reflowCursorLine: the line being written is re-wrapped on resize too, so it reads as one line.
    this.term = new Terminal({ cols, rows, scrollback, allowProposedApi: true, convertEol: false, reflowCursorLine: true });
    // Character widths of Unicode 11 (emoji such as ✅ take two cells), as in VS Code's terminal and
    // the wcwidth of current C libraries; xterm.js alone uses Unicode 6.
    this.term.loadAddon(new Unicode11Addon());
    this.term.unicode.activeVersion = '11';
    this.mainScreenOnly = options.mainScreenOnly ?? false;
    if (this.mainScreenOnly) this.keepMainScreen();
  }

  /** Terminal width in cells (a {@link resize} shows here once the output before it is parsed). */
  get cols(): number {
    return this.term.cols;
  }

  /** Terminal height in cells (see {@link cols}). */
  get rows(): number {
    return this.term.rows;
  }

  /** Bytes (UTF-8) of every chunk ever appended, including output since dropped; `clear()` does not reset it. */
  get totalBytes(): number {
    return this.total;
  }

  /** Bytes (UTF-8) currently held by the raw ring; never more than `maxBytes`. */
  get heldBytes(): number {
    return this.held;
  }

  /** Number of pieces currently held by the raw ring (for tests and diagnostics). */
  get chunkCount(): number {
    return this.chunks.length - this.head;
  }

  /** UTF-16 units appended but not parsed by the terminal yet (for flow control: pause the source while this is large). */
  get pendingChars(): number {
    return this.pending;
  }

  /** True when the terminal shows its alternate screen (a full-screen program is running). */
  get alternateScreen(): boolean {
    return this.term.buffer.active.type === 'alternate';
  }

  /**
   * Appends raw terminal output (escape sequences kept as they are in the ring). Empty strings are
   * ignored (`parsed` is still called). `parsed` is called once the terminal has parsed the chunk,
   * on a later tick, in the order of appends. After {@link dispose} only the ring is updated.
   */
  append(chunk: string, parsed?: () => void): void {
    if (this.disposed) {
      this.appendRaw(chunk);
      parsed?.();
      return;
    }
    this.appendRaw(chunk);
    this.pending += chunk.length;
    this.queue(this.mainScreenOnly ? this.markScrollUps(chunk) : chunk, () => {
      this.pending -= chunk.length;
      parsed?.();
    });
  }

  /**
   * Resolves once everything appended (and every resize asked for) so far has been parsed: at once
   * when nothing is queued; at {@link dispose} at the latest.
   */
  flush(): Promise<void> {
    if (this.disposed || this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.add(resolve);
      const done = () => {
        // A screen redrawn while parsing (see keepMainScreen) was queued behind this flush: wait for it too.
        if (this.redraws > 0 && !this.disposed) return this.queue('', done);
        this.waiters.delete(resolve);
        resolve();
      };
      this.queue('', done);
    });
  }

  /**
   * Resizes the terminal after the output appended so far has been parsed (the program redraws for
   * the new size after that output): wrapped lines are re-wrapped to the new width.
   * @throws RangeError for sizes that are not integers from 1 to 10 000.
   */
  resize(cols: number, rows: number): void {
    checkCells(cols, 'cols');
    checkCells(rows, 'rows');
    if (this.disposed) return;
    if (this.queued === 0) this.term.resize(cols, rows);
    else this.queue('', () => !this.disposed && this.term.resize(cols, rows));
  }

  /** All output held by the raw ring as one string (escape sequences included), oldest first. */
  text(): string {
    return this.chunks.slice(this.head).join('');
  }

  /**
   * The last `n` logical lines of the screen and its scrollback (of the alternate screen while it is
   * shown), as plain text: what a terminal of this size shows, with rows that a long line wrapped
   * onto joined back into one line, trailing spaces trimmed and blank lines at the bottom dropped.
   * Without `n`, every held line. Reflects the output parsed so far (see {@link flush}); the oldest
   * line may be cut short when older lines left the scrollback.
   */
  lines(n?: number): string[] {
    if ((n !== undefined && n <= 0) || this.disposed) return [];
    const buffer = this.term.buffer.active;
    const want = n ?? Infinity;
    const out: string[] = [];
    let end = buffer.length; // rows [start, end) form the logical line being read
    let trailingBlank = true;
    while (end > 0 && out.length < want) {
      let start = end - 1;
      while (start > 0 && buffer.getLine(start)?.isWrapped) start--;
      const text = this.logicalLine(start, end);
      end = start;
      if (trailingBlank && text === '') continue;
      trailingBlank = false;
      out.push(text);
    }
    return out.reverse();
  }

  /** The last non-blank line of the screen (see {@link lines}), '' when there is none. */
  lastLine(): string {
    return this.lines(1)[0] ?? '';
  }

  /** Drops all held output and blanks the terminal (`totalBytes` keeps counting). */
  clear(): void {
    this.chunks = [];
    this.sizes = [];
    this.head = 0;
    this.held = 0;
    if (!this.disposed) this.term.reset();
  }

  /** Frees the terminal; the raw ring and `lines()` (then empty) stay usable. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pending = 0;
    this.queued = 0;
    this.term.dispose();
    for (const resolve of this.waiters) resolve();
    this.waiters.clear();
  }

  /** Writes to the terminal, counting the write until xterm.js has parsed it and called back. */
  private queue(data: string, done: () => void): void {
    this.queued++;
    this.term.write(data, () => {
      this.queued--;
      done();
    });
  }

  /** Rows [start, end) of the active buffer as one line: every row but the last untrimmed (its spaces are text), the joined line trimmed. */
  private logicalLine(start: number, end: number): string {
    const buffer = this.term.buffer.active;
    let text = '';
    for (let y = start; y < end; y++) {
      const line = buffer.getLine(y);
      if (!line) continue;
      if (y === end - 1) text += line.translateToString(true);
      else text += line.translateToString(false, 0, wrappedRowEnd(line, buffer.getLine(y + 1), this.term.cols));
    }
    return text.replace(/\s+$/, '');
  }

  /**
   * Keeps alternate-screen output on the main screen (see {@link OutputBufferOptions.mainScreenOnly}):
   * the switch (`CSI ? 47/1047/1049 h`) is swallowed, the text erased by `CSI 2 J`/`CSI 3 J` is
   * written again when `CSI ? … l` (leaving the alternate screen) finds the screen still blank, and
   * scroll-ups of a region that starts at the top keep their lines (see {@link markScrollUps}).
   */
  private keepMainScreen(): void {
    const parser = this.term.parser;
    const altOnly = (params: (number | number[])[]) => params.length > 0 && params.every((p) => typeof p === 'number' && ALT_SCREEN_MODES.has(p));
    parser.registerCsiHandler({ prefix: '?', final: 'h' }, (params) => altOnly(params));
    parser.registerCsiHandler({ prefix: '?', final: 'l' }, (params) => {
      if (!altOnly(params)) return false;
      const erased = this.erasedScreen;
      this.erasedScreen = undefined;
      if (erased && this.screenLines().every((r) => r === '')) {
        // Queued behind the data being parsed: what follows the switch in the same write comes first.
        // Logical lines, so that lines wider than the screen wrap (and join in lines()) as before.
        this.redraws++;
        this.queue(`\x1b[H${erased.join('\r\n')}`, () => this.redraws--);
      }
      return true;
    });
    parser.registerCsiHandler({ final: 'J' }, (params) => {
      const mode = params[0];
      if (mode === 2 || mode === 3) {
        const lines = this.screenLines();
        while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
        if (lines.length > 0) this.erasedScreen = lines;
      }
      return false; // the terminal erases as usual
    });
    parser.registerCsiHandler({ final: 'r' }, (params) => {
      const [top, bottom] = params;
      this.region = { top: typeof top === 'number' && top > 0 ? top : 1, bottom: typeof bottom === 'number' && bottom > 0 ? bottom : undefined };
      return false;
    });
    parser.registerCsiHandler({ final: 'S' }, (params) => {
      if (params[1] !== MARK_SCROLL) return false;
      const n = typeof params[0] === 'number' ? params[0] : 1;
      const bottom = Math.min(this.region.bottom ?? this.term.rows, this.term.rows) - 1;
      const y = this.term.buffer.active.cursorY;
      const replace = this.region.top === 1 && y <= bottom;
      this.scrollUp = { replace, indexes: n, ups: replace ? bottom - y : 0 };
      return replace; // swallowed when the marked moves and indexes do the scrolling
    });
    // The marked move down (CSI 999 B stops at the region's bottom), the indexes, the moves back up.
    parser.registerCsiHandler({ final: 'B' }, (params) => params[1] === MARK_DOWN && !this.scrollUp?.replace);
    parser.registerEscHandler({ final: 'D' }, () => {
      const scroll = this.scrollUp;
      if (!scroll || scroll.indexes === 0) return false;
      scroll.indexes--;
      return !scroll.replace;
    });
    parser.registerCsiHandler({ final: 'A' }, (params) => {
      if (params[1] !== MARK_UP) return false;
      const scroll = this.scrollUp;
      if (!scroll || scroll.ups === 0) return true;
      scroll.ups--;
      return false;
    });
  }

  /**
   * Rewrites each "scroll up n lines" (`CSI n S`, which a tmux client sends when the pane scrolls by
   * several lines) so that, when the scrolling region starts at the top row, the lines it scrolls
   * off reach the scrollback as with a line feed instead of being lost: `CSI n S` becomes the marked
   * sequence itself, a move down to the region's bottom (same column), n indexes (`ESC D`) and one
   * marked one-row move up per screen row. At parse time {@link keepMainScreen}'s handlers either
   * swallow the scroll-up and let the move down, the indexes and as many moves up as bring the
   * cursor back to its row run, or run the scroll-up as it is and swallow the rest. The screen and
   * the cursor end as after `CSI n S`. A sequence split between two chunks is left alone (it
   * scrolls as usual).
   */
  private markScrollUps(chunk: string): string {
    if (!chunk.includes('S')) return chunk;
    return chunk.replace(/\x1b\[(\d*)S/g, (_seq: string, count: string) => {
      const n = Math.min(Math.max(Number(count) || 1, 1), this.term.rows);
      return `\x1b[${n};${MARK_SCROLL}S\x1b[999;${MARK_DOWN}B${'\x1bD'.repeat(n)}${`\x1b[1;${MARK_UP}A`.repeat(this.term.rows)}`;
    });
  }

  /** The visible screen as logical lines (rows joined where a line wrapped, trailing spaces trimmed). */
  private screenLines(): string[] {
    const top = this.term.buffer.active.baseY;
    const bottom = top + this.term.rows;
    const lines: string[] = [];
    for (let start = top; start < bottom; ) {
      let end = start + 1;
      while (end < bottom && this.term.buffer.active.getLine(end)?.isWrapped) end++;
      lines.push(this.logicalLine(start, end));
      start = end;
    }
    return lines;
  }

  private appendRaw(chunk: string): void {
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

/**
 * Where the text of a row that wraps onto `next` ends: the full width, less the last cell when it
 * was left empty because a wide character did not fit there and went to the next row (as xterm.js
 * itself trims such rows when it joins wrapped lines).
 */
function wrappedRowEnd(line: IBufferLine, next: IBufferLine | undefined, cols: number): number {
  const lastCell = line.getCell(cols - 1);
  if (lastCell && lastCell.getChars() === '' && lastCell.getWidth() === 1 && next?.getCell(0)?.getWidth() === 2) return cols - 1;
  return cols;
}

function checkCells(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0 || n > 10_000) throw new RangeError(`OutputBuffer ${what} must be an integer from 1 to 10000, got ${n}`);
  return n;
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

/**
 * Visible text of a chunk of terminal output: escape sequences removed (then strip-ansi), other control
 * characters except `\n` and `\t` dropped. Cheap enough to run on every chunk; it tells whether a
 * chunk shows anything, not where on the screen (that is {@link OutputBuffer.lines}).
 */
export function visibleText(chunk: string): string {
  const plain = chunk.includes('\x1b') || chunk.includes('\x9b') ? stripAnsi(chunk.replace(ESCAPES_RE, '')) : chunk;
  return plain.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/** Every ECMA-48 escape sequence (CSI with private markers such as `ESC [ > c`, OSC/DCS strings, two-byte escapes), which strip-ansi misses in part. */
const ESCAPES_RE = /\x1b\[[0-9;:?<=>!]*[ -/]*[@-~]|\x1b[\]P^_X][\s\S]*?(?:\x07|\x1b\\|$)|\x1b[ -/]*[0-~]|\x9b[0-9;:?<=>!]*[ -/]*[@-~]/g;
