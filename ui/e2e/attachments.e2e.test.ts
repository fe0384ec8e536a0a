// Images and `@` file mentions in the composer, in Debian's Chromium against
// a real `perch serve`, the pinned Codex and the scripted model: a pasted
// image uploads at once and shows as a chip, goes to the model as an image
// input, shows in the history (after a reload too) and opens full size;
// Retry sends it again. Images over 20 MB and other files are refused in
// words before anything is uploaded; a failed upload offers Retry. Typing
// `@` and part of a file's name lists the session folder's files; Enter or
// a click inserts `@path`, shown as a chip, and the path reaches the model.
// Each runs in a wide (1280 px) and a narrow (420 px) window, where nothing
// in the composer may reach past the window. See suite.ts for the setup.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, type Perch } from './harness';
import { overflowProblems } from './layout';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

const WIDTHS = [1280, 420] as const;

/** The model request's image inputs (`input_image` parts of user messages). */
function imageInputs(body: unknown): string[] {
  const input = (body as { input?: unknown[] }).input ?? [];
  const urls: string[] = [];
  for (const item of input) {
    const msg = item as { type?: string; role?: string; content?: unknown };
    if (msg.role !== 'user' || !Array.isArray(msg.content)) continue;
    for (const part of msg.content as { type?: string; image_url?: string }[]) {
      if (part.type === 'input_image' && typeof part.image_url === 'string') urls.push(part.image_url);
    }
  }
  return urls;
}

/** Pastes a small PNG (drawn in the page) into the message box. */
async function pasteImage(page: Page, name: string, count = 1): Promise<void> {
  await page.evaluate(
    async ({ name, count }) => {
      const canvas = document.createElement('canvas');
      canvas.width = 64;
      canvas.height = 40;
      const ctx = canvas.getContext('2d')!;
      ctx.fillStyle = '#d23c3c';
      ctx.fillRect(0, 0, 64, 40);
      ctx.fillStyle = '#2f6fdf';
      ctx.fillRect(16, 10, 32, 20);
      const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
      const dt = new DataTransfer();
      for (let i = 0; i < count; i++) {
        dt.items.add(new File([blob], count === 1 ? name : name.replace('.png', `-${i + 1}.png`), { type: 'image/png' }));
      }
      const box = document.getElementById('composer-input')!;
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    },
    { name, count },
  );
}

/** Counts the uploads the page sends (`POST /api/attachments`). */
function countUploads(page: Page): { count: number } {
  const seen = { count: 0 };
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/attachments') seen.count++;
  });
  return seen;
}

