/**
 * The subscription box: sends subscribe/unsubscribe with MQTT topic filters and shows the
 * filters the server reports back. After a reconnect the new connection receives everything,
 * so the filters in force are sent again.
 */
import type { ClientAction, SubscriptionFrame } from '../../shared/protocol';
import { setText } from './dom';

const MAX_FILTERS = 50;

export class SubscriptionView {
  /** The server's filters for this connection; null: not subscribed, it receives everything. */
  filters: string[] | null = null;
  private readonly input: HTMLInputElement;

  constructor(
    form: HTMLFormElement,
    private readonly current: HTMLOutputElement,
    private readonly message: HTMLElement,
    private readonly send: (action: ClientAction) => boolean,
    private readonly sent: (kind: 'subscribe' | 'unsubscribe', topics: string[]) => void,
  ) {
    this.input = form.elements.namedItem('filters') as HTMLInputElement;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const submitter = (event as SubmitEvent).submitter as HTMLButtonElement | null;
      this.submit(submitter?.value === 'unsubscribe' ? 'unsubscribe' : 'subscribe');
    });
    this.input.addEventListener('input', () => this.input.removeAttribute('aria-invalid'));
    this.show();
  }

  answered(frame: SubscriptionFrame): void {
    this.filters = frame.topics;
    this.show();
    this.say(
      `${frame.type === 'subscribed' ? 'Subscribed' : 'Unsubscribed'}. Receiving ${receiving(frame.topics)}.`,
    );
  }

  failed(message: string): void {
    this.say(`Not applied: ${message}`, true);
  }

  /** A new connection is open: it receives everything until the filters are sent again. */
  reconnected(): void {
    const filters = this.filters;
    this.filters = null;
    this.show();
    if (filters && filters.length > 0) {
      this.request('subscribe', filters);
      this.say(`Reconnected: restoring the subscription to ${filters.join(', ')}.`);
    }
  }

  private submit(kind: 'subscribe' | 'unsubscribe'): void {
    const topics = [...new Set(this.input.value.split(/[\s,]+/).filter(Boolean))];
    if (topics.length === 0 || topics.length > MAX_FILTERS) {
      this.input.setAttribute('aria-invalid', 'true');
      this.say(`Enter between 1 and ${MAX_FILTERS} topic filters.`, true);
      this.input.focus();
      return;
    }
    this.input.removeAttribute('aria-invalid');
    if (this.request(kind, topics))
      this.say(
        `${kind === 'subscribe' ? 'Subscribing to' : 'Unsubscribing from'} ${topics.join(', ')}…`,
      );
    else this.say('Not connected: try again once the connection is back.', true);
  }

  private request(kind: 'subscribe' | 'unsubscribe', topics: string[]): boolean {
    if (!this.send({ action: kind, topics })) return false;
    this.sent(kind, topics);
    return true;
  }

  private show(): void {
    setText(this.current, receiving(this.filters));
    this.current.dataset.filters = JSON.stringify(this.filters);
  }

  private say(text: string, problem = false): void {
    this.message.classList.toggle('form-message--problem', problem);
    setText(this.message, text);
  }
}

function receiving(filters: string[] | null): string {
  if (filters === null) return 'all telemetry (no subscription)';
  if (filters.length === 0) return 'nothing (every filter removed)';
  return `only ${filters.join(', ')}`;
}
