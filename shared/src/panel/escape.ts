/**
 * HTML escaping for the panel. Run names, notebook paths, error messages, scheduler reasons and
 * backend names all come from outside (a notebook, a worker, a remote store), so the renderer
 * builds markup only through `html\`…\``, which escapes every interpolated value unless it is
 * markup this module made. Safe by construction rather than by remembering to escape.
 */

/** Markup produced by `html` (or `raw` on a constant); interpolated into `html` as is. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for an HTML text node or a double- or single-quoted attribute value (also inside
 * inline SVG). Control characters other than tab and newline are dropped (they have no visible
 * form and some, like NUL, are parse errors); so are explicit bidi embeddings, overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069), with which a name can display as something else
 * ("gnp.exe" shown as "exe.png"); Arabic or Hebrew text needs none of them to display right.
 * Lone surrogates become U+FFFD so the document stays valid UTF-8. The renderer also isolates
 * user text in `<bdi>`, so right-to-left text cannot reorder the panel's own words around it.
 */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]/g, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/**
 * Tagged template that escapes every interpolation: `SafeHtml` is inserted as is, arrays are
 * joined, `null`/`undefined`/`false` render nothing, anything else is escaped text. Attribute
 * values must be quoted in the template (`title="${x}"`); escaping covers both quote kinds.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  values.forEach((value, i) => {
    out += fragment(value) + strings[i + 1];
  });
  return new SafeHtml(out);
}

function fragment(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(fragment).join('');
  return escapeHtml(value);
}

/** Marks a constant string (never user input) as markup, e.g. the panel's CSS. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/**
 * User text isolated from the surrounding bidi context, clipped so a pathological value (a
 * 50 kB error message) cannot swamp the panel. Clipping never splits a surrogate pair.
 */
export function userText(value: unknown, maxChars = 400): SafeHtml {
  return html`<bdi>${clip(String(value ?? ''), maxChars)}</bdi>`;
}

export function clip(text: string, maxChars: number): string {
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…`;
}