describe.skipIf(missing !== null)('attachments and @ mentions', () => {
  const suite = setupSuite('attachments');
  let perch: Perch;
  let project = '';
  beforeAll(() => {
    perch = suite.perch;
    // A folder with files to mention.
    project = path.join(perch.root, 'mention-project');
    mkdirSync(path.join(project, 'src/widgets'), { recursive: true });
    mkdirSync(path.join(project, 'docs'), { recursive: true });
    writeFileSync(path.join(project, 'src/widgets/gear_ratio.rs'), 'pub fn ratio() -> f32 { 2.5 }\n');
    writeFileSync(path.join(project, 'src/main.rs'), 'fn main() {}\n');
    writeFileSync(path.join(project, 'docs/OVERVIEW.md'), '# Overview\n');
  });

  async function waitIdle(page: Page) {
    await page.waitForFunction(() => !document.querySelector('[data-testid="turn"][data-status="inProgress"]'));
  }

  for (const width of WIDTHS) {
    it(`pastes an image, sends it to the model, shows it in the history and sends it again on Retry (${width} px)`, async () => {
      const page = await suite.newPage({ viewport: { width, height: 800 } });
      const uploads = countUploads(page);
      await suite.startSession(page);
      const composer = page.locator('#composer-input');
      await composer.fill('What is in this picture?');

      // The upload is held back until the chip has been seen uploading.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await page.route('**/api/attachments', async (route) => {
        await held;
        await route.continue();
      });
      await pasteImage(page, `red-square-${width}.png`);
      const chip = page.getByTestId('attachment-chip');
      await chip.filter({ hasText: 'Uploading…' }).waitFor();
      expect(await chip.innerText()).toContain(`red-square-${width}.png`);
      expect(await chip.locator('img').count()).toBe(1);
      const send = page.getByTestId('composer-send');
      expect(await send.isDisabled()).toBe(true);
      expect(await send.getAttribute('title')).toBe('Wait until the images have uploaded.');
      release();
      await page.locator('[data-testid="attachment-chip"][data-state="ready"]').waitFor();
      await page.unroute('**/api/attachments');
      expect(uploads.count).toBe(1);
      expect(await send.isDisabled()).toBe(false);
      const id = await chip.getAttribute('data-attachment-id');
      expect(id).toMatch(/^[0-9a-f]{32}$/);

      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-chip-${width}.png`) });

      await perch.enqueue({ text: 'A red picture with a blue box.' });
      const before = (await perch.requests()).length;
      await composer.press('Enter');
      // Shown with the message at once, and the chips leave the composer.
      await page.locator(`[data-testid="message-image"][data-attachment-id="${id}"]`).first().waitFor();
      await page.getByTestId('agent-message').filter({ hasText: 'A red picture with a blue box.' }).waitFor();
      expect(await page.getByTestId('attachment-chip').count()).toBe(0);
      expect(await composer.inputValue()).toBe('');

      const sent = (await perch.requests()).slice(before);
      const withImage = sent.filter((r) => imageInputs(r.body).length > 0);
      expect(withImage.length, 'a model request with the image').toBeGreaterThan(0);
      expect(imageInputs(withImage[0].body)[0].startsWith('data:image/png;base64,')).toBe(true);
      expect(JSON.stringify(withImage[0].body)).toContain('What is in this picture?');

      // After a reload the history shows the image, loaded from Perch.
      await page.reload();
      await page.getByTestId('agent-message').filter({ hasText: 'A red picture with a blue box.' }).waitFor();
      const shown = page.locator(`[data-testid="message-image"][data-attachment-id="${id}"] img`);
      await shown.waitFor();
      expect(await shown.getAttribute('src')).toBe(`/api/attachments/${id}`);
      expect(await shown.getAttribute('alt')).toContain('Attached image');
      await page.waitForFunction(
        (sel) => {
          const img = document.querySelector(sel) as HTMLImageElement | null;
          return !!img && img.complete && img.naturalWidth === 64 && img.naturalHeight === 40;
        },
        `[data-testid="message-image"][data-attachment-id="${id}"] img`,
      );
      const file = await perch.api('GET', `/api/attachments/${id}`);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
      const png = new Uint8Array(await file.arrayBuffer());
      expect(Array.from(png.slice(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);

      // Full size in a dialog; Escape closes it.
      await shown.click();
      const viewer = page.getByTestId('image-viewer');
      await viewer.waitFor();
      expect(await viewer.getAttribute('role')).toBe('dialog');
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-viewer-${width}.png`) });
      await page.keyboard.press('Escape');
      await viewer.waitFor({ state: 'detached' });

      // Retry on the answer sends the image again.
      await waitIdle(page);
      const answer = page.locator('[data-item-id]').filter({ hasText: 'A red picture with a blue box.' });
      await answer.hover();
      await perch.enqueue({ text: 'Still a red picture.' });
      const beforeRetry = (await perch.requests()).length;
      await answer.getByTestId('retry-turn').click();
      await page.getByTestId('agent-message').filter({ hasText: 'Still a red picture.' }).waitFor();
      const retried = (await perch.requests()).slice(beforeRetry);
      expect(retried.some((r) => imageInputs(r.body).length === 1), 'the retried request has the image once').toBe(true);
      await page.locator(`[data-testid="message-image"][data-attachment-id="${id}"]`).first().waitFor();
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-history-${width}.png`) });

      // Edit (Up in the empty box) sends the image again with the new text.
      await waitIdle(page);
      await composer.press('ArrowUp');
      const box = page.getByTestId('edit-box');
      await box.waitFor();
      expect(await box.locator(`img[src="/api/attachments/${id}"]`).count()).toBe(1);
      await perch.enqueue({ text: 'Red, with a blue box inside.' });
      const beforeEdit = (await perch.requests()).length;
      await box.locator('textarea').fill('Describe the colours');
      await box.locator('textarea').press('Enter');
      await page.getByTestId('agent-message').filter({ hasText: 'Red, with a blue box inside.' }).waitFor();
      const edited = (await perch.requests()).slice(beforeEdit);
      const editedWithImage = edited.filter((r) => imageInputs(r.body).length === 1);
      expect(editedWithImage.length, 'the edited request has the image').toBeGreaterThan(0);
      expect(JSON.stringify(editedWithImage[0].body)).toContain('Describe the colours');
      expect(JSON.stringify(editedWithImage[0].body)).not.toContain('What is in this picture?');
      await page.locator(`[data-testid="message-image"][data-attachment-id="${id}"]`).first().waitFor();
    });

    it(`refuses a file over 20 MB and other files in words, retries a failed upload, and keeps to 10 images (${width} px)`, async () => {
      const page = await suite.newPage({ viewport: { width, height: 800 } });
      const uploads = countUploads(page);
      await suite.startSession(page);

      // 21 MB with PNG's signature, dropped on the composer.
      await page.evaluate(() => {
        const bytes = new Uint8Array(21 * 1024 * 1024);
        bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'huge-scan.png', { type: 'image/png' }));
        const form = document.querySelector('[data-testid="composer"]')!;
        form.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        form.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      });
      const huge = page.getByTestId('attachment-chip').filter({ hasText: 'huge-scan.png' });
      await huge.getByTestId('attachment-error').filter({ hasText: 'This image is 21 MB; the limit is 20 MB.' }).waitFor();
      expect(await huge.getAttribute('data-state')).toBe('failed');
      expect(await huge.getByRole('button', { name: /^Retry/ }).count()).toBe(0);

      // Not an image, chosen with the Attach image button's file input.
      await page.getByTestId('attach-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('some notes, not a picture') });
      const notes = page.getByTestId('attachment-chip').filter({ hasText: 'notes.txt' });
      await notes.getByTestId('attachment-error').filter({ hasText: 'Only PNG, JPEG, GIF and WebP images can be attached.' }).waitFor();
      expect(await page.getByRole('button', { name: 'Attach image' }).count()).toBe(1);

      // Send is held back while images that failed are attached, and says why.
      await page.locator('#composer-input').fill('Here are the files');
      const send = page.getByTestId('composer-send');
      expect(await send.isDisabled()).toBe(true);
      expect(await send.getAttribute('title')).toContain('could not be attached');
      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-refused-${width}.png`) });
      expect(uploads.count, 'nothing was uploaded').toBe(0);

      await huge.getByRole('button', { name: 'Remove huge-scan.png' }).click();
      await notes.getByRole('button', { name: 'Remove notes.txt' }).click();
      expect(await page.getByTestId('attachment-chip').count()).toBe(0);
      expect(await send.isDisabled()).toBe(false);

      // A network failure: said in words, and Retry uploads it again.
      await page.route('**/api/attachments', (route) => route.abort('connectionfailed'));
      await pasteImage(page, 'flaky.png');
      const flaky = page.getByTestId('attachment-chip').filter({ hasText: 'flaky.png' });
      await flaky.getByTestId('attachment-error').filter({ hasText: 'Cannot reach Perch' }).waitFor();
      await page.unroute('**/api/attachments');
      await flaky.getByRole('button', { name: 'Retry uploading flaky.png' }).click();
      await page.locator('[data-testid="attachment-chip"][data-state="ready"]').filter({ hasText: 'flaky.png' }).waitFor();

      // At most 10: of 11 more, 9 are added and the composer says why.
      await pasteImage(page, 'many.png', 11);
      await page.getByTestId('attachment-note').filter({ hasText: 'At most 10 images can go with one message.' }).waitFor();
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="attachment-chip"][data-state="ready"]').length === 10,
      );
      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-ten-${width}.png`) });

      // The server's side of the same rules (the page's cookie).
      const answers = await page.evaluate(async () => {
        const post = async (body: BodyInit, type: string) => {
          const res = await fetch('/api/attachments', { method: 'POST', headers: { 'Content-Type': type, 'X-Perch-Request': '1' }, body });
          return { status: res.status, body: await res.json().catch(() => null) };
        };
        const big = new Uint8Array(20 * 1024 * 1024 + 1);
        big.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        return {
          notImage: await post('plain text, not a picture', 'image/png'),
          tooBig: await post(big, 'image/png'),
        };
      });
      expect(answers.notImage.status).toBe(415);
      expect(typeof answers.notImage.body?.error?.message).toBe('string');
      expect(answers.tooBig.status).toBe(413);
      expect(typeof answers.tooBig.body?.error?.message).toBe('string');
      const anonymous = await fetch(perch.url + '/api/attachments', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: 'x' });
      expect(anonymous.status).toBe(401);
    });

    it(`mentions a file with @, shows it as a chip and sends its path (${width} px)`, async () => {
      const created = await perch.api('POST', '/api/sessions', { cwd: project });
      expect(created.status).toBe(201);
      const session = (await created.json()) as { id: string };
      const page = await suite.newPage({ viewport: { width, height: 800 } });
      await suite.signIn(page, `#/chat/${encodeURIComponent(session.id)}`);
      const composer = page.locator('#composer-input');
      await composer.waitFor();

      await composer.click();
      await composer.fill('Please review ');
      await composer.pressSequentially('@gear_ra');
      const option = page.locator('[data-testid="mention-completion"][data-path="src/widgets/gear_ratio.rs"]');
      await option.waitFor();
      expect(await page.getByRole('listbox', { name: 'Files' }).count()).toBe(1);
      expect(await composer.getAttribute('aria-expanded')).toBe('true');
      expect(await composer.getAttribute('aria-controls')).toBe('composer-files');
      expect(await option.getAttribute('aria-selected')).toBe('true');
      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-mention-list-${width}.png`) });

      // Enter picks it: `@path ` in the text, and a chip.
      await composer.press('Enter');
      expect(await composer.inputValue()).toBe('Please review @src/widgets/gear_ratio.rs ');
      await page.locator('[data-testid="mention-chip"][data-path="src/widgets/gear_ratio.rs"]').waitFor();
      await page.getByTestId('mention-completions').waitFor({ state: 'detached' });

      // A click picks too; the chip's remove button takes the text out again.
      await composer.pressSequentially('@OVERV');
      await page.locator('[data-testid="mention-completion"][data-path="docs/OVERVIEW.md"]').click();
      expect(await composer.inputValue()).toBe('Please review @src/widgets/gear_ratio.rs @docs/OVERVIEW.md ');
      const overview = page.locator('[data-testid="mention-chip"][data-path="docs/OVERVIEW.md"]');
      await overview.waitFor();
      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);
      await overview.getByRole('button', { name: 'Remove the mention of docs/OVERVIEW.md' }).click();
      await overview.waitFor({ state: 'detached' });
      expect(await composer.inputValue()).toBe('Please review @src/widgets/gear_ratio.rs ');

      // Escape closes the list and leaves the text as typed.
      await composer.press('End');
      await composer.pressSequentially('and @mai');
      await page.locator('[data-testid="mention-completion"][data-path="src/main.rs"]').waitFor();
      await composer.press('Escape');
      await page.getByTestId('mention-completions').waitFor({ state: 'detached' });
      expect(await composer.inputValue()).toBe('Please review @src/widgets/gear_ratio.rs and @mai');
      for (let i = 0; i < 4; i++) await composer.press('Backspace');
      await composer.pressSequentially('its tests');
      await page.getByTestId('mention-completions').waitFor({ state: 'detached' });

      await perch.enqueue({ text: 'The ratio looks right.' });
      const before = (await perch.requests()).length;
      await composer.press('Enter');
      await page.getByTestId('agent-message').filter({ hasText: 'The ratio looks right.' }).waitFor();
      expect(await page.getByTestId('mention-chip').count()).toBe(0);
      const sent = (await perch.requests()).slice(before).map((r) => JSON.stringify(r.body));
      expect(sent.some((b) => b.includes('Please review @src/widgets/gear_ratio.rs and its tests'))).toBe(true);
      // In the history the mention stands out.
      const mention = page.getByTestId('user-message').locator('.mention');
      expect(await mention.innerText()).toBe('@src/widgets/gear_ratio.rs');
      if (width === 420) expect(await overflowProblems(page, 'the composer at 420 px')).toEqual([]);
      await page.screenshot({ path: path.join(RESULTS_DIR, `attachments-mention-${width}.png`) });
    });
  }
});
