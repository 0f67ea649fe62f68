/**
 * Shared subscriptions (`$share/{ShareName}/{TopicFilter}`) as AWS IoT Core supports them, for
 * MQTT 3.1.1 and MQTT 5 alike (AWS IoT Core Developer Guide, "MQTT" → "Shared Subscriptions"):
 * each message that matches the filter goes to one subscriber of the group, not to all; retained
 * messages are not sent to a shared subscription; the policy's iot:Subscribe is asked about the
 * whole `$share/…` filter.
 *
 * aedes 2.0.0-beta.1 does not implement them (it refuses `$share/…` to MQTT 5 clients with 0x9E).
 * So a `$share/{group}/{filter}` in SUBSCRIBE and UNSUBSCRIBE is rewritten, before aedes reads the
 * packet, into a plain subscription to `{filter}` with Retain Handling 2 (no retained messages),
 * remembered here; and authorizeForward lets each message through to one member of each group.
 * Limits: a client that subscribes to the same filter both shared and plain receives as a member
 * of the group only; a persistent session restores its shared subscription as a plain one.
 */
import type { Client } from 'aedes';
import { topicMatches } from '../../../shared/topics';

const PREFIX = '$share/';
/** How many recent messages remember which member they went to (one delivery per group each). */
const REMEMBERED_MESSAGES = 4096;

interface Group {
  key: string;
  filter: string;
  members: Client[];
  next: number;
}

/** `$share/{group}/{filter}` split, or undefined when it is not a well-formed shared filter. */
export function parseSharedFilter(topic: string): { group: string; filter: string } | undefined {
  if (!topic.startsWith(PREFIX)) return undefined;
  const rest = topic.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const group = rest.slice(0, slash);
  if (/[+#]/.test(group)) return undefined;
  return { group, filter: rest.slice(slash + 1) };
}

export class SharedSubscriptions {
  private readonly groups = new Map<string, Group>();
  /** Per client: its plain filter → the `$share/…` filter it subscribed with. */
  private readonly byClient = new WeakMap<Client, Map<string, string>>();
  /** Message (brokerId:brokerCounter) + group → the member it goes to. */
  private readonly chosen = new Map<string, Client>();

  /** Rewrites the `$share/…` filters of a SUBSCRIBE or UNSUBSCRIBE in place, before aedes reads it. */
  rewrite(client: Client, packet: Record<string, unknown>): void {
    if (packet.cmd === 'subscribe' && Array.isArray(packet.subscriptions)) {
      for (const subscription of packet.subscriptions as { topic: string; rh?: number }[]) {
        const shared = parseSharedFilter(subscription.topic);
        if (!shared) continue;
        this.join(client, shared.group, shared.filter, subscription.topic);
        subscription.topic = shared.filter;
        subscription.rh = 2;
      }
    }
    if (packet.cmd === 'unsubscribe' && Array.isArray(packet.unsubscriptions)) {
      packet.unsubscriptions = (packet.unsubscriptions as string[]).map((topic) => {
        const shared = parseSharedFilter(topic);
        if (!shared) return topic;
        this.leave(client, `${shared.group}\u0000${shared.filter}`);
        this.byClient.get(client)?.delete(shared.filter);
        return shared.filter;
      });
    }
  }

  /** The `$share/…` filter a client subscribed to `filter` with, for the policy. */
  sharedFilterOf(client: Client, filter: string): string | undefined {
    return this.byClient.get(client)?.get(filter);
  }

  /** Undoes a subscription the policy refused. */
  refuse(client: Client, filter: string): void {
    const shared = this.sharedFilterOf(client, filter);
    const parsed = shared ? parseSharedFilter(shared) : undefined;
    if (!parsed) return;
    this.leave(client, `${parsed.group}\u0000${parsed.filter}`);
    this.byClient.get(client)?.delete(filter);
  }

  /** Whether this client gets the message: always, unless only as a group member not chosen. */
  delivers(client: Client, packet: { topic: string; brokerId?: string; brokerCounter?: number }) {
    const mine = this.byClient.get(client);
    if (!mine || mine.size === 0) return true;
    let matchedShared = false;
    for (const [filter, sharedFilter] of mine) {
      if (!topicMatches(filter, packet.topic)) continue;
      matchedShared = true;
      const parsed = parseSharedFilter(sharedFilter);
      const group = parsed && this.groups.get(`${parsed.group}\u0000${parsed.filter}`);
      if (group && this.memberFor(group, packet) === client) return true;
    }
    return !matchedShared;
  }

  /** Call when a client's connection ends: it leaves every group. */
  forget(client: Client): void {
    const mine = this.byClient.get(client);
    if (!mine) return;
    for (const sharedFilter of mine.values()) {
      const parsed = parseSharedFilter(sharedFilter);
      if (parsed) this.leave(client, `${parsed.group}\u0000${parsed.filter}`);
    }
    this.byClient.delete(client);
  }

  private join(client: Client, groupName: string, filter: string, sharedFilter: string): void {
    const key = `${groupName}\u0000${filter}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { key, filter, members: [], next: 0 };
      this.groups.set(key, group);
    }
    if (!group.members.includes(client)) group.members.push(client);
    let mine = this.byClient.get(client);
    if (!mine) {
      mine = new Map();
      this.byClient.set(client, mine);
    }
    mine.set(filter, sharedFilter);
  }

  private leave(client: Client, key: string): void {
    const group = this.groups.get(key);
    if (!group) return;
    group.members = group.members.filter((member) => member !== client);
    if (group.members.length === 0) this.groups.delete(key);
  }

  /** One member per message and group, in turn. */
  private memberFor(group: Group, packet: { brokerId?: string; brokerCounter?: number }) {
    const messageKey = `${packet.brokerId ?? ''}:${packet.brokerCounter ?? ''}\u0000${group.key}`;
    let member = this.chosen.get(messageKey);
    if (!member || !group.members.includes(member)) {
      member = group.members[group.next++ % group.members.length];
      if (!member) return undefined;
      this.chosen.set(messageKey, member);
      if (this.chosen.size > REMEMBERED_MESSAGES) {
        this.chosen.delete(this.chosen.keys().next().value as string);
      }
    }
    return member;
  }
}
