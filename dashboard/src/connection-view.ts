/**
 * The connection panel. The state sentence sits in a polite live region and changes only when
 * the state does; the once-a-second countdown is beside it, outside the live region, so a screen
 * reader announces "reconnecting" once rather than every second.
 */
import { displayUrl } from './config';
import type { ConnectionState } from './connection';
import { setText } from './dom';

export class ConnectionView {
  private state: ConnectionState | undefined;
  private announced = '';

  constructor(
    private readonly section: HTMLElement,
    private readonly status: HTMLElement,
    private readonly countdown: HTMLElement,
    private readonly reconnectButton: HTMLButtonElement,
    private readonly urlLine: HTMLElement,
    private readonly help: HTMLElement,
    onReconnectNow: () => void,
  ) {
    reconnectButton.addEventListener('click', onReconnectNow);
  }

  /** The URL of the latest attempt, without its token. */
  showUrl(socketUrl: string): void {
    setText(this.urlLine, socketUrl ? `WebSocket: ${displayUrl(socketUrl)}` : '');
  }

  /** Why the connection fails and what to do, or nothing once it works. */
  explain(text: string): void {
    setText(this.help, text);
    this.help.hidden = text === '';
  }

  /** The configuration is unusable: say so, and never connect. */
  fail(problem: string): void {
    this.section.dataset.state = 'failed';
    setText(this.status, `Not connected: ${problem}`);
  }

  update(state: ConnectionState): void {
    this.state = state;
  }

  render(now: number): void {
    const state = this.state;
    if (!state) return;
    this.section.dataset.state = state.kind;
    let sentence: string;
    let detail = '';
    switch (state.kind) {
      case 'connecting':
        sentence = state.attempt === 0 ? 'Connecting…' : `Reconnecting (attempt ${state.attempt})…`;
        break;
      case 'open':
        sentence = 'Connected: live.';
        break;
      case 'waiting': {
        sentence = `Disconnected: ${state.reason}. Reconnecting automatically.`;
        const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
        detail = `Next attempt in ${seconds} s (attempt ${state.attempt}).`;
        this.countdown.dataset.retryAt = String(state.retryAt);
        break;
      }
      case 'stopped':
        sentence = `Not connected: ${state.reason}.`;
        break;
    }
    if (sentence !== this.announced) {
      this.announced = sentence;
      this.status.textContent = sentence;
    }
    setText(this.countdown, detail);
    this.reconnectButton.hidden = state.kind !== 'waiting' && state.kind !== 'stopped';
  }
}
