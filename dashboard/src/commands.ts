/**
 * Commands sent from this page and what became of them: sent → the server's `commandSent` gives
 * the commandId → the device's ack (telemetry `{type:'ack', commandId}`) acknowledges it.
 * An ack may overtake the `commandSent` answer, so recent acks are kept until it arrives.
 */
import type { CommandSentFrame, SendCommandRequest } from '../../shared/protocol';

export type CommandStatus = 'sending' | 'sent' | 'acknowledged' | 'failed';

export interface CommandEntry {
  /** This page's own number for the entry (the server assigns commandId later). */
  key: number;
  deviceId: string;
  command: SendCommandRequest['command'];
  sentAt: number;
  status: CommandStatus;
  commandId?: string;
  ack?: Record<string, unknown>;
  ackedAt?: number;
  problem?: string;
}

const KEPT_COMMANDS = 20;
const KEPT_EARLY_ACKS = 100;

export class CommandTracker {
  /** Newest first. */
  readonly entries: CommandEntry[] = [];
  changed = false;
  private nextKey = 1;
  private readonly earlyAcks = new Map<string, { data: Record<string, unknown>; at: number }>();

  add(deviceId: string, command: SendCommandRequest['command'], now: number): CommandEntry {
    const entry: CommandEntry = {
      key: this.nextKey++,
      deviceId,
      command,
      sentAt: now,
      status: 'sending',
    };
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, KEPT_COMMANDS);
    this.changed = true;
    return entry;
  }

  /**
   * The server published the command: `known` (the request its requestId names), else the oldest
   * command still sending to that device.
   */
  sent(frame: CommandSentFrame, known?: CommandEntry): CommandEntry | undefined {
    const entry = known ?? this.oldest((candidate) => candidate.deviceId === frame.deviceId);
    if (!entry) return undefined;
    entry.status = 'sent';
    entry.commandId = frame.commandId;
    const early = this.earlyAcks.get(frame.commandId);
    if (early) {
      this.earlyAcks.delete(frame.commandId);
      this.acknowledge(entry, early.data, early.at);
    }
    this.changed = true;
    return entry;
  }

  /** A device acknowledged `commandId`. */
  acked(commandId: string, data: Record<string, unknown>, now: number): void {
    const entry = this.entries.find((candidate) => candidate.commandId === commandId);
    if (entry) {
      this.acknowledge(entry, data, now);
      return;
    }
    this.earlyAcks.set(commandId, { data, at: now });
    if (this.earlyAcks.size > KEPT_EARLY_ACKS) {
      this.earlyAcks.delete(this.earlyAcks.keys().next().value!);
    }
  }

  /** The request failed (an error frame, or the connection closed before the answer). */
  failed(entry: CommandEntry, problem: string): void {
    entry.status = 'failed';
    entry.problem = problem;
    this.changed = true;
  }

  private acknowledge(entry: CommandEntry, data: Record<string, unknown>, at: number): void {
    entry.status = 'acknowledged';
    entry.ack = data;
    entry.ackedAt = at;
    this.changed = true;
  }

  private oldest(match: (entry: CommandEntry) => boolean): CommandEntry | undefined {
    for (let i = this.entries.length - 1; i >= 0; i -= 1) {
      const entry = this.entries[i]!;
      if (entry.status === 'sending' && match(entry)) return entry;
    }
    return undefined;
  }
}
