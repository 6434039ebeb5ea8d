/**
 * Server-Sent Events, both directions: framing what the server writes, and parsing a byte
 * stream back into messages the way a browser's EventSource does (WHATWG HTML §9.2.6), so
 * any SSE client can follow `smlt serve` and our client follows any conforming server.
 */

export interface SseMessage {
  /** `message` when the server named no event. */
  event: string;
  data: string;
  /** The `id:` of this message, if it had one. */
  id?: string;
}

/**
 * The stream's control messages (never a RunEvent type, and carrying no `id`, so they do not move
 * `Last-Event-ID`): `stream_end` says the service has nothing more to send — a stream that
 * closes without it was dropped and should be resumed; `stream_error` carries the error the
 * service failed with, as `{ error: { code, message } }`.
 */
export const STREAM_END = 'stream_end';
export const STREAM_ERROR = 'stream_error';

export function formatSseMessage(message: { event: string; data: string; id?: string | number }): string {
  const lines: string[] = [];
  if (message.id !== undefined) lines.push(`id: ${single(String(message.id))}`);
  lines.push(`event: ${single(message.event)}`);
  for (const line of message.data.split(/\r\n|\r|\n/)) lines.push(`data: ${line}`);
  return `${lines.join('\n')}\n\n`;
}

/** A comment line: ignored by parsers, it keeps proxies and idle timers from closing the stream. */
export function formatSseComment(text: string): string {
  return `: ${single(text)}\n\n`;
}

function single(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`An SSE field cannot hold a line break: ${JSON.stringify(value)}`);
  return value;
}

/**
 * The messages in a byte stream, dispatched at each blank line. A message cut off by the end
 * of the stream is dropped, as EventSource does: only complete messages are ever yielded.
 */
export async function* parseSse(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let first = true;
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  let sawData = false;
  const newline = /\r\n|\r|\n/g;

  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    if (first && buffer.length > 0) {
      if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
      first = false;
    }
    // A lone '\r' at the end may be the first half of '\r\n': wait for the next chunk.
    let start = 0;
    for (;;) {
      newline.lastIndex = start;
      const found = newline.exec(buffer);
      if (!found || (found[0] === '\r' && found.index === buffer.length - 1)) break;
      const line = buffer.slice(start, found.index);
      start = found.index + found[0].length;

      if (line === '') {
        if (sawData) yield { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
        data = [];
        event = '';
        id = undefined;
        sawData = false;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') {
        data.push(value);
        sawData = true;
      } else if (field === 'event') {
        event = value;
      } else if (field === 'id' && !value.includes('\0')) {
        id = value;
      }
      // `retry:` and unknown fields: the client keeps its own reconnection policy.
    }
    buffer = buffer.slice(start);
  }
}
