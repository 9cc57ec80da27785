/**
 * Prepares a markdown document for lexing so that any input costs time and memory in proportion to its
 * size, and no input overflows the stack.
 *
 * Why: `marked`'s lexer recurses once per nesting level (a list inside a list item, a quote inside a
 * quote) and lexes each level's content again, and it keeps a token tree several hundred times the
 * size of the text. A 2.2 MB list nested 1,500 levels deep took 24 s and 1.36 GB; at 4 MB (or 10 kB of
 * `- - - - … x`, or 5 kB of `>>>>>…`) it overflowed the stack.
 *
 * What, in one pass over the lines (fenced code blocks at the top level are left as they are):
 * - Nesting is bounded: a line whose container prefix (indentation, list markers, `>` quote markers)
 *   is deeper than {@link MAX_NESTING} levels is flattened to that depth (its text and its own list
 *   marker are kept; it becomes a sibling of the deepest item). Each run of flattened lines is reported
 *   with its first line.
 * - The document is cut into chunks of about {@link CHUNK_CHARS} characters, only before a line that
 *   starts a top-level block on its own: an ATX heading or a list item at column 0 (an ordered item
 *   other than `1.` only after a blank line, since it cannot interrupt a paragraph), outside fenced code
 *   and HTML blocks. Each chunk is lexed and walked on its own, so only one chunk's tokens are alive at
 *   a time. Cutting there does not change what the blocks mean, except that a list longer than a chunk
 *   becomes consecutive lists (the same items).
 * - Link reference definitions (`[x]: https://…`) are collected so every chunk resolves references
 *   defined in any other.
 * - ATX headings are listed (text and depth) for decisions that need the whole outline.
 *
 * Pure: no I/O.
 */

/** Deepest container nesting read as written (list items, quotes); deeper lines are flattened to it. */
export const MAX_NESTING = 32;

/** Target size of a chunk, in characters (UTF-16 code units). */
export const CHUNK_CHARS = 64 * 1024;

export interface Chunk {
  text: string;
  /** 1-based line of the chunk's first line in the document. */
  line: number;
}

export interface FlattenedRun {
  /** 1-based line of the first flattened line of the run. */
  line: number;
  /** How many lines of the run were flattened. */
  lines: number;
  /** The first flattened line, as written (trimmed, at most 80 characters). */
  text: string;
}

export interface OutlineHeading {
  line: number;
  depth: number;
  /** Heading text with the closing `#`s removed (markdown not stripped). */
  text: string;
}

export interface PreparedDocument {
  chunks: Chunk[];
  flattened: FlattenedRun[];
  /** `[label]: destination "title"` definitions, keyed like `marked` keys them (lower case, spaces collapsed). */
  links: Record<string, { href: string; title: string }>;
  headings: OutlineHeading[];
}

