// Lists the entry names of a zip file (a VSIX) from its central directory, in pure Node (no unzip needed).
import fs from 'node:fs';
import zlib from 'node:zlib';

const EOCD = 0x06054b50, EOCD64_LOCATOR = 0x07064b50, EOCD64 = 0x06064b50, CENTRAL = 0x02014b50;

/** Names of all entries of the zip at `file`, in central-directory order. */
export function zipEntries(file) {
  return centralDirectory(fs.readFileSync(file), file).map(e => e.name);
}

/** Contents of one entry (stored or deflated) of the zip at `file`, as a Buffer. */
export function zipReadEntry(file, name) {
  const buf = fs.readFileSync(file);
  const e = centralDirectory(buf, file).find(x => x.name === name);
  if (!e) throw new Error(`${file} has no entry ${name}`);
  if (buf.readUInt32LE(e.localOffset) !== 0x04034b50) throw new Error(`${file}: bad local header for ${name}`);
  const start = e.localOffset + 30 + buf.readUInt16LE(e.localOffset + 26) + buf.readUInt16LE(e.localOffset + 28);
  const data = buf.subarray(start, start + e.compressedSize);
  if (e.method === 0) return Buffer.from(data);
  if (e.method === 8) return zlib.inflateRawSync(data);
  throw new Error(`${file}: ${name} uses unsupported compression method ${e.method}`);
}

function centralDirectory(buf, file) {
  // The end-of-central-directory record is in the last 22 + 65535 (max comment) bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file (no end of central directory)`);
  let count = buf.readUInt16LE(eocd + 10);
  let offset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || offset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== EOCD64_LOCATOR) throw new Error(`${file}: zip64 locator missing`);
    const e64 = Number(buf.readBigUInt64LE(loc + 8));
    if (buf.readUInt32LE(e64) !== EOCD64) throw new Error(`${file}: zip64 end of central directory missing`);
    count = Number(buf.readBigUInt64LE(e64 + 32));
    offset = Number(buf.readBigUInt64LE(e64 + 48));
  }
  const entries = [];
  let p = offset;
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== CENTRAL) throw new Error(`${file}: bad central directory entry #${n}`);
    const flags = buf.readUInt16LE(p + 8), method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20), localOffset = buf.readUInt32LE(p + 42);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    const raw = buf.subarray(p + 46, p + 46 + nameLen);
    // (zip64 sizes/offsets in the extra field are not needed for a VSIX of a few MB)
    entries.push({ name: flags & 0x800 ? raw.toString('utf8') : raw.toString('latin1'), method, compressedSize, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
