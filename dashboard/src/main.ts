/**
 * The live dashboard: wires the connection, the model (store, selection, commands) and the
 * views. Frames update the model as they arrive; the views draw once per animation frame.
 */
import type { ClientAction, ServerFrame } from '../../shared/protocol';
import { ChartsView } from './charts';
import { CommandTracker } from './commands';
import { CommandView } from './command-view';
import {
  checkSocketUrl,
  displayUrl,
  explainRefusal,
  fetchLocalTarget,
  loadSession,
  saveSession,
  socketUrl,
  takeAddressTarget,
  type SocketTarget,
} from './config';
import { LiveConnection, type ConnectionState } from './connection';
import { ConnectionView } from './connection-view';
import { DeviceListView } from './device-list';
import { byId } from './dom';
import { ackOf, logPayload } from './frames';
import { MessageLog } from './message-log';
import { RenderLoop, type RenderStats } from './render-loop';
import { PendingRequests } from './requests';
import { ChartSelection } from './selection';
import { SERIES_CAPACITY, TelemetryStore } from './store';
import { SubscriptionView } from './subscription-view';

/** Ages, online/stale markers, rates and the countdown move with time, not only with frames. */
const TICK_MS = 500;

/** What the page exposes for the browser tests and for a curious developer's console. */
export interface DashboardHandle {
  readonly socket: WebSocket | undefined;
  readonly stats: {
    frames: number;
    malformed: number;
    telemetry: number;
    duplicates: number;
    devices: number;
    render: RenderStats;
  };
  readonly seriesCapacity: number;
}

declare global {
  interface Window {
    __dashboard?: DashboardHandle;
  }
}

/** Where to connect (see config.ts), or the problem with the address's `?ws=`. */
async function chooseTarget(): Promise<{ target?: SocketTarget; problem?: string }> {
  const problem = takeAddressTarget(location, history, sessionStorage);
  if (problem) return { problem };
  const target = loadSession(sessionStorage) ?? (await fetchLocalTarget());
  return { target };
}

/** The connect form: a deployed stage's WebSocket URL and a token, kept in this tab's session. */
function showConnectForm(prefill: SocketTarget | undefined): void {
  const form = byId<HTMLFormElement>('connect-form');
  const urlInput = byId<HTMLInputElement>('connect-url');
  const error = byId('connect-error');
  if (prefill?.source === 'session') urlInput.value = prefill.url;
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    const checked = checkSocketUrl(urlInput.value.trim());
    if ('problem' in checked) {
      error.textContent = checked.problem;
      return;
    }
    const token = byId<HTMLInputElement>('connect-token').value.trim();
    saveSession(sessionStorage, { url: checked.url, token: token || undefined });
    location.reload();
  };
}

