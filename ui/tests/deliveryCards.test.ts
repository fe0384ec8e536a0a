import { describe, expect, it } from 'vitest';
import { render } from 'svelte/server';
import PeerDeliveryCards from '../src/components/PeerDeliveryCards.svelte';
import WakeupCard from '../src/components/WakeupCard.svelte';
import { parsePeerDelivery, parseWakeupDelivery } from '../src/lib/delivery';

// The cards show what peers wrote as text: markup in it is escaped, never HTML.
describe('delivery cards', () => {
  it('render a peer message’s names and body as text', () => {
    const delivery = parsePeerDelivery(
      '[peer messages: header]\n[channel: ops] <img src=x onerror=alert(1)>: <b>hi</b>\n  <script>x()</script>\n  (message 5; subject "<i>s</i>"; unauthenticated sender)',
    )!;
    const { body } = render(PeerDeliveryCards, { props: { delivery } });
    expect(body).not.toContain('<b>');
    expect(body).not.toContain('<img');
    expect(body).not.toContain('<script>');
    expect(body).not.toContain('<i>');
    expect(body).toContain('&lt;b>hi&lt;/b>');
    expect(body).toContain('data-testid="peer-card-unauthenticated"');
  });

  it('render a wakeup’s label and prompt as text', () => {
    const wakeup = parseWakeupDelivery(
      '[event: wakeup #2 "<b>x</b>" (every 1 h), scheduled 2026-11-22T09:00:00Z, fired 2026-11-22T09:00:00Z]\n<script>y()</script>',
    )!;
    const { body } = render(WakeupCard, { props: { wakeup } });
    expect(body).not.toContain('<b>');
    expect(body).not.toContain('<script>');
    expect(body).toContain('data-testid="wakeup-card"');
  });
});
