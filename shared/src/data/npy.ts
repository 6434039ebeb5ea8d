import { float16ToFloat32 } from 'npyjs';
import { SmltError } from '../errors.js';

/**
 * NumPy's .npy format (`np.save`, versions 1.0 to 3.0). The header is checked before any value is
 * read: a dtype SMLT can train on (named in the refusal otherwise), C order, and a shape whose
 * values fill the file exactly, so a header cannot make SMLT read past the file or allocate more
 * than the file holds.
 */

export interface NpyArray {
  shape: number[];
  values: ArrayLike<number> | string[];
}

type Decode = (data: Uint8Array, count: number) => ArrayLike<number>;

/** The data as its own bytes when a hostile header moved it off the alignment a typed array needs. */
const aligned = (data: Uint8Array, bytes: number) => (data.byteOffset % bytes === 0 ? data : data.slice());

const view =
  (Type: { new (buffer: ArrayBufferLike, offset: number, length: number): ArrayLike<number>; BYTES_PER_ELEMENT: number }): Decode =>
  (data, count) => {
    const at = aligned(data, Type.BYTES_PER_ELEMENT);
    return new Type(at.buffer, at.byteOffset, count);
  };

const bigints =
  (Type: typeof BigInt64Array | typeof BigUint64Array): Decode =>
  (data, count) => {
    const at = aligned(data, 8);
    return Float64Array.from(new Type(at.buffer as ArrayBuffer, at.byteOffset, count), Number);
  };

/** Item size and decoder of each numeric dtype read, without its byte-order character. */
const NUMERIC = new Map<string, [bytes: number, decode: Decode]>([
  ['b1', [1, view(Uint8Array)]],
  ['i1', [1, view(Int8Array)]],
  ['u1', [1, view(Uint8Array)]],
  ['i2', [2, view(Int16Array)]],
  ['u2', [2, view(Uint16Array)]],
  ['i4', [4, view(Int32Array)]],
  ['u4', [4, view(Uint32Array)]],
  ['i8', [8, bigints(BigInt64Array)]],
  ['u8', [8, bigints(BigUint64Array)]],
  ['f2', [2, (data, count) => Float32Array.from(view(Uint16Array)(data, count), float16ToFloat32)]],
  ['f4', [4, view(Float32Array)]],
  ['f8', [8, view(Float64Array)]],
]);

const MAGIC = '\x93NUMPY';

export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const refuse = (why: string) => new SmltError('DATA_INVALID', `${name} ${why}`);
  const unreadable = (why: string) => refuse(`is not a readable .npy array: ${why}. Save it again with np.save.`);
  const latin1 = (from: number, to: number) => Buffer.from(bytes.buffer, bytes.byteOffset + from, Math.max(0, to - from)).toString('latin1');
  if (bytes.length < 10 || latin1(0, 6) !== MAGIC) throw unreadable('it does not start like one');
  const major = bytes[6];
  if (major < 1 || major > 3) throw unreadable(`format version ${major}.${bytes[7]} is unknown`);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerStart = 8 + lengthBytes;
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? data.getUint16(8, true) : data.getUint32(8, true);
  if (headerStart + headerLength > bytes.length) throw unreadable('its header runs past the end of the file');
  const header = latin1(headerStart, headerStart + headerLength);

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const dims = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'descr'\s*:\s*\[/.test(header)) throw refuse('holds a structured array (named fields); save each field as its own array.');
  if (descr === undefined || fortran === undefined || dims === undefined) throw unreadable('its header lacks descr, fortran_order or shape');
  if (fortran === 'True') throw refuse('is stored in Fortran order; save np.ascontiguousarray(a) instead.');
  const shape = dims.split(',').map((d) => d.trim()).filter((d) => d !== '').map((d) => (/^\d+L?$/.test(d) ? Number.parseInt(d, 10) : Number.NaN));
  if (!shape.every(Number.isSafeInteger)) throw unreadable(`its shape (${dims.slice(0, 60)}) is not a list of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);

  const kind = dtypeKind(descr, name);
  const bytesPer = kind.kind === 'text' ? 4 * kind.chars : kind.bytes;
  const dataStart = headerStart + headerLength;
  const needed = count * bytesPer;
  if (!Number.isSafeInteger(needed) || needed !== bytes.length - dataStart) {
    throw refuse(
      `has a header that does not match the file: shape [${shape}] of ${descr} needs ${needed.toLocaleString('en-US')} bytes of data ` +
        `but the file holds ${(bytes.length - dataStart).toLocaleString('en-US')}. It is truncated or its header is wrong; save it again with np.save.`,
    );
  }
  const values = bytes.subarray(dataStart);
  if (kind.kind === 'text') return { shape, values: strings(values, count, kind.chars, refuse) };
  return { shape, values: kind.decode(values, count) };
}

type Kind = { kind: 'number'; bytes: number; decode: Decode } | { kind: 'text'; chars: number };

/** What a dtype string (`<f4`, `|u1`, `<U12`) holds, or the refusal naming it. */
function dtypeKind(descr: string, name: string): Kind {
  const refuse = (what: string, instead: string) =>
    new SmltError('DATA_INVALID', `${name} holds dtype ${descr} (${what}), which SMLT cannot read. ${instead}`);
  const [order, code] = [descr[0], descr.slice(1)];
  if (code.startsWith('c')) throw refuse('complex numbers', 'Save the real part (a.real), or the real and imaginary parts as separate features.');
  if (code.startsWith('O')) throw refuse('Python objects, stored pickled', "Convert it to numbers (a.astype('float32')) or text (a.astype(str)) before np.save.");
  if (order === '>' && !['b1', 'i1', 'u1'].includes(code)) throw refuse('big-endian', "Save it little-endian: a.astype(a.dtype.newbyteorder('<')).");
  const chars = Number(/^U(\d+)$/.exec(code)?.[1]);
  if (chars > 0 && Number.isSafeInteger(chars)) return { kind: 'text', chars };
  const numeric = ['<', '|', '=', '>'].includes(order) ? NUMERIC.get(code) : undefined;
  if (numeric) return { kind: 'number', bytes: numeric[0], decode: numeric[1] };
  const what = code.startsWith('S') ? 'byte strings' : /^[Mm]/.test(code) ? 'dates or times' : 'a type SMLT does not read';
  throw refuse(what, "Save float, integer, bool or str arrays, e.g. np.save('x.npy', a.astype('float32')).");
}

/** NumPy pads each string with NUL code points to the dtype's length. */
function strings(data: Uint8Array, count: number, chars: number, refuse: (why: string) => SmltError): string[] {
  const points = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = '';
    for (let c = 0; c < chars; c++) {
      const point = points.getUint32((i * chars + c) * 4, true);
      if (point === 0) break;
      if (point > 0x10ffff) throw refuse(`holds an invalid character (code point ${point}) in string ${i + 1}.`);
      text += String.fromCodePoint(point);
    }
    out.push(text);
  }
  return out;
}
