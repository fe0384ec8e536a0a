// Keyboard: the app-wide shortcuts, the command palette's commands, and
// the list `?` shows. Shortcuts that belong to one element (y/n on an
// approval, Up in the composer) live with it and are only listed here.

import { navigate, router } from '../router.svelte';
import { PAGES, pageRoute, type Page } from '../routes';
import { interrupt, runningTurn } from './chat.svelte';
import { createSession, refreshSessions, sessionList } from './sessions.svelte';
import { data } from './store.svelte';

export const palette = $state({ open: false });
export const shortcutsHelp = $state({ open: false });

export interface PaletteCommand {
  id: string;
  label: string;
  keys?: string;
  run: () => void;
}

/** Every shortcut, as `?` lists them. */
export const SHORTCUTS: { keys: string; what: string }[] = [
  { keys: 'Ctrl+K', what: 'Command palette and search everything' },
  { keys: 'Ctrl+N', what: 'New session' },
  { keys: 'Esc', what: 'Interrupt the running turn (when the message box is empty)' },
  { keys: '↑', what: 'Edit your last message (in an empty message box)' },
  { keys: 'Enter / Shift+Enter', what: 'Send / new line' },
  { keys: 'y / n', what: 'Accept / decline the focused approval' },
  { keys: '?', what: 'This list' },
];

function go(page: Page): void {
  navigate(pageRoute(page, data.selectedId));
}

/** What the palette offers now. */
export function paletteCommands(): PaletteCommand[] {
  const commands: PaletteCommand[] = [
    { id: 'new', label: 'New session', keys: 'Ctrl+N', run: () => void newSession() },
  ];
  const running = runningTurn(data.selectedId);
  if (running && data.selectedId) {
    const id = data.selectedId;
    commands.push({ id: 'interrupt', label: 'Interrupt the running turn', keys: 'Esc', run: () => void interrupt(id) });
  }
  commands.push({
    id: 'archived',
    label: sessionList.showArchived ? 'Hide archived sessions' : 'Show archived sessions',
    run: () => {
      sessionList.showArchived = !sessionList.showArchived;
      void refreshSessions();
    },
  });
  for (const p of PAGES) {
    if (router.route.page !== p.page) commands.push({ id: `go-${p.page}`, label: `Go to ${p.label}`, run: () => go(p.page) });
  }
  commands.push({ id: 'shortcuts', label: 'Keyboard shortcuts', keys: '?', run: () => (shortcutsHelp.open = true) });
  return commands;
}

async function newSession(): Promise<void> {
  if (router.route.page !== 'chat') go('chat');
  await createSession();
  focusComposer();
}

/** Moves focus to the message box, if the chat shows one. */
export function focusComposer(): void {
  queueMicrotask(() => document.querySelector<HTMLTextAreaElement>('#composer-input')?.focus());
}

/** Typing in a field: single-key shortcuts stay out of the way. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** The window's keydown: the app-wide shortcuts. */
export function onGlobalKey(e: KeyboardEvent): void {
  if (e.defaultPrevented || e.isComposing) return;
  const mod = e.ctrlKey || e.metaKey;
  if (mod && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'k') {
    e.preventDefault();
    palette.open = !palette.open;
    return;
  }
  if (mod && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'n') {
    e.preventDefault();
    void newSession();
    return;
  }
  if (palette.open || shortcutsHelp.open) return;
  if (e.key === '?' && !mod && !typing(e.target)) {
    e.preventDefault();
    shortcutsHelp.open = true;
    return;
  }
  if (e.key === 'Escape' && router.route.page === 'chat' && data.selectedId) {
    const target = e.target;
    // In the message box only when it is empty; anywhere else in the chat
    // unless a field or a dialog has its own use for Escape.
    const box = target instanceof HTMLTextAreaElement && target.id === 'composer-input';
    if ((box && target.value.trim() === '') || (!box && !typing(target) && !document.querySelector('[role="dialog"]'))) {
      const running = runningTurn(data.selectedId);
      if (running) {
        e.preventDefault();
        void interrupt(data.selectedId);
      }
    }
  }
}
