import { mulberry32 } from '../../../src/core/analytics';

/**
 * A seeded pseudo-random generator (the core's mulberry32, Tommy Ettinger's public-domain PRNG): the same
 * seed gives the same sequence, so generated test data is reproducible. Returns floats in [0, 1).
 */
export const rng: (seed: number) => () => number = mulberry32;
