/**
 * The rules engine: every `iot` event of every function in serverless.yml, and every
 * AWS::IoT::TopicRule of its resources, becomes a topic rule (see actions.ts). A matching message
 * runs the rule's actions: Lambda (invoked asynchronously), SQS (the offline queue store),
 * Republish (the offline broker) and DynamoDBv2 (dynalite). An action that cannot run, or keeps
 * failing, goes to the rule's error action — or, for the dead-letter queue and when there is
 * none, to the dead-letter store — never dropped.
 *
 * Basic Ingest ("Reducing messaging costs with Basic Ingest"): a message on
 * `$aws/rules/<ruleName>/<topic>` goes to that rule alone, which sees `<topic>` as topic().
 *
 * The backlog is bounded: accept() resolves once a message's actions are queued, and waits while
 * the queue is full, so the endpoints hold a device's PUBACK (or HTTPS answer) until then. On
 * stop, what cannot drain in time is written to the dead-letter store.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

import {
  actionsOf,
  describeAction,
  failedActionName,
  rulesFromTemplate,
  type IotEventDefinition,
  type RuleAction,
  type TopicRule,
} from './actions';
import type { RuleMessage, RuleResult, RuleServices } from './sql';
import type { Json, Value } from './values';
import type { DeadLetterStore } from '../dead-letters';
import { basicIngestTopic } from '../limits';
import type { LambdaInvoker } from '../lambda-invoker';
import type { OfflineSqsQueues } from '../../sqs/queue-store';

export type { IotEventDefinition, TopicRule } from './actions';
export { rulesFromTemplate } from './actions';

interface FunctionDefinitions {
  [functionKey: string]: { name?: string; events?: { iot?: IotEventDefinition }[] };
}

/** The framework's iot events alone, named by their logical ids (tests, and callers of old). */
export function rulesFromFunctions(
  functions: FunctionDefinitions,
  functionName: (key: string) => string,
): TopicRule[] {
  return rulesFromTemplate(functions, { functionName });
}

/** For the start-up banner: each rule's name (what Basic Ingest addresses) and its actions. */
export function describeRules(rules: readonly TopicRule[]): string {
  if (rules.length === 0) return 'none';
  return rules
    .map((rule) => `${rule.name} → ${actionsOf(rule).map(describeAction).join(' + ')}`)
    .join(', ');
}

/** Where the actions other than Lambda deliver; an action without its target fails (dead letter). */
export interface ActionTargets {
  sqs?: OfflineSqsQueues;
  /** Publishes through the offline broker (the Republish action). */
  republish?: (message: { topic: string; payload: Buffer; qos: 0 | 1 }) => Promise<void>;
  /** A document client on dynalite (the DynamoDBv2 action). */
  dynamodb?: DynamoDBDocumentClient;
}

export interface RulesEngineOptions {
  rules: TopicRule[];
  invoker: LambdaInvoker;
  /** SQS, Republish and DynamoDBv2 targets. */
  targets?: ActionTargets;
  deadLetters: DeadLetterStore;
  /** Attempts per message before it is dead-lettered (Lambda's async invoke makes 3). */
  attempts?: number;
  /**
   * Invocations of one function in flight at once; the rest wait their turn. serverless-offline
   * starts a new worker (a cold start) for every invocation that finds all workers busy, so a
   * burst without this limit spends its time in cold starts. Measured on 2 cores, 500 messages
   * in a burst: unbounded 23 msg/s; 1: 125; 2: 142 (the default); 4: 124; 8: 89.
   */
  maxConcurrentInvocations?: number;
  /**
   * Rule actions accepted and not yet finished (delivered or dead-lettered) beyond which accept()
   * waits, so that a publisher is held back instead of the queue growing without bound. The
   * default, 256, is under two seconds of work at the 142 actions/s measured above, and bounds
   * what a stop has to write to the dead-letter store.
   */
  maxQueuedActions?: number;
  onError?: (error: unknown) => void;
  /** A line worth logging: the backlog crossed a threshold, or a stop left actions unfinished. */
  onBacklog?: (message: string, status: BacklogStatus) => void;
}