const FENCE_RE = /^ {0,3}(`{3,}|~{3,})/;
const ATX_RE = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const TOP_ITEM_RE = /^(?:[-*+]|\d{1,9}[.)])[ \t]+\S/;
const HTML_START_RE = /^ {0,3}<(?:!--|[a-zA-Z/!?])/;
const LINK_DEF_RE = /^ {0,3}\[([^\]\n]+)\]:[ \t]*<?([^\s>]+)>?(?:[ \t]+(?:"([^"]*)"|'([^']*)'|\(([^)]*)\)))?[ \t]*$/;
/** One piece of a container prefix: whitespace, `>`, or a bullet or ordered marker followed by a space. */
const PREFIX_PIECE_RE = /[ \t]+|>|(?:[-*+]|\d{1,9}[.)])(?=[ \t]|$)/y;

/** Nesting levels a prefix piece adds: one per marker, one per two columns of whitespace (a tab is 4). */
function cost(piece: string): number {
  if (piece[0] !== ' ' && piece[0] !== '\t') return 1;
  let columns = 0;
  for (let i = 0; i < piece.length; i++) columns += piece.charCodeAt(i) === 9 ? 4 : 1;
  return columns / 2;
}

/**
 * `line` with its container prefix bounded to `max` levels, or null when it is within the bound.
 * Depth counts one per marker (`-`, `1.`, `>`) and one per two columns of whitespace, an over-estimate
 * of the nesting `marked` would build. The flattened line keeps the prefix up to `max - 1` levels,
 * then the prefix's last marker, then the text. Linear in the line's length.
 */
export function flattenLine(line: string, max: number = MAX_NESTING): string | null {
  // Cheap exit: each character adds at most 2 levels (a tab).
  if (line.length * 2 <= max) return null;
  let depth = 0;
  let at = 0;
  let keptEnd = 0;
  let keptDepth = 0;
  let lastMarker = '';
  let lastMarkerAt = -1;
  PREFIX_PIECE_RE.lastIndex = 0;
  for (let m = PREFIX_PIECE_RE.exec(line); m && m[0].length > 0; m = PREFIX_PIECE_RE.exec(line)) {
    const c = cost(m[0]);
    if (depth + c <= max - 1) {
      keptEnd = m.index + m[0].length;
      keptDepth = depth + c;
    }
    depth += c;
    if (m[0][0] !== ' ' && m[0][0] !== '\t') {
      lastMarker = m[0];
      lastMarkerAt = m.index;
    }
    at = PREFIX_PIECE_RE.lastIndex;
  }
  if (depth <= max) return null;
  // Whitespace that straddles the bound is cut to the columns left.
  let pad = ' '.repeat(Math.max(0, Math.floor((max - 1 - keptDepth) * 2)));
  if (pad === '' && keptEnd > 0 && line[keptEnd - 1] !== ' ' && line[keptEnd - 1] !== '\t') pad = ' ';
  const marker = lastMarkerAt >= keptEnd ? `${lastMarker} ` : '';
  return `${line.slice(0, keptEnd)}${pad}${marker}${line.slice(at).trimStart()}`;
}

/** Splits, flattens and indexes `src` (LF line endings); see the module documentation. */
export function prepareDocument(src: string, chunkChars: number = CHUNK_CHARS, maxNesting: number = MAX_NESTING): PreparedDocument {
  const chunks: Chunk[] = [];
  const flattened: FlattenedRun[] = [];
  const links: PreparedDocument['links'] = {};
  const headings: OutlineHeading[] = [];
  let parts: string[] = [];
  let size = 0;
  let chunkLine = 1;
  let fence: string | null = null;
  let inHtml = false;
  let run: FlattenedRun | null = null;
  let previousBlank = true;

  let start = 0;
  for (let lineNo = 1; start <= src.length; lineNo++) {
    const nl = src.indexOf('\n', start);
    const end = nl === -1 ? src.length : nl;
    let line = src.slice(start, end);
    const last = nl === -1;
    start = end + 1;
    if (last && line === '' && lineNo > 1) break;

    let boundary = false;
    if (fence !== null) {
      const close = FENCE_RE.exec(line);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length && line.trim() === close[1]) fence = null;
    } else if (inHtml) {
      if (line.trim() === '') inHtml = false;
    } else {
      const open = FENCE_RE.exec(line);
      if (open && !(open[1][0] === '`' && line.slice(open[0].length).includes('`'))) {
        fence = open[1];
      } else if (HTML_START_RE.test(line)) {
        inHtml = true;
      } else {
        const atx = ATX_RE.exec(line);
        if (atx) {
          headings.push({ line: lineNo, depth: atx[1].length, text: (atx[2] ?? '').trim() });
          boundary = true;
        } else if (TOP_ITEM_RE.test(line)) {
          // An ordered item other than `1.` cannot interrupt a paragraph (`foo\n2. bar` is one
          // paragraph), so it starts a block for sure only after a blank line.
          boundary = !/^\d/.test(line) || /^1[.)]/.test(line) || previousBlank;
        } else {
          const def = LINK_DEF_RE.exec(line);
          if (def) {
            const tag = def[1].toLowerCase().replace(/\s+/g, ' ');
            links[tag] ??= { href: def[2], title: def[3] ?? def[4] ?? def[5] ?? '' };
          }
        }
      }
    }
    // Every line, code and HTML included: a fence or HTML block `marked` reads differently from this
    // scan must not let a deep prefix through (the importer ignores code and HTML anyway).
    const flat = flattenLine(line, maxNesting);
    if (flat !== null) {
      if (run && run.line + run.lines === lineNo) run.lines++;
      else flattened.push((run = { line: lineNo, lines: 1, text: line.trim().slice(0, 80) }));
      line = flat;
    }

    if (boundary && size >= chunkChars) {
      chunks.push({ text: parts.join('\n') + '\n', line: chunkLine });
      parts = [];
      size = 0;
      chunkLine = lineNo;
    }
    parts.push(line);
    size += line.length + 1;
    previousBlank = line.trim() === '';
    if (last) break;
  }
  if (parts.length > 0) chunks.push({ text: parts.join('\n') + (src.endsWith('\n') ? '\n' : ''), line: chunkLine });
  return { chunks, flattened, links, headings };
}