async function start(): Promise<void> {
  const { target, problem } = await chooseTarget();
  const store = new TelemetryStore();
  const selection = new ChartSelection();
  const commands = new CommandTracker();
  const pending = new PendingRequests();
  let frames = 0;
  let malformed = 0;
  let lastTick = 0;

  const loop = new RenderLoop(render);
  const request = () => loop.request();

  // The offline stack's token lives minutes: each attempt fetches a fresh one.
  const resolveUrl = async (): Promise<string> => {
    const current = target?.source === 'local' ? ((await fetchLocalTarget()) ?? target) : target;
    return current ? socketUrl(current) : '';
  };
  let everOpen = false;
  const connection = target
    ? new LiveConnection(resolveUrl, {
        state: onState,
        frame: onFrame,
        malformed: (text) => {
          malformed += 1;
          log.add('malformed', text);
          request();
        },
      })
    : undefined;
  // Every action carries a requestId; its answer (an error frame too) echoes it.
  let lastRequestId = '';
  const send = (action: ClientAction): boolean => {
    lastRequestId = pending.nextId();
    return connection?.send({ ...action, requestId: lastRequestId }) ?? false;
  };

  const connectionView = new ConnectionView(
    byId('connection'),
    byId('connection-status'),
    byId('connection-countdown'),
    byId<HTMLButtonElement>('reconnect-now'),
    byId('connection-url'),
    byId('connection-help'),
    () => connection?.reconnectNow(),
  );
  const devices = new DeviceListView(
    byId<HTMLTableSectionElement>('device-rows'),
    byId('devices-summary'),
    byId<HTMLDataListElement>('known-devices'),
    store,
    selection,
    request,
  );
  const charts = new ChartsView(byId('charts'), byId('charts-empty'), store, selection);
  const log = new MessageLog(
    byId<HTMLOListElement>('log'),
    byId('log-status'),
    byId<HTMLButtonElement>('log-pause'),
    byId<HTMLButtonElement>('log-clear'),
    request,
  );
  const subscription = new SubscriptionView(
    byId<HTMLFormElement>('subscription-form'),
    byId<HTMLOutputElement>('subscription-current'),
    byId('subscription-message'),
    send,
    (kind, topics) => pending.add(lastRequestId, { kind, topics }),
  );
  const commandView = new CommandView(
    byId<HTMLFormElement>('command-form'),
    byId('command-device-error'),
    byId('command-body-error'),
    byId<HTMLOListElement>('commands'),
    byId('command-status'),
    commands,
    send,
    (entry) => {
      pending.add(lastRequestId, { kind: 'command', entry });
      request();
    },
  );

  function onState(state: ConnectionState): void {
    connectionView.update(state);
    if (connection && state.kind === 'connecting') connectionView.showUrl(connection.url);
    if (state.kind === 'open') {
      everOpen = true;
      connectionView.explain('');
      connectionView.showUrl(connection!.url);
      log.add('connected', displayUrl(connection!.url));
      subscription.reconnected();
    } else if (state.kind === 'waiting') {
      log.add('disconnected', state.reason);
      if (state.refused && target) {
        connectionView.explain(explainRefusal(target, Date.now() / 1000));
        // A refused token is refused again: stop, unless the page worked before (a network
        // blip) or the offline stack hands out the tokens.
        if (!everOpen && target.source !== 'local') {
          connection?.stop('the API refused the connection');
          showConnectForm(target);
        }
      }
      // Answers to requests sent on the closed socket will never come.
      for (const lost of pending.drain()) {
        const why = 'the connection closed before the server answered; send it again';
        if (lost.kind === 'command') commands.failed(lost.entry, why);
        else subscription.failed(why);
      }
    }
    request();
  }

  function onFrame(frame: ServerFrame, now: number): void {
    frames += 1;
    switch (frame.type) {
      case 'telemetry': {
        if (!store.add(frame, now)) return;
        // The first devices with readings are charted until the user picks.
        if (store.devices.get(frame.deviceId)?.series.size === 1) selection.offer(frame.deviceId);
        const ack = ackOf(frame);
        if (ack) commands.acked(ack.commandId, frame.data, now);
        charts.touch();
        // Text, binary and other payloads are logged; the charts only plot JSON objects' fields.
        log.add(ack ? 'ack' : 'telemetry', logPayload(frame), frame.deviceId);
        break;
      }
      case 'subscribed':
      case 'unsubscribed': {
        pending.take(frame.requestId);
        subscription.answered(frame);
        log.add(frame.type, frame.topics);
        break;
      }
      case 'commandSent': {
        const answered = pending.take(frame.requestId);
        commands.sent(frame, answered?.kind === 'command' ? answered.entry : undefined);
        log.add('commandSent', frame, frame.deviceId);
        break;
      }
      case 'error': {
        const failed = pending.take(frame.requestId);
        if (failed?.kind === 'command') commands.failed(failed.entry, frame.message);
        else if (failed) subscription.failed(frame.message);
        log.add('error', frame);
        break;
      }
      default:
        log.add(frame.type, frame);
    }
    request();
  }

  function render(now: number): void {
    const tick = now - lastTick >= TICK_MS;
    if (tick) lastTick = now;
    connectionView.render(now);
    devices.render(now, tick);
    charts.render(now);
    commandView.render();
    log.render();
  }

  window.__dashboard = {
    get socket() {
      return connection?.socket;
    },
    get stats() {
      return {
        frames,
        malformed,
        telemetry: store.telemetry,
        duplicates: store.duplicates,
        devices: store.devices.size,
        render: { ...loop.stats },
      };
    },
    seriesCapacity: SERIES_CAPACITY,
  };

  setInterval(request, TICK_MS);
  if (connection) connection.start();
  else if (problem) connectionView.fail(problem);
  else {
    connectionView.fail('no WebSocket API to connect to');
    connectionView.explain(
      'Offline, open the address `npm start` prints (http://localhost:8080). For a deployed stage, ' +
        'enter its WebSocket URL (wss://…/<stage>) and a token from `npm run token -- --stage <stage>`.',
    );
    showConnectForm(undefined);
  }
  request();
}

void start();
