import type { FastifyRequest } from 'fastify';
import { validationFailed } from '../errors/domain-error';

/** Deeper than any real request; past it a body only exists to exhaust the stack of whatever walks it. */
export const MAX_JSON_DEPTH = 32;

/** NUL (PostgreSQL text and jsonb cannot hold it) or an unpaired surrogate (not valid UTF-8 or jsonb). */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /[\u0000\p{Cs}]/u;

/**
 * Keys that name a member of Object.prototype (`__proto__`, `constructor`, `toString`, `valueOf`, …). Code
 * that indexes a plain object with a client's key (`fields[key] ??= []`) finds the inherited member instead
 * of nothing; refusing these keys at the edge closes that whole class of bugs (and prototype pollution).
 */
const PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * The first reason this value cannot be accepted, with its path, or undefined. Iterative, so the check
 * itself cannot overflow the stack however deep the input is.
 */
export function unacceptableInput(root: unknown, rootPath: string, maxDepth = MAX_JSON_DEPTH): { path: string; problem: string } | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path: rootPath, depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) return { path, problem: 'must not contain NUL characters or unpaired UTF-16 surrogates' };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) return { path, problem: `nests deeper than ${maxDepth} levels` };
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const key of Object.keys(value)) {
      if (UNSTORABLE.test(key)) return { path, problem: 'has a key with NUL characters or unpaired UTF-16 surrogates' };
      if (PROTOTYPE_KEYS.has(key)) return { path, problem: `has the reserved key "${key}"` };
      stack.push({ value: (value as Record<string, unknown>)[key], path: `${path}.${key}`, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Whether a value passes unacceptableInput, answered without building a path for every member (the hot path
 * accepts nearly every body: the paths are only worth building for a refusal). Recursion is bounded by
 * maxDepth, like the iterative check's depth limit, so it cannot overflow the stack.
 */
function acceptable(value: unknown, depth: number, maxDepth: number): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (typeof value !== 'object' || value === null) return true;
  if (depth >= maxDepth) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!acceptable(value[i], depth + 1, maxDepth)) return false;
    return true;
  }
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (UNSTORABLE.test(key) || PROTOTYPE_KEYS.has(key)) return false;
    if (!acceptable((value as Record<string, unknown>)[key], depth + 1, maxDepth)) return false;
  }
  return true;
}

/** The refusal of one part of the request (`params`, `query` or `body`), or undefined when it is acceptable. */
function refusal(value: unknown, part: 'params' | 'query' | 'body'): Error | undefined {
  if (value === undefined || acceptable(value, 0, MAX_JSON_DEPTH)) return undefined;
  const found = unacceptableInput(value, part);
  if (!found) return undefined;
  const at = found.path.slice(0, 200);
  return validationFailed({ [at]: [`${at} ${found.problem}`] }, `Request ${part} ${found.problem}`);
}

/**
 * Refuses (400 VALIDATION_FAILED) path parameters, query strings and bodies that no handler can store or
 * walk safely, before any of them runs. Runs as a Fastify preValidation hook: after the body is parsed,
 * before Nest's guards, pipes and handlers. Callback style: an async hook costs a promise per request.
 */
export function rejectUnacceptableInput(request: FastifyRequest, _reply: unknown, done: (error?: Error) => void): void {
  const error = refusal(request.params, 'params') ?? refusal(request.query, 'query') ?? refusal(request.body, 'body');
  done(error);
}