export interface BacklogStatus {
  /** Rule actions accepted and not yet delivered or dead-lettered, those in flight included. */
  depth: number;
  capacity: number;
  inFlight: number;
  /** Publishers held back until there is room: their PUBACK or HTTPS answer waits. */
  waiting: number;
  /** The highest depth so far. */
  peak: number;
  accepted: number;
  delivered: number;
  deadLettered: number;
}

/** One line for a status display, e.g. `3 of 256 queued (peak 40), 2 in flight, 0 devices held back; 120 delivered, 1 dead-lettered`. */
export function formatBacklog(status: BacklogStatus): string {
  return (
    `${status.depth} of ${status.capacity} queued (peak ${status.peak}), ${status.inFlight} in flight, ` +
    `${status.waiting} publisher(s) held back; ${status.delivered} delivered, ` +
    `${status.deadLettered} dead-lettered`
  );
}

export interface StopReport {
  /** Whether every accepted action finished within the drain time. */
  drained: boolean;
  /** Actions the stop wrote to the dead-letter store with STOPPED_REASON. */
  deadLettered: number;
}

export const DEFAULT_MAX_QUEUED_ACTIONS = 256;
/** "aws_lambda()": calls from rules should complete within 2000 ms. */
export const AWS_LAMBDA_FUNCTION_TIMEOUT_MS = 2_000;
export const DEFAULT_STOP_DRAIN_MS = 5_000;
/** The reason of a dead letter written because the offline cloud stopped before delivering it. */
export const STOPPED_REASON = 'offline cloud stopped';

/** accept() after stop(): the message was not taken (no PUBACK, HTTPS 503). */
export class RulesEngineStoppedError extends Error {
  override readonly name = 'RulesEngineStoppedError';
  constructor() {
    super('the offline IoT Core is stopping: the message was not accepted');
  }
}

/** One rule's action for one message: from acceptance until delivered or dead-lettered. */
interface Action {
  rule: TopicRule;
  target: RuleAction;
  message: RuleMessage;
  /** The SQL's output, the function's event. */
  output?: Json;
  /** The raw payload, when SELECT * passed a payload that is not JSON. */
  binary?: { payload: Buffer; reason: string };
  /** Why the action cannot run at all: it goes straight to the dead-letter store. */
  failure?: string;
  attempts: number;
  lastError?: string;
  abort?: AbortController;
  retry?: NodeJS.Timeout;
}

/** One target's queue (a function, a queue, a topic…), and its deliveries in flight. */
interface Lane {
  functionName: string;
  queue: Action[];
  running: Set<Action>;
}

interface Waiter {
  actions: Action[];
  resolve(): void;
  reject(error: Error): void;
}

export class RulesEngine {
  private readonly open = new Set<Action>();
  private readonly lanes = new Map<string, Lane>();
  private readonly retrying = new Set<Action>();
  private readonly waiters: Waiter[] = [];
  private idleListeners: (() => void)[] = [];
  private readonly capacity: number;
  private readonly counts = { accepted: 0, delivered: 0, deadLettered: 0, stopDeadLettered: 0 };
  private peak = 0;
  /** The highest backlog threshold reported in the current episode (0: none). */
  private reportedLevel = 0;
  private stopping = false;
  private stopped: Promise<StopReport> | undefined;

