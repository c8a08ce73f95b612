import { crc32, deflateRawSync } from 'node:zlib';

/** One zip entry as written: `data` is the stored or deflated body; the declared fields may lie. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
  method?: 0 | 8;
  /** Declared uncompressed size; defaults to the body's length. */
  size?: number;
  crc?: number;
  /** Points the central record at the named earlier entry's local header instead of writing one. */
  sameAs?: string;
}

/** A stored entry with its real size and CRC. */
export const stored = (name: string, data: Uint8Array): ZipEntry => ({ name, data, crc: crc32(data) });

/** A deflated entry with its real size and CRC. */
export const deflated = (name: string, data: Uint8Array): ZipEntry => ({
  name,
  data: deflateRawSync(data),
  method: 8,
  size: data.length,
  crc: crc32(data),
});

/**
 * Hand-assembles a zip archive (local headers, central directory, end record), writing the sizes
 * as declared so tests can build archives that lie about them.
 */
export function zipArchive(entries: ZipEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  const offsets = new Map<string, number>();
  let at = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const fields = (sig: number, extra: number[]) => {
      const h = new DataView(new ArrayBuffer(4 + extra.length + 26));
      h.setUint32(0, sig, true);
      extra.forEach((v, i) => h.setUint8(4 + i, v));
      const o = 4 + extra.length;
      h.setUint16(o, 20, true); // version needed
      h.setUint16(o + 2, 0x800, true); // UTF-8 names
      h.setUint16(o + 4, e.method ?? 0, true);
      h.setUint32(o + 10, e.crc ?? 0, true);
      h.setUint32(o + 14, e.data.length, true);
      h.setUint32(o + 18, e.size ?? e.data.length, true);
      h.setUint16(o + 22, name.length, true);
      return new Uint8Array(h.buffer);
    };
    const tail = new DataView(new ArrayBuffer(14));
    tail.setUint32(10, e.sameAs === undefined ? at : (offsets.get(e.sameAs) ?? -1), true); // local header offset
    central.push(fields(0x02014b50, [20, 0]), new Uint8Array(tail.buffer), name);
    if (e.sameAs !== undefined) continue;
    offsets.set(e.name, at);
    const local = fields(0x04034b50, []);
    parts.push(local, name, e.data);
    at += local.length + name.length + e.data.length;
  }
  const cdSize = central.reduce((n, p) => n + p.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, at, true);
  // A plain copy, not a Buffer: Buffer.prototype.slice would make views where tests expect copies.
  return new Uint8Array(Buffer.concat([...parts, ...central, new Uint8Array(end.buffer)]));
}
