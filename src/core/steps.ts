/**
 * Long computations written as generators of steps (`Generator<void, T, void>`): each `yield` is a point
 * where a caller on the event loop may pause (see `TimeSlicer` in src/services/slices.ts), as in the
 * "partitioning" pattern of Node's guide "Don't Block the Event Loop". `drain` runs one to its end in one go
 * for callers that need the answer now. Pure: no I/O, no timers.
 */

/** Elements handled between two steps by the helpers here (about a millisecond of work each). */
export const STEP_SIZE = 2000;

/** Runs `work` to its end without pausing and returns its result. */
export function drain<T>(work: Generator<void, T, void>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/**
 * Sorts `items` in place by `compare`, in steps: runs of {@link STEP_SIZE} are sorted with
 * `Array.prototype.sort`, then merged pairwise (bottom-up merge sort), yielding every `STEP_SIZE` elements
 * placed. Stable, like `Array.prototype.sort`. O(n log n) time, O(n) extra memory. Returns `items`.
 */
export function* sortInSteps<T>(items: T[], compare: (a: T, b: T) => number): Generator<void, T[], void> {
  const n = items.length;
  if (n <= STEP_SIZE) return items.sort(compare);
  for (let start = 0; start < n; start += STEP_SIZE) {
    const run = items.slice(start, start + STEP_SIZE).sort(compare);
    for (let k = 0; k < run.length; k++) items[start + k] = run[k];
    yield;
  }
  let from = items;
  let to: T[] = new Array<T>(n);
  let placed = 0;
  for (let width = STEP_SIZE; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      for (let k = lo; k < hi; k++) {
        // `<= 0` takes from the left run on ties: stable.
        to[k] = j >= hi || (i < mid && compare(from[i], from[j]) <= 0) ? from[i++] : from[j++];
        if (++placed % STEP_SIZE === 0) yield;
      }
    }
    [from, to] = [to, from];
  }
  if (from !== items) for (let k = 0; k < n; k++) items[k] = from[k];
  return items;
}