  constructor(private readonly options: RulesEngineOptions) {
    this.capacity = options.maxQueuedActions ?? DEFAULT_MAX_QUEUED_ACTIONS;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) {
      throw new Error(`maxQueuedActions must be a positive integer, got ${this.capacity}`);
    }
  }

  get rules(): readonly TopicRule[] {
    return this.options.rules;
  }

  /**
   * Evaluates every rule for one published message and queues the actions. Resolves once they
   * are queued: at once while there is room, later when the backlog is full (the caller holds
   * the device's PUBACK or HTTPS answer until then). Rejects with RulesEngineStoppedError once
   * stop() has begun; a message that no rule takes is never held back.
   */
  accept(message: RuleMessage): Promise<void> {
    const actions = this.actionsFor(message);
    // A rule calling aws_lambda() or get_dynamodb() answers later; the message waits for it.
    if (actions instanceof Promise) return actions.then((ready) => this.enqueue(ready));
    return this.enqueue(actions);
  }

  private enqueue(actions: Action[]): Promise<void> {
    if (actions.length === 0) return Promise.resolve();
    if (this.stopping) return Promise.reject(new RulesEngineStoppedError());
    if (this.waiters.length === 0 && this.open.size < this.capacity) {
      this.start(actions);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ actions, resolve, reject });
      this.report();
    });
  }

  /** accept() for a caller that cannot wait; the message is still held until there is room. */
  dispatch(message: RuleMessage): void {
    this.accept(message).catch((error) => this.options.onError?.(error));
  }

  backlog(): BacklogStatus {
    let inFlight = 0;
    for (const lane of this.lanes.values()) inFlight += lane.running.size;
    return {
      depth: this.open.size,
      capacity: this.capacity,
      inFlight,
      waiting: this.waiters.length,
      peak: this.peak,
      accepted: this.counts.accepted,
      delivered: this.counts.delivered,
      deadLettered: this.counts.deadLettered,
    };
  }

  /** Resolves when every accepted action has been delivered or dead-lettered. */
  async drain(): Promise<void> {
    while (this.open.size > 0 || this.waiters.length > 0) {
      await new Promise<void>((resolve) => this.idleListeners.push(resolve));
    }
  }

  /**
   * Stops taking messages (publishers still waiting for room are refused), lets the backlog
   * drain for up to `drainMs`, then writes whatever is unfinished to the dead-letter store with
   * the reason STOPPED_REASON: queued actions, those waiting to retry, and those in flight
   * (aborted; if the function did run, a redrive delivers it again: at least once, never lost).
   */
  stop(options: { drainMs?: number } = {}): Promise<StopReport> {
    this.stopped ??= this.stopNow(options.drainMs ?? DEFAULT_STOP_DRAIN_MS);
    return this.stopped;
  }

  private async stopNow(drainMs: number): Promise<StopReport> {
    this.stopping = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new RulesEngineStoppedError());
    const queued = this.open.size;
    if (queued === 0) return { drained: true, deadLettered: 0 };
    this.options.onBacklog?.(
      `IoT rules engine stopping: delivering the ${queued} queued rule action(s) for up to ` +
        `${drainMs} ms; what is left then goes to the dead-letter store.`,
      this.backlog(),
    );
    if (await this.drainWithin(drainMs)) {
      this.options.onBacklog?.(
        `IoT rules engine stopped: all ${queued} queued rule action(s) finished.`,
        this.backlog(),
      );
      return { drained: true, deadLettered: 0 };
    }

    this.options.onBacklog?.(
      `IoT rules engine stopping with ${this.open.size} rule action(s) unfinished after ` +
        `${drainMs} ms: writing them to the dead-letter store (reason "${STOPPED_REASON}"); ` +
        'npm run dlq -- redrive delivers them once the stack runs again.',
      this.backlog(),
    );
    for (const lane of this.lanes.values()) {
      for (const action of lane.queue.splice(0)) void this.deadLetter(action, STOPPED_REASON);
    }
    for (const action of this.retrying) {
      clearTimeout(action.retry);
      void this.deadLetter(
        action,
        `${STOPPED_REASON} after ${action.attempts} failed attempt(s): ${action.lastError}`,
      );
    }
    this.retrying.clear();
    for (const lane of this.lanes.values()) {
      for (const action of lane.running) action.abort?.abort();
    }
    await this.drain();
    return { drained: false, deadLettered: this.counts.stopDeadLettered };
  }

  private drainWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.drain().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]).finally(() => clearTimeout(timer));
  }

  private actionsFor(message: RuleMessage): Action[] | Promise<Action[]> {
    const ingest = basicIngestTopic(message.topic);
    let rules = this.options.rules;
    if (ingest) {
      // Straight to the rule named in the topic; no other rule sees the message.
      rules = rules.filter((rule) => rule.name === ingest.ruleName);
      if (rules.length === 0) {
        // AWS logs a RuleNotFound error and counts the RuleNotFound metric; the message is dropped.
        this.options.onError?.(
          new Error(
            `Basic Ingest: no enabled rule named "${ingest.ruleName}" (RuleNotFound); ` +
              `the message on ${message.topic} went to no rule`,
          ),
        );
        return [];
      }
      message = { ...message, topic: ingest.topic, basicIngest: true };
    }
    const ruleMessage = message;
    const results = rules.map((rule): RuleResult | Promise<RuleResult> => {
      try {
        return rule.compiled.usesServices
          ? rule.compiled.evaluateWith(ruleMessage, this.services)
          : rule.compiled.evaluate(ruleMessage);
      } catch (error) {
        // Whatever the SQL does, an accepted message ends delivered or dead-lettered.
        return { kind: 'error', reason: `the rule's SQL failed: ${String(error)}` };
      }
    });
    const toActions = (settled: RuleResult[]): Action[] =>
      settled.flatMap((result, index) => {
        const rule = rules[index]!;
        if (result.kind === 'skip') return [];
        return actionsOf(rule).map((target) => {
          const action: Action = { rule, target, message: ruleMessage, attempts: 0 };
          if (result.kind === 'error') action.failure = result.reason;
          else if (result.kind === 'binary') {
            action.binary = { payload: result.payload, reason: result.reason };
            // An action that cannot take raw bytes never will: no retries, straight to errors.
            action.failure = binaryProblem(target, result.reason);
          } else action.output = result.value;
          return action;
        });
      });
    if (results.some((result) => result instanceof Promise)) {
      return Promise.all(results).then(toActions);
    }
    return toActions(results as RuleResult[]);
  }

  /** What aws_lambda() and get_dynamodb() call: the offline Lambda API and dynalite. */
  private readonly services: RuleServices = offlineRuleServices(
    (...args) => this.options.invoker.invoke(...args),
    () => this.options.targets?.dynamodb,
  );

  /** Runs one delivery of an action to its target. */
  private async deliver(
    action: Action,
    signal: AbortSignal,
  ): Promise<{ ok: true } | { ok: false; error: string }> {
    const { target } = action;
    const fail = (error: string) => ({ ok: false as const, error });
    const json = action.output !== undefined ? JSON.stringify(action.output) : undefined;
    const { targets = {} } = this.options;
    switch (target.kind) {
      case 'lambda': {
        // A Lambda action takes JSON only ("Working with binary payloads").
        if (action.binary) return fail(action.binary.reason);
        const outcome = await this.options.invoker.invoke(target.functionName, action.output, {
          signal,
        });
        return outcome.ok ? { ok: true } : outcome;
      }
      case 'sqs': {
        if (!targets.sqs) return fail('no offline SQS queue store is configured');
        let body: string;
        if (action.binary) {
          if (!target.useBase64)
            return fail(`SQS needs UseBase64 for this payload: ${action.binary.reason}`);
          body = action.binary.payload.toString('base64');
        } else {
          body = target.useBase64 ? Buffer.from(json!, 'utf8').toString('base64') : json!;
        }
        await targets.sqs.send(target.queueName, body);
        return { ok: true };
      }
      case 'republish': {
        if (!targets.republish) return fail('no offline broker to republish to');
        // "Working with binary payloads", rule 1: templates must not refer to JSON names then.
        if (action.binary && target.topic.readsPayload) {
          return fail(
            `the Republish topic ${target.topic.text} reads the payload: ${action.binary.reason}`,
          );
        }
        const topic = target.topic.render(action.message);
        const payload = action.binary ? action.binary.payload : Buffer.from(json!, 'utf8');
        await targets.republish({ topic, payload, qos: target.qos });
        return { ok: true };
      }
      case 'dynamodbv2': {
        if (!targets.dynamodb) return fail('no offline DynamoDB client for the DynamoDBv2 action');
        if (action.binary) return fail(action.binary.reason);
        // "DynamoDBv2": each top-level attribute of the output becomes a column.
        if (
          typeof action.output !== 'object' ||
          action.output === null ||
          Array.isArray(action.output)
        ) {
          return fail('the DynamoDBv2 action needs a JSON object as the rule output');
        }
        await targets.dynamodb.send(
          new PutCommand({
            TableName: target.tableName.render(action.message),
            Item: action.output,
          }),
          { abortSignal: signal },
        );
        return { ok: true };
      }
    }
  }

  private start(actions: Action[]): void {
    for (const action of actions) {
      this.open.add(action);
      this.counts.accepted++;
      if (action.failure !== undefined) {
        void this.deadLetter(action, action.failure);
        continue;
      }
      const lane = this.laneFor(describeAction(action.target));
      lane.queue.push(action);
      this.pump(lane);
    }
    this.peak = Math.max(this.peak, this.open.size);
    this.report();
  }

  private laneFor(functionName: string): Lane {
    let lane = this.lanes.get(functionName);
    if (!lane) {
      lane = { functionName, queue: [], running: new Set() };
      this.lanes.set(functionName, lane);
    }
    return lane;
  }

  private pump(lane: Lane): void {
    const limit = this.options.maxConcurrentInvocations ?? 2;
    while (lane.running.size < limit && lane.queue.length > 0) {
      const action = lane.queue.shift()!;
      lane.running.add(action);
      void this.run(action, lane);
    }
  }

  private async run(action: Action, lane: Lane): Promise<void> {
    action.attempts++;
    action.abort = new AbortController();
    const outcome = await this.deliver(action, action.abort.signal).catch((error: unknown) => ({
      ok: false as const,
      error: action.abort?.signal.aborted ? 'invocation aborted' : String(error),
    }));
    action.abort = undefined;
    lane.running.delete(action);
    this.pump(lane);

    if (outcome.ok) {
      this.counts.delivered++;
      this.finish(action);
      return;
    }
    action.lastError = outcome.error;
    if (this.stopping) {
      await this.deadLetter(
        action,
        `${STOPPED_REASON} during attempt ${action.attempts}: ${outcome.error}`,
      );
    } else if (action.attempts >= (this.options.attempts ?? 3)) {
      await this.deadLetter(action, outcome.error);
    } else {
      // The retry waits without holding an invocation slot, then queues behind the others.
      this.retrying.add(action);
      action.retry = setTimeout(
        () => {
          this.retrying.delete(action);
          action.retry = undefined;
          lane.queue.push(action);
          this.pump(lane);
        },
        200 * 2 ** (action.attempts - 1),
      );
    }
  }

  /**
   * The rule's error action with AWS's error message ("Error action message format"), when it has
   * one other than the dead-letter queue; if there is none, it is the dead-letter queue, or it
   * fails too, the dead-letter store. Actions a stop interrupted always go to the store, to be
   * redriven.
   */
  private async deadLetter(action: Action, reason: string): Promise<void> {
    const errorAction = action.rule.errorAction;
    const toErrorAction =
      errorAction !== undefined &&
      !(errorAction.kind === 'sqs' && errorAction.deadLetters) &&
      !reason.startsWith(STOPPED_REASON);
    if (toErrorAction) {
      const error: Action = {
        rule: action.rule,
        target: errorAction,
        message: action.message,
        output: errorMessage(action, reason),
        attempts: 0,
      };
      const outcome = await this.deliver(error, new AbortController().signal).catch(
        (failure: unknown) => ({ ok: false as const, error: String(failure) }),
      );
      if (outcome.ok) {
        this.counts.deadLettered++;
        this.finish(action);
        return;
      }
      reason = `${reason}; the error action ${describeAction(errorAction)} failed too: ${outcome.error}`;
    }
    await this.store(action, reason);
  }

  /** Never throws: a letter that cannot be written is reported through onError, loudly. */
  private async store(action: Action, reason: string): Promise<void> {
    const { rule, message } = action;
    try {
      await this.options.deadLetters.add({
        rule: rule.name,
        functionName: describeAction(action.target),
        topic: message.topic,
        clientId: message.clientId,
        payloadBase64: message.payload.toString('base64'),
        // Redrive invokes the function with it again; a SELECT VALUE output may be any JSON.
        output: action.output as Record<string, unknown> | undefined,
        reason,
        attempts: action.attempts,
      });
      this.counts.deadLettered++;
      if (reason.startsWith(STOPPED_REASON)) this.counts.stopDeadLettered++;
    } catch (error) {
      this.options.onError?.(
        new Error(
          `message on ${message.topic} LOST: it could not be written to the dead-letter store ` +
            `(${String(error)}); it was dead-lettered because: ${reason}`,
        ),
      );
    } finally {
      this.finish(action);
    }
  }

  private finish(action: Action): void {
    this.open.delete(action);
    while (!this.stopping && this.waiters.length > 0 && this.open.size < this.capacity) {
      const waiter = this.waiters.shift()!;
      this.start(waiter.actions);
      waiter.resolve();
    }
    this.report();
    if (this.open.size === 0 && this.waiters.length === 0) {
      const listeners = this.idleListeners;
      this.idleListeners = [];
      for (const listener of listeners) listener();
    }
  }

  /**
   * Logs when the backlog rises past a quarter, half, or all of its capacity (each once per
   * episode), and when it has fallen back below an eighth: a visible backlog, without a line
   * per message.
   */
  private report(): void {
    if (this.stopping) return; // stop() says itself what becomes of the backlog
    const depth = this.open.size;
    const full = depth >= this.capacity || this.waiters.length > 0;
    const level = full ? 3 : depth >= this.capacity / 2 ? 2 : depth >= this.capacity / 4 ? 1 : 0;
    let message: string | undefined;
    if (level > this.reportedLevel) {
      this.reportedLevel = level;
      message = full
        ? `IoT rules engine backlog full: ${depth} of ${this.capacity} rule actions queued; ` +
          'devices are held back (QoS 1 PUBACK and HTTPS answers wait for room).'
        : `IoT rules engine backlog: ${depth} of ${this.capacity} rule actions queued ` +
          '(the functions are slower than the devices publish).';
    } else if (this.reportedLevel > 0 && !full && depth <= this.capacity / 8) {
      this.reportedLevel = 0;
      message = `IoT rules engine backlog cleared: ${depth} queued (peak ${this.peak} of ${this.capacity}).`;
    }
    if (message) this.options.onBacklog?.(message, this.backlog());
  }
}

