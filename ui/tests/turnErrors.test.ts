import { describe, expect, it } from 'vitest';
import { describeProblem, errorText, humaneTurnError } from '../src/lib/turnErrors';

const BODY_400 = '{"error":{"message":"Unsupported parameter: \'temperature\'","type":"invalid_request_error","code":null}}';

describe('errorText', () => {
  it('takes error.message out of a JSON body', () => {
    expect(errorText(BODY_400)).toEqual({ message: "Unsupported parameter: 'temperature'", httpStatus: null });
  });

  it('reads the status before a JSON body', () => {
    expect(errorText(`unexpected status 400 Bad Request: ${BODY_400}`)).toEqual({
      message: "Unsupported parameter: 'temperature'",
      httpStatus: 400,
    });
  });

  it('reads other JSON shapes and plain text', () => {
    expect(errorText('{"error":"model not found","status":404}')).toEqual({ message: 'model not found', httpStatus: 404 });
    expect(errorText('{"detail":"Not Found"}').message).toBe('Not Found');
    expect(errorText('HTTP 502 from upstream')).toEqual({ message: 'HTTP 502 from upstream', httpStatus: 502 });
    expect(errorText('something odd')).toEqual({ message: 'something odd', httpStatus: null });
  });

  it('keeps a JSON body without a message as it is', () => {
    expect(errorText('{"ok":false}')).toEqual({ message: '{"ok":false}', httpStatus: null });
  });
});

describe('humaneTurnError', () => {
  it('shows a model’s 400 body as its message, with the raw text folded away', () => {
    const e = humaneTurnError('failed', `unexpected status 400 Bad Request: ${BODY_400}`);
    expect(e.title).toBe('Turn failed');
    expect(e.message).toBe("Unsupported parameter: 'temperature'");
    expect(e.httpStatus).toBe(400);
    expect(e.advice).toMatch(/model name/);
    expect(e.raw).toContain('invalid_request_error');
  });

  it('explains the turns Perch ended', () => {
    const unreachable = humaneTurnError(
      'interrupted',
      'the model endpoint could not be reached for 90 s (Reconnecting... waiting for network); Perch ended the turn (`unreachable_timeout_secs` in [codex])',
    );
    expect(unreachable.title).toBe('The model could not be reached');
    expect(unreachable.advice).toMatch(/network/);
    expect(unreachable.raw).toBeNull();
    const restarted = humaneTurnError('interrupted', 'Codex stopped answering (no reply to a health check within 30 s); Perch restarted it during this turn');
    expect(restarted.title).toBe('Codex stopped answering');
    expect(restarted.advice).toMatch(/Retry/);
  });

  it('does not advise Retry where the card offers none', () => {
    expect(humaneTurnError('failed', 'Codex stopped answering (x)', { retry: false }).advice).toBe('Perch restarted Codex.');
    expect(humaneTurnError('failed', '{"error":{"message":"busy"}} HTTP 503', { retry: false }).advice).toBe('The model’s server had a problem.');
    expect(humaneTurnError('failed', 'HTTP 429', { retry: true }).advice).toMatch(/then Retry\.$/);
  });

  it('says something when there is no error text', () => {
    expect(humaneTurnError('interrupted', null)).toMatchObject({ title: 'Turn interrupted', message: 'Stopped before it finished.', raw: null });
    expect(humaneTurnError('failed', '  ')).toMatchObject({ title: 'Turn failed', message: 'Codex did not say why.' });
  });

  it('does not repeat a plain message as details', () => {
    expect(humaneTurnError('failed', 'stream disconnected')).toMatchObject({ message: 'stream disconnected', raw: null, httpStatus: null });
  });
});

describe('describeProblem', () => {
  it('says what the trouble is and whether Codex retries', () => {
    expect(describeProblem({ kind: 'unreachable', message: 'Reconnecting... 2/5', willRetry: true, httpStatus: null })).toBe(
      'Cannot reach the model — Codex is retrying (Reconnecting... 2/5)',
    );
    expect(describeProblem({ kind: 'rateLimited', message: 'Rate limit reached', willRetry: true, httpStatus: 429 })).toBe(
      'The model is rate-limited — Codex is retrying: Rate limit reached',
    );
    expect(describeProblem({ kind: 'httpError', message: '{"error":{"message":"boom"}}', willRetry: false, httpStatus: 500 })).toBe(
      'The model answered HTTP 500: boom',
    );
    expect(describeProblem({ kind: 'httpError', message: 'bad', willRetry: false, httpStatus: null })).toBe(
      'The model answered with an error: bad',
    );
    expect(describeProblem({ kind: 'fallback', message: 'Falling back from WebSockets to HTTPS', willRetry: false, httpStatus: null })).toBe(
      'Codex changed how it reaches the model: Falling back from WebSockets to HTTPS',
    );
    expect(describeProblem({ kind: 'other', message: 'odd', willRetry: false, httpStatus: null })).toBe('Codex reports trouble with the model: odd');
  });
});
