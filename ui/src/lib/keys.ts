// Keyboard handlers shared by the UI's forms.

/** On a form's textarea: Ctrl/Cmd+Enter submits the form. */
export function submitOnCtrlEnter(e: KeyboardEvent): void {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    (e.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
  }
}