/** Why an action cannot take a raw (non-JSON) payload, or undefined when it can. */
function binaryProblem(target: RuleAction, reason: string): string | undefined {
  switch (target.kind) {
    case 'lambda':
    case 'dynamodbv2':
      return reason;
    case 'sqs':
      return target.useBase64 ? undefined : `SQS needs UseBase64 for this payload: ${reason}`;
    case 'republish':
      return target.topic.readsPayload
        ? `the Republish topic ${target.topic.text} reads the payload: ${reason}`
        : undefined;
  }
}

/** aws_lambda() through the offline Lambda API, get_dynamodb() through a client on dynalite. */
export function offlineRuleServices(
  invoke: LambdaInvoker['invoke'],
  dynamodb: () => DynamoDBDocumentClient | undefined,
): RuleServices {
  return {
    invokeLambda: async (functionName, input) => {
      // "Lambda function calls from rules should be completed within 2000 milliseconds".
      const outcome = await invoke(functionName, input, {
        signal: AbortSignal.timeout(AWS_LAMBDA_FUNCTION_TIMEOUT_MS),
      });
      if (!outcome.ok) throw new Error(`aws_lambda(${functionName}) failed: ${outcome.error}`);
      return outcome.result as Value;
    },
    getItem: async (table, key) => {
      const client = dynamodb();
      if (!client) throw new Error('get_dynamodb(): no offline DynamoDB is configured');
      const { Item } = await client.send(new GetCommand({ TableName: table, Key: key }));
      return Item as Value;
    },
  };
}

/** The error action's input, as AWS IoT builds it ("Error action message format"). */
function errorMessage(action: Action, reason: string): Json {
  const failure: Json = {
    failedAction: failedActionName(action.target),
    failedResource: describeAction(action.target),
    errorMessage: reason,
  };
  const message: { [key: string]: Json } = {
    ruleName: action.rule.name,
    topic: action.message.topic,
    base64OriginalPayload: action.message.payload.toString('base64'),
    failures: [failure],
  };
  if (action.message.clientId) message.clientId = action.message.clientId;
  return message;
}
