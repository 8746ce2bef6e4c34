// What an ELF executable asks of the system that loads it: its machine, its
// program interpreter, the shared libraries it links and the symbol versions
// it needs from each (.gnu.version_r). Read here rather than with objdump or
// readelf, which a controller need not have: the controller pushes its own
// node to hosts that have none, and these facts decide which hosts can run it.

import { open } from "node:fs/promises";

export interface ElfNeeds {
  /** e_machine, e.g. 62 (x86-64), 183 (AArch64). */
  machine: number;
  bits: 32 | 64;
  littleEndian: boolean;
  /** PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2; undefined for a static executable. */
  interpreter?: string;
  /** DT_NEEDED, in link order. */
  libraries: string[];
  /** Version names needed per library file, e.g. "libc.so.6" -> ["GLIBC_2.28", ...]. */
  versions: Record<string, string[]>;
}

const PT_INTERP = 3;
const SHT_DYNAMIC = 6;
const SHT_GNU_VERNEED = 0x6ffffffe;
const DT_NULL = 0;
const DT_NEEDED = 1;

/** A malformed or unsupported file: the message says what was wrong. */
export class ElfError extends Error {}

/** Reads only the headers and the few small sections it needs, not the whole (often 100 MB) file. */
export async function readElfNeeds(path: string): Promise<ElfNeeds> {
  const fh = await open(path, "r");
  try {
    const at = async (offset: number | bigint, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, Number(offset));
      if (bytesRead !== length) throw new ElfError(`${path} ends before offset ${Number(offset) + length}`);
      return buf;
    };
    const ident = await at(0, 16);
    if (ident.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(`${path} is not an ELF file`);
    const bits = ident[4] === 2 ? 64 : ident[4] === 1 ? 32 : undefined;
    const littleEndian = ident[5] === 1 ? true : ident[5] === 2 ? false : undefined;
    if (bits === undefined || littleEndian === undefined) throw new ElfError(`${path} has an unknown ELF class or byte order`);
    const r = reader(bits, littleEndian);
    const header = await at(0, bits === 64 ? 64 : 52);
    const machine = r.u16(header, 18);
    const phoff = r.addr(header, bits === 64 ? 32 : 28);
    const shoff = r.addr(header, bits === 64 ? 40 : 32);
    const phentsize = r.u16(header, bits === 64 ? 54 : 42);
    const phnum = r.u16(header, bits === 64 ? 56 : 44);
    const shentsize = r.u16(header, bits === 64 ? 58 : 46);
    const shnum = r.u16(header, bits === 64 ? 60 : 48);

    let interpreter: string | undefined;
    const phdrs = await at(phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const ph = phdrs.subarray(i * phentsize, (i + 1) * phentsize);
      if (r.u32(ph, 0) !== PT_INTERP) continue;
      const offset = r.addr(ph, bits === 64 ? 8 : 4);
      const size = r.addr(ph, bits === 64 ? 32 : 16);
      interpreter = cString(await at(offset, size), 0);
    }

    if (shnum === 0) throw new ElfError(`${path} has no section headers to read its libraries from`);
    const shdrs = await at(shoff, shentsize * shnum);
    const section = (i: number) => {
      const sh = shdrs.subarray(i * shentsize, (i + 1) * shentsize);
      return {
        type: r.u32(sh, 4),
        offset: r.addr(sh, bits === 64 ? 24 : 16),
        size: r.addr(sh, bits === 64 ? 32 : 20),
        link: r.u32(sh, bits === 64 ? 40 : 24),
        info: r.u32(sh, bits === 64 ? 44 : 28),
      };
    };
    const contents = async (i: number) => {
      const s = section(i);
      return at(s.offset, s.size);
    };

    const libraries: string[] = [];
    const versions: Record<string, string[]> = {};
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type === SHT_DYNAMIC) {
        const dyn = await contents(i);
        const strtab = await contents(s.link);
        const entry = bits === 64 ? 16 : 8;
        for (let off = 0; off + entry <= dyn.length; off += entry) {
          const tag = r.addr(dyn, off);
          if (tag === DT_NULL) break;
          if (tag === DT_NEEDED) libraries.push(cString(strtab, r.addr(dyn, off + entry / 2)));
        }
      } else if (s.type === SHT_GNU_VERNEED) {
        const need = await contents(i);
        const strtab = await contents(s.link);
        // Verneed entries (vn_version, vn_cnt, vn_file, vn_aux, vn_next), each followed
        // by its Vernaux chain (vna_hash, vna_flags, vna_other, vna_name, vna_next): sh_info entries.
        let vn = 0;
        for (let n = 0; n < s.info; n++) {
          const file = cString(strtab, r.u32(need, vn + 4));
          const names = (versions[file] ??= []);
          let aux = vn + r.u32(need, vn + 8);
          for (let k = r.u16(need, vn + 2); k > 0; k--) {
            names.push(cString(strtab, r.u32(need, aux + 8)));
            const next = r.u32(need, aux + 12);
            if (next === 0) break;
            aux += next;
          }
          const next = r.u32(need, vn + 12);
          if (next === 0) break;
          vn += next;
        }
      }
    }
    return { machine, bits, littleEndian, ...(interpreter ? { interpreter } : {}), libraries, versions };
  } catch (err) {
    if (err instanceof ElfError) throw err;
    throw new ElfError(`${path} cannot be read as ELF: ${(err as Error).message}`);
  } finally {
    await fh.close();
  }
}

function reader(bits: 32 | 64, le: boolean) {
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  // Offsets and sizes in an executable fit a double many times over.
  const addr = (b: Buffer, o: number) => (bits === 32 ? u32(b, o) : Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)));
  return { u16, u32, addr };
}

function cString(buf: Buffer, offset: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString("latin1", offset, end === -1 ? buf.length : end);
}
