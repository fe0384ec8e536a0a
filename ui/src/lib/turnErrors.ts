// Errors of a turn in words: why a turn failed or was interrupted (the
// `error` Perch records, often a model's raw HTTP body) and Codex's live
// trouble with the model (`turn.problem`). Pure, unit-tested in
// tests/turnErrors.test.ts.

import type { TurnProblem } from './types';

/** A message pulled out of an error text, with the HTTP status when it says one. */
export interface ErrorText {
  message: string;
  httpStatus: number | null;
}

const MAX_MESSAGE = 600;

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The JSON object in a text: the whole text, or from its first `{` to its last `}`;
 *  `around` is the text outside it (such as "unexpected status 400 Bad Request: "). */
function jsonIn(text: string): { around: string; body: Record<string, unknown> } | null {
  const whole = parseObject(text);
  if (whole) return { around: '', body: whole };
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start === -1 || end <= start) return null;
  const body = parseObject(text.slice(start, end + 1));
  return body ? { around: `${text.slice(0, start)} ${text.slice(end + 1)}`, body } : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}

function statusIn(v: unknown): number | null {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599 ? n : null;
}

/** `{"error":{"message"}}` (OpenAI), `{"error":"…"}`, `{"message"}`, `{"detail"}`. */
function messageOfBody(body: Record<string, unknown>): ErrorText | null {
  const error = body.error;
  if (error && typeof error === 'object' && !Array.isArray(error)) {
    const e = error as Record<string, unknown>;
    const message = str(e.message);
    if (message) return { message, httpStatus: statusIn(e.status) ?? statusIn(body.status) };
  }
  const message = str(error) ?? str(body.message) ?? str(body.detail);
  return message ? { message, httpStatus: statusIn(body.status) ?? statusIn(body.status_code) } : null;
}

/** "unexpected status 400 Bad Request", "HTTP 500", "status: 429". */
function statusInText(text: string): number | null {
  const m = /\b(?:status(?:\s+code)?|HTTP)[\s:=]*(\d{3})\b/i.exec(text);
  return m ? statusIn(Number(m[1])) : null;
}

function cut(text: string): string {
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE - 1).trimEnd() + '…' : text;
}

/** The message for a person in an error text (a JSON body's `error.message`, not the JSON). */
export function errorText(raw: string): ErrorText {
  const text = raw.trim();
  const json = jsonIn(text);
  const fromBody = json ? messageOfBody(json.body) : null;
  if (fromBody) {
    return { message: cut(fromBody.message), httpStatus: fromBody.httpStatus ?? statusInText(json?.around ?? '') };
  }
  return { message: cut(text), httpStatus: statusInText(text) };
}

/** "Check X, then Retry." when the turn can be retried here, else "Check X." */
function thenRetry(check: string, retry: boolean, how: 'then' | 'later' = 'then'): string {
  if (!retry) return `${check}.`;
  return how === 'then' ? `${check}, then Retry.` : `${check}. Retry in a moment.`;
}

/** What to do about an HTTP status from the model. */
function adviceForStatus(status: number, retry: boolean): string {
  if (status === 400 || status === 422) return thenRetry('The model refused the request. Check the model name and its settings', retry);
  if (status === 401 || status === 403) return thenRetry('The model’s server refused the credentials. Sign in again or check the API key', retry);
  if (status === 404) return thenRetry('The model or the server’s address was not found. Check the provider’s base URL and the model name', retry);
  if (status === 408 || status === 504) return thenRetry('The model took too long to answer', retry, 'later');
  if (status === 429) return thenRetry('Too many requests, or the quota is used up. Wait a moment (or check your plan)', retry);
  if (status >= 500) return thenRetry('The model’s server had a problem', retry, 'later');
  return keepsFailing('check the model settings', retry);
}

function keepsFailing(what: string, retry: boolean): string {
  return retry ? `Retry; if it keeps failing, ${what}.` : `If it keeps happening, ${what}.`;
}

export interface HumaneError {
  /** "Turn failed", "Turn interrupted", "The model could not be reached". */
  title: string;
  /** What happened, in words; null when nothing is known (an interrupt). */
  message: string | null;
  httpStatus: number | null;
  /** What to do. */
  advice: string | null;
  /** The text as recorded, when the message is not all of it (shown folded away). */
  raw: string | null;
}

/**
 * The card of a failed or interrupted turn. `retry`: the card offers Retry
 * (the advice then ends with it).
 */
export function humaneTurnError(
  status: 'failed' | 'interrupted',
  error: string | null | undefined,
  opts: { retry?: boolean } = {},
): HumaneError {
  const retry = opts.retry ?? true;
  const title = status === 'failed' ? 'Turn failed' : 'Turn interrupted';
  const raw = error?.trim() || null;
  if (!raw) {
    return status === 'failed'
      ? { title, message: 'Codex did not say why.', httpStatus: null, advice: keepsFailing('look at Perch’s logs (Settings → Diagnostics)', retry), raw: null }
      : { title, message: 'Stopped before it finished.', httpStatus: null, advice: null, raw: null };
  }
  if (/could not be reached/i.test(raw)) {
    return {
      title: 'The model could not be reached',
      message: raw,
      httpStatus: null,
      advice: thenRetry('Check the network connection (or that the model’s server is running)', retry),
      raw: null,
    };
  }
  if (/^Codex stopped answering/i.test(raw)) {
    return {
      title: 'Codex stopped answering',
      message: raw,
      httpStatus: null,
      advice: retry ? 'Perch restarted Codex. Retry to send the message again.' : 'Perch restarted Codex.',
      raw: null,
    };
  }
  const { message, httpStatus } = errorText(raw);
  return {
    title,
    message,
    httpStatus,
    advice: httpStatus !== null ? adviceForStatus(httpStatus, retry) : status === 'failed' ? keepsFailing('check the model settings', retry) : null,
    raw: message === raw ? null : raw,
  };
}

/** Codex's live trouble with the model, in words ("Cannot reach the model — Codex is retrying (…)"). */
export function describeProblem(problem: TurnProblem): string {
  const said = problem.message?.trim() ?? '';
  const retrying = problem.willRetry ? ' — Codex is retrying' : '';
  switch (problem.kind) {
    case 'unreachable':
      return `Cannot reach the model${retrying}${said ? ` (${said})` : ''}`;
    case 'rateLimited':
      return `The model is rate-limited${retrying}${said ? `: ${errorText(said).message}` : ''}`;
    case 'httpError': {
      const status = problem.httpStatus ?? (said ? errorText(said).httpStatus : null);
      const head = status !== null ? `The model answered HTTP ${status}` : 'The model answered with an error';
      return `${head}${retrying}${said ? `: ${errorText(said).message}` : ''}`;
    }
    case 'fallback':
      return `Codex changed how it reaches the model${said ? `: ${said}` : ''}`;
    default:
      return `Codex reports trouble with the model${retrying}${said ? `: ${errorText(said).message}` : ''}`;
  }
}
