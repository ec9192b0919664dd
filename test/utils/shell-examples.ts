/**
 * Reads the `curl` examples out of a Markdown document's ```bash blocks, so a test can run them exactly as
 * written: each command with the `# -> [status] {…}` line that follows it (what it should answer).
 */

export interface CurlExample {
  /** The command as written (continuation lines joined). */
  source: string;
  method: string;
  /** Path and query, the `localhost:5000` part dropped. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  expected?: { status?: number; body?: string };
}

/** Splits a shell command into words: single and double quotes, backslash escapes, stops at an unquoted # or |. */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < command.length) word = (word ?? '') + command[++i];
      else word = (word ?? '') + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
    } else if (ch === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i];
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ((ch === '#' && word === undefined) || ch === '|') {
      break;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (quote) throw new Error(`Unterminated quote in: ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

export function parseCurl(command: string): CurlExample {
  const words = shellWords(command);
  if (words[0] !== 'curl') throw new Error(`Not a curl command: ${command}`);
  let method: string | undefined;
  let url: string | undefined;
  let body: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    // -N (no buffering) only changes how curl shows a stream as it comes.
    if (w === '-s' || w === '-sS' || w === '--silent' || w === '-N' || w === '--no-buffer') continue;
    if (w === '-X' || w === '--request') method = words[++i];
    else if (w === '-H' || w === '--header') {
      const header = words[++i];
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (w === '-d' || w === '--data' || w === '--data-raw') body = words[++i];
    else if (w.startsWith('-')) throw new Error(`Unsupported curl option ${w} in: ${command}`);
    else url = w;
  }
  if (!url) throw new Error(`No URL in: ${command}`);
  // The path as written (not through URL, which would percent-encode a placeholder such as `3f0c…`).
  const path = url.replace(/^(?:https?:\/\/)?[^/]*/, '') || '/';
  return { source: command, method: method ?? (body !== undefined ? 'POST' : 'GET'), path, headers, body };
}

/** Every curl command of the document's bash blocks, in order, each with the `# ->` line after it. */
export function curlExamples(markdown: string): CurlExample[] {
  const examples: CurlExample[] = [];
  for (const block of markdown.matchAll(/^```bash\n([\s\S]*?)^```/gm)) {
    const lines = block[1].split('\n');
    // The `# ->` line belongs to the curl command right above it, and to no other.
    let last: CurlExample | undefined;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      if (!line.trimStart().startsWith('curl ')) {
        const expectation = /^#\s*->\s*(?:(\d{3})\s*)?(.*)$/.exec(line.trim());
        if (expectation && last) last.expected = { status: expectation[1] ? Number(expectation[1]) : undefined, body: expectation[2].trim() || undefined };
        last = undefined;
        continue;
      }
      while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
      last = parseCurl(line.trim());
      examples.push(last);
    }
  }
  return examples;
}

const ELLIPSIS = /…|\.\.\./;

/**
 * An expected body as written in a `# ->` comment (JSON where `…` or `...` stands for what is left out) into
 * JSON: `,…}` drops the rest of an object, `{…}` is any object, a string with `…` is a placeholder.
 */
export function expectedJson(text: string): unknown {
  const json = text
    .replace(/,\s*(?:…|\.\.\.)\s*(?=[}\]])/g, '')
    .replace(/\{\s*(?:…|\.\.\.)\s*\}/g, '{"__any__":true}');
  return JSON.parse(json);
}

/** Placeholders of an expected body (`"id":"3f0c…"`): the text before the ellipsis, by the field that holds it. */
export function placeholders(expected: unknown, into = new Map<string, string>()): Map<string, string> {
  if (expected && typeof expected === 'object') {
    for (const [field, value] of Object.entries(expected)) {
      if (typeof value === 'string' && ELLIPSIS.test(value)) {
        if (!into.has(value)) into.set(value, field);
      } else placeholders(value, into);
    }
  }
  return into;
}
