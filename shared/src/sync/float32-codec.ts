/**
 * Gradients travel as raw little-endian float32 bytes: no header, no JSON, 4 bytes a value.
 * Encoding is a zero-copy view on little-endian hosts (every platform Node ships for in practice).
 */
import { SmltError } from '../errors.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeFloat32(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}

/** Copies, so the result is aligned and owns its memory whatever buffer the store returned. */
export function decodeFloat32(bytes: Uint8Array, key: string): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new SmltError('STORE_ERROR', `${key} holds ${bytes.byteLength} bytes, not a whole number of float32 values: it is corrupt or not a gradient.`);
  }
  const values = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(values.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * 4, true);
  }
  return values;
}
