/**
 * The command form (device id + JSON command → sendCommand) and the list of recent commands with
 * their progress: sending, sent (the server published it), acknowledged (the device's ack, shown
 * as the device sent it) or failed.
 */
import type { ClientAction, SendCommandRequest } from '../../shared/protocol';
import { clockTime, element, setText } from './dom';
import type { CommandEntry, CommandTracker } from './commands';

/** IoT Core's thing names (shared/protocol.ts holds the same rule; only its types are imported). */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const DEFAULT_COMMAND = '{"reboot": true}';

export class CommandView {
  private readonly deviceInput: HTMLInputElement;
  private readonly bodyInput: HTMLTextAreaElement;

  constructor(
    form: HTMLFormElement,
    private readonly deviceError: HTMLElement,
    private readonly bodyError: HTMLElement,
    private readonly list: HTMLOListElement,
    /** A polite live region: one sentence when a command's status changes. */
    private readonly announcer: HTMLElement,
    private readonly tracker: CommandTracker,
    private readonly send: (action: ClientAction) => boolean,
    private readonly sent: (entry: CommandEntry) => void,
  ) {
    this.deviceInput = form.elements.namedItem('deviceId') as HTMLInputElement;
    this.bodyInput = form.elements.namedItem('command') as HTMLTextAreaElement;
    if (!this.bodyInput.value) this.bodyInput.value = DEFAULT_COMMAND;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    // A field's error stays until the field is edited, not until the next submit.
    this.deviceInput.addEventListener('input', () =>
      showError(this.deviceInput, this.deviceError, undefined),
    );
    this.bodyInput.addEventListener('input', () =>
      showError(this.bodyInput, this.bodyError, undefined),
    );
  }

  render(): void {
    if (!this.tracker.changed) return;
    this.tracker.changed = false;
    if (this.tracker.entries.length === 0) return;
    this.list.replaceChildren(...this.tracker.entries.map(item));
    const newest = this.tracker.entries[0]!;
    setText(this.announcer, `Command to ${newest.deviceId}: ${STATUS_TEXT[newest.status]}.`);
  }

  private submit(): void {
    const deviceId = this.deviceInput.value.trim();
    const deviceProblem = THING_NAME.test(deviceId)
      ? undefined
      : 'Enter a device id: 1–128 of a–z A–Z 0–9 : _ -';
    const parsed = parseCommand(this.bodyInput.value);
    const bodyProblem = 'problem' in parsed ? parsed.problem : undefined;
    showError(this.deviceInput, this.deviceError, deviceProblem);
    showError(this.bodyInput, this.bodyError, bodyProblem);
    if (deviceProblem) return this.deviceInput.focus();
    if ('problem' in parsed) return this.bodyInput.focus();
    if (!this.send({ action: 'sendCommand', deviceId, command: parsed.command })) {
      showError(
        this.bodyInput,
        this.bodyError,
        'Not connected: try again once the connection is back.',
      );
      return;
    }
    this.sent(this.tracker.add(deviceId, parsed.command, Date.now()));
  }
}

function parseCommand(
  text: string,
): { command: SendCommandRequest['command'] } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `Not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value === 'string' && value.length > 0) return { command: value };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return { command: value as SendCommandRequest['command'] };
  }
  return { problem: 'The command must be a JSON object or a non-empty JSON string.' };
}

function showError(input: HTMLElement, message: HTMLElement, problem: string | undefined): void {
  if (problem === undefined) input.removeAttribute('aria-invalid');
  else input.setAttribute('aria-invalid', 'true');
  message.hidden = problem === undefined;
  setText(message, problem ?? '');
}

const STATUS_TEXT = {
  sending: 'sending…',
  sent: 'sent, waiting for the device',
  acknowledged: 'acknowledged',
  failed: 'failed',
} as const;

function item(entry: CommandEntry): HTMLLIElement {
  const li = element('li', { className: `command command--${entry.status}` });
  li.dataset.status = entry.status;
  if (entry.commandId) li.dataset.commandId = entry.commandId;
  const head = element('p');
  head.append(
    element('strong', { text: entry.deviceId }),
    ` ${clockTime(entry.sentAt)} `,
    element('code', { text: JSON.stringify(entry.command) }),
  );
  const status = element('p', { className: 'command__status' });
  status.append(element('span', { className: 'badge', text: STATUS_TEXT[entry.status] }));
  if (entry.status === 'acknowledged' && entry.ackedAt !== undefined) {
    const seconds = ((entry.ackedAt - entry.sentAt) / 1000).toFixed(1);
    status.append(` after ${seconds} s: `, element('code', { text: JSON.stringify(entry.ack) }));
  } else if (entry.status === 'failed') {
    status.append(` ${entry.problem ?? ''}`);
  }
  if (entry.commandId) {
    status.append(element('span', { className: 'command__id', text: ` id ${entry.commandId}` }));
  }
  li.append(head, status);
  return li;
}
