/**
 * A zip reader for archives already in memory that reads only the entries asked for. Opening parses
 * the central directory (zip64 included, as torch.save writes it); `read` checks one entry's declared
 * sizes against the archive before touching its data, inflates it no further than it declares, and
 * verifies its CRC. Entries whose data overlap are refused, so one stored body cannot be read many
 * times over under different names.
 */
import { constants } from 'node:buffer';
import { crc32, inflateRawSync } from 'node:zlib';
import { printable } from '../graph/printable.js';

export interface ZipEntry {
  name: string;
  /** 0 (stored) or 8 (deflated); anything else is refused when read. */
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  /** Declared uncompressed size. */
  size: number;
  localOffset: number;
  /** Where the next entry's local header (or the central directory) begins: the data must end by then. */
  limit: number;
}

type Fail = (problem: string) => never;

const SIG = {
  local: 0x04034b50,
  central: 0x02014b50,
  end: 0x06054b50,
  end64: 0x06064b50,
  locator64: 0x07064b50,
};
const CENTRAL_HEADER = 46;
const LOCAL_HEADER = 30;
const MAX_COMMENT = 0xffff;

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private view: DataView;

  /** `fail` reports problems (it names the file); every check here runs before any data is read. */
  constructor(
    private bytes: Uint8Array,
    private fail: Fail,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const { count, offset, end } = this.directory();
    if (count > (end - offset) / CENTRAL_HEADER)
      fail(`corrupt zip archive: ${count} entries cannot fit in a ${end - offset}-byte central directory`);
    const names = new TextDecoder();
    let p = offset;
    for (let i = 0; i < count; i++) {
      if (p + CENTRAL_HEADER > end || this.u32(p) !== SIG.central)
        fail(`corrupt zip archive: central directory entry ${i} is malformed`);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const next = p + CENTRAL_HEADER + nameLen + extraLen + this.u16(p + 32);
      if (next > end) fail(`corrupt zip archive: central directory entry ${i} runs past its end`);
      const name = names.decode(bytes.subarray(p + CENTRAL_HEADER, p + CENTRAL_HEADER + nameLen));
      if (this.entries.has(name)) fail(`corrupt zip archive: entry ${printable(name)} appears twice`);
      const sizes = this.zip64Sizes(p, p + CENTRAL_HEADER + nameLen, extraLen, name);
      this.entries.set(name, {
        name,
        method: this.u16(p + 10),
        flags: this.u16(p + 8),
        crc: this.u32(p + 16),
        ...sizes,
        limit: offset,
      });
      p = next;
    }
    // Each entry's data must end before the next local header starts (and all before the directory).
    const byOffset = [...this.entries.values()].sort((a, b) => a.localOffset - b.localOffset);
    for (let i = 0; i + 1 < byOffset.length; i++) {
      const [a, b] = [byOffset[i], byOffset[i + 1]];
      if (a.localOffset === b.localOffset)
        fail(`corrupt zip archive: entries ${printable(a.name)} and ${printable(b.name)} share their data`);
      a.limit = Math.min(b.localOffset, offset);
    }
  }

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  /**
   * The entry's uncompressed bytes (a view into the archive when stored). Fails unless the data fit
   * between its local header and the next entry, it inflates to exactly its declared size, and its
   * CRC matches.
   */
  read(entry: ZipEntry): Uint8Array {
    const { name, localOffset: at, compressedSize, size, method } = entry;
    const bad: Fail = (problem) => this.fail(`corrupt zip entry ${printable(name)}: ${problem}`);
    if (entry.flags & 1) bad('it is encrypted');
    if (at + LOCAL_HEADER > entry.limit || this.u32(at) !== SIG.local)
      bad('no local header where it should be');
    const start = at + LOCAL_HEADER + this.u16(at + 26) + this.u16(at + 28);
    if (start + compressedSize > entry.limit)
      bad(`its ${compressedSize} bytes of data overlap the next entry or run past the archive`);
    const raw = this.bytes.subarray(start, start + compressedSize);
    let data: Uint8Array;
    if (method === 0) {
      if (compressedSize !== size) bad(`stored with ${compressedSize} bytes but declares ${size}`);
      data = raw;
    } else if (method === 8) {
      if (size >= constants.MAX_LENGTH) bad(`it declares ${size} bytes, more than a buffer can hold`);
      try {
        // One byte past the declared size is enough to tell that it is too long.
        data = inflateRawSync(raw, { maxOutputLength: size + 1 });
      } catch (e) {
        const code = (e as { code?: string }).code;
        bad(
          code === 'ERR_BUFFER_TOO_LARGE'
            ? `it inflates to more than its declared ${size} bytes`
            : (e as Error).message,
        );
      }
      if (data.byteLength !== size) bad(`it inflates to ${data.byteLength} bytes but declares ${size}`);
    } else {
      bad(`compression method ${method} is not supported (only stored and deflate)`);
    }
    if (crc32(data) !== entry.crc) bad('CRC mismatch (the file is damaged)');
    return data;
  }

  /** The central directory's entry count, start and end, from the end record (or its zip64 version). */
  private directory(): { count: number; offset: number; end: number } {
    const n = this.bytes.byteLength;
    let eocd = -1;
    for (let p = n - 22; p >= Math.max(0, n - 22 - MAX_COMMENT); p--) {
      if (this.u32(p) === SIG.end) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) this.fail('corrupt zip archive: no end of central directory record');
    let count = this.u16(eocd + 10);
    let size = this.u32(eocd + 12);
    let offset = this.u32(eocd + 16);
    let end = eocd;
    if (this.u16(eocd + 4) !== 0 || this.u16(eocd + 6) !== 0)
      this.fail('multi-disk zip archives are not supported');
    if (eocd >= 20 && this.u32(eocd - 20) === SIG.locator64) {
      const at = this.u64(eocd - 12);
      if (at + 56 > eocd - 20 || this.u32(at) !== SIG.end64)
        this.fail('corrupt zip archive: the zip64 end record is missing');
      count = this.u64(at + 32);
      size = this.u64(at + 40);
      offset = this.u64(at + 48);
      end = at;
    }
    if (offset + size > end) this.fail('corrupt zip archive: the central directory runs past its end record');
    return { count, offset, end: offset + size };
  }

  /** Sizes and offset, taking the zip64 extra field's values for those stored as 0xffffffff. */
  private zip64Sizes(
    p: number,
    extra: number,
    extraLen: number,
    name: string,
  ): Pick<ZipEntry, 'compressedSize' | 'size' | 'localOffset'> {
    let compressedSize = this.u32(p + 20);
    let size = this.u32(p + 24);
    let localOffset = this.u32(p + 42);
    const FULL = 0xffffffff;
    if (size === FULL || compressedSize === FULL || localOffset === FULL) {
      let q = extra;
      while (q + 4 <= extra + extraLen && this.u16(q) !== 1) q += 4 + this.u16(q + 2);
      const fieldEnd = q + 4 + (q + 4 <= extra + extraLen ? this.u16(q + 2) : 0);
      let f = q + 4;
      const next = (): number => {
        if (f + 8 > Math.min(fieldEnd, extra + extraLen))
          this.fail(`corrupt zip archive: entry ${printable(name)} lacks its zip64 sizes`);
        f += 8;
        return this.u64(f - 8);
      };
      if (size === FULL) size = next();
      if (compressedSize === FULL) compressedSize = next();
      if (localOffset === FULL) localOffset = next();
    }
    return { compressedSize, size, localOffset };
  }

  private u16(p: number): number {
    return this.view.getUint16(p, true);
  }

  private u32(p: number): number {
    return this.view.getUint32(p, true);
  }

  /** A 64-bit field; beyond 2^53 it cannot describe anything in memory, so it reads as "too far". */
  private u64(p: number): number {
    return this.u32(p) + this.u32(p + 4) * 2 ** 32;
  }
}
