/**
 * Child process for the owner-lock tests.
 * Usage: node --import tsx storeLockProbe.ts <dir> <mode>
 *   try      try to acquire; print `acquired` or `busy`; release and exit
 *   exit     acquire, print `acquired`, then exit WITHOUT release() (the 'exit' handler must release)
 */
import { OwnerLock } from '../../../src/store/ownerLock';

const [dir, mode] = process.argv.slice(2);
const lock = OwnerLock.tryAcquire(dir, { kind: 'cli' });
process.stdout.write(lock ? 'acquired\n' : 'busy\n');
if (lock && mode === 'try') lock.release();
process.exitCode = 0;
