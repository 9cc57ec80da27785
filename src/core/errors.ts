/**
 * Errors Baton reports to people and agents. Every service method throws one of these for bad input,
 * with a message that names what was wrong; nothing is changed when one is thrown.
 */
export type BatonErrorCode = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'CONFLICT' | 'UNAVAILABLE';

export class BatonError extends Error {
  constructor(readonly code: BatonErrorCode, message: string) {
    super(message);
    this.name = 'BatonError';
  }
}

export const notFound = (what: string) => new BatonError('NOT_FOUND', what);
export const invalid = (what: string) => new BatonError('INVALID_ARGUMENT', what);
export const conflict = (what: string) => new BatonError('CONFLICT', what);
