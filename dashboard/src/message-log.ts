/**
 * The message log: the latest frames, newest first, in a fixed-size ring. Pausing freezes what
 * is on screen (frames still arrive and are counted); resuming shows the latest again.
 */
import { clockTime, element, setText } from './dom';

export const LOG_CAPACITY = 200;
const PAYLOAD_CHARS = 240;

interface LogEntry {
  at: number;
  kind: string;
  deviceId: string | undefined;
  payload: unknown;
}

export class MessageLog {
  private readonly ring: (LogEntry | undefined)[] = new Array(LOG_CAPACITY);
  private next = 0;
  /** Entries added since the list was last drawn. */
  private unseen = 0;
  private redrawAll = false;
  paused = false;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly status: HTMLElement,
    private readonly pauseButton: HTMLButtonElement,
    clearButton: HTMLButtonElement,
    private readonly requestRender: () => void,
  ) {
    pauseButton.addEventListener('click', () => {
      this.paused = !this.paused;
      if (!this.paused) this.redrawAll = true;
      // The button's own state changes at once; the list catches up at the next frame.
      this.showPaused();
      this.requestRender();
    });
    clearButton.addEventListener('click', () => {
      this.ring.fill(undefined);
      this.unseen = 0;
      this.redrawAll = true;
      this.requestRender();
    });
  }

  add(kind: string, payload: unknown, deviceId?: string): void {
    this.ring[this.next] = { at: Date.now(), kind, deviceId, payload };
    this.next = (this.next + 1) % LOG_CAPACITY;
    this.unseen += 1;
  }

  private showPaused(): void {
    this.pauseButton.setAttribute('aria-pressed', String(this.paused));
    setText(this.pauseButton, this.paused ? 'Resume' : 'Pause');
    this.list.dataset.paused = String(this.paused);
  }

  render(): void {
    if (this.paused) {
      setText(
        this.status,
        `Paused: ${this.unseen} message${this.unseen === 1 ? '' : 's'} arrived since. ` +
          'Resume to see the latest.',
      );
      return;
    }
    setText(this.status, `Showing the latest ${LOG_CAPACITY} messages, newest first.`);
    const fresh = this.redrawAll ? LOG_CAPACITY : Math.min(this.unseen, LOG_CAPACITY);
    if (this.redrawAll) this.list.replaceChildren();
    this.redrawAll = false;
    this.unseen = 0;
    if (fresh === 0) return;
    const items = document.createDocumentFragment();
    for (let back = 1; back <= fresh; back += 1) {
      const entry = this.ring[(this.next - back + LOG_CAPACITY) % LOG_CAPACITY];
      if (entry) items.append(item(entry));
    }
    this.list.prepend(items);
    while (this.list.childElementCount > LOG_CAPACITY) this.list.lastElementChild!.remove();
    this.list.dataset.entries = String(this.list.childElementCount);
  }
}

function item(entry: LogEntry): HTMLLIElement {
  const li = element('li', { className: `log__entry log__entry--${entry.kind}` });
  const time = element('time', { text: clockTime(entry.at) });
  time.dateTime = new Date(entry.at).toISOString();
  const kind = element('span', { className: 'log__kind', text: entry.kind });
  li.append(time, ' ', kind);
  if (entry.deviceId !== undefined) {
    li.append(' ', element('span', { className: 'log__device', text: entry.deviceId }));
  }
  const text = typeof entry.payload === 'string' ? entry.payload : JSON.stringify(entry.payload);
  const short = text.length > PAYLOAD_CHARS ? `${text.slice(0, PAYLOAD_CHARS)}…` : text;
  li.append(' ', element('code', { text: short }));
  return li;
}
