/**
 * `npm run dlq -- list|redrive`: the offline IoT Core's dead letters (messages a topic rule could
 * not deliver). `redrive` invokes each letter's function again through the running offline stack
 * and removes the letter once the function succeeds.
 *
 * With `--stage`, the same commands (and `purge`) work on that stage's SQS dead-letter queue in
 * AWS (scripts/dead-letter-queue.ts).
 */
import { createInterface } from 'node:readline/promises';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { deadLetterDirectory } from '../local/iot/core';
import {
  DeadLetterStore,
  formatBytes,
  formatDuration,
  type DeadLetter,
  type DeadLetterStatus,
} from '../local/iot/dead-letters';
import { defaultLocalCloudDir } from '../local/iot/identity';
import { OfflineLambdaInvoker } from '../local/iot/lambda-invoker';
import { runCommand, UsageError, type CommandSpec } from './cli/command-line';
import {
  runStageCommand,
  stageQueueName,
  StageDeadLetterQueue,
  type CommandIo,
} from './dead-letter-queue';
import {
  DeliveryDeadLetterQueue,
  deliveryDeadLetterQueueName,
  runDeliveryCommand,
} from './delivery-dead-letter-queue';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../local/offline-credentials';
import { DEFAULT_PORTS } from '../local/settings';

const options = {
  id: { type: 'string', value: 'ID', description: 'only the dead letter with this id' },
  json: { type: 'boolean', description: 'list: print the letters as JSON' },
  stage: {
    type: 'string',
    value: 'STAGE',
    description: `the stage's SQS queue in AWS (${stageQueueName('STAGE')}) instead of offline`,
  },
  region: {
    type: 'string',
    value: 'REGION',
    description: 'with --stage: the region (default: AWS_REGION, else us-east-1)',
  },
  yes: { type: 'boolean', description: 'purge: do not ask for confirmation' },
  delivery: {
    type: 'boolean',
    description: `the batched delivery queue's dead-letter queue (${deliveryDeadLetterQueueName('STAGE')}): the offline stack's, or with --stage the stage's in AWS`,
  },
} as const;

const spec = {
  command: 'npm run dlq -- list|redrive|purge',
  summary:
    "Lists, redrives or purges dead letters: the offline IoT Core's, or a stage's SQS queue with --stage; the batched delivery queue's with --delivery.",
  options,
  notes: [
    'Commands:',
    '  list      show each dead letter: when, which rule and topic, why it failed; and the',
    "            store's retention period and bounds, and how many letters they deleted",
    '  redrive   invoke the function again (the stack must be running); delivered letters are removed',
    '  purge     --stage only: delete every message in the queue (asks first, unless --yes)',
    '',
    'With --stage, list shows both kinds of record in the queue: the IoT rule error action',
    "(IoT Core could not invoke forwardTelemetry) and Lambda's on-failure destination",
    '(forwardTelemetry failed every attempt), each as topic, device, reason and time. redrive',
    'invokes telemetry-STAGE-forwardTelemetry with the original event and deletes the message',
    'once it succeeds; a failed one stays in the queue. Credentials: the AWS SDK default chain',
    '(sqs:GetQueueUrl, ReceiveMessage, ChangeMessageVisibility, DeleteMessage, PurgeQueue on the',
    'queue; lambda:InvokeFunction on the function: the DeadLetterOperatorPolicy of the stack).',
    '',
    "Like the SQS queue it stands for, the store deletes letters older than the queue's",
    'MessageRetentionPeriod, and it drops the oldest beyond its size bound.',
    '',
    'With --delivery, the dead-letter queue of the batched delivery mode: readings forwardTelemetry',
    'did not take in 5 receives. list shows each reading (device, topic, receive count); redrive',
    "is SQS's dead-letter queue redrive (StartMessageMoveTask): the readings go back to the delivery",
    'queue and its event source mapping delivers them again (with --id, that one message only);',
    'purge deletes them. Offline the stack must be running in batched mode',
    '(npm start -- --param="deliveryMode=batched"); with --stage the same calls go to AWS',
    '(sqs:ReceiveMessage, ChangeMessageVisibility, StartMessageMoveTask, ListMessageMoveTasks, …).',
    '',
    'Environment:',
    '  LOCAL_CLOUD_DIR   where the offline cloud keeps its state (default: .local-cloud)',
    "  LAMBDA_PORT       the running stack's Lambda port (default: 3002)",
    `  SQS_PORT          the running stack's SQS port (default: ${DEFAULT_PORTS.sqsPort})`,
  ],
} as const satisfies CommandSpec<typeof options>;

/** Output to stdout; a question (before purging) only on a terminal. */
const terminal: CommandIo = {
  write: (text) => process.stdout.write(text),
  ask: async (question) => {
    if (!process.stdin.isTTY) return undefined;
    const prompt = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await prompt.question(question);
    } finally {
      prompt.close();
    }
  },
};

const [subcommand, ...rest] = process.argv.slice(2);
const argv = subcommand === '--help' || subcommand === '-h' ? ['--help'] : rest;

await runCommand(
  spec,
  async ({ id, json, stage, region, yes, delivery }) => {
    if (subcommand !== 'list' && subcommand !== 'redrive' && subcommand !== 'purge') {
      throw new UsageError(
        subcommand ? `unknown command "${subcommand}"` : 'a command is required',
      );
    }
    if (delivery) {
      if (stage === undefined && region !== undefined)
        throw new UsageError('--region needs --stage');
      const sqs =
        stage !== undefined
          ? new SQSClient({ region: region ?? process.env.AWS_REGION ?? 'us-east-1' })
          : new SQSClient({
              endpoint: `http://localhost:${process.env.SQS_PORT || DEFAULT_PORTS.sqsPort}`,
              region: OFFLINE_REGION,
              credentials: OFFLINE_CREDENTIALS,
            });
      const queue =
        stage !== undefined
          ? new DeliveryDeadLetterQueue(sqs, deliveryDeadLetterQueueName(stage))
          : await DeliveryDeadLetterQueue.find(sqs).catch((error: unknown) => {
              const { code, cause } = error as { code?: string; cause?: { code?: string } };
              throw [code, cause?.code].includes('ECONNREFUSED')
                ? new Error(
                    'the offline SQS endpoint does not answer: is the stack running (npm start)?',
                  )
                : error;
            });
      process.exitCode = await runDeliveryCommand(queue, subcommand, { id, json, yes }, terminal);
      return;
    }
    if (stage !== undefined) {
      const clientConfig = { region: region ?? process.env.AWS_REGION ?? 'us-east-1' };
      const queue = new StageDeadLetterQueue(
        new SQSClient(clientConfig),
        new LambdaClient(clientConfig),
        stage,
      );
      process.exitCode = await runStageCommand(queue, subcommand, { id, json, yes }, terminal);
      return;
    }
    if (subcommand === 'purge') throw new UsageError('purge needs --stage');
    if (region !== undefined || yes) throw new UsageError('--region and --yes need --stage');
    const store = new DeadLetterStore(deadLetterDirectory(defaultLocalCloudDir()));
    const letters = (await store.list()).filter((letter) => id === undefined || letter.id === id);
    if (id !== undefined && letters.length === 0) throw new Error(`no dead letter with id ${id}`);
    if (subcommand === 'list') return list(letters, json, await store.status());
    await redrive(store, letters);
  },
  argv,
);

function list(letters: DeadLetter[], json: boolean, status: DeadLetterStatus): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`);
    return;
  }
  const { limits } = status;
  process.stdout.write(
    `Retention ${formatDuration(limits.retentionSeconds)} (MessageRetentionPeriod ` +
      `${limits.retentionSeconds} s); at most ${limits.maxRecords} letters or ` +
      `${formatBytes(limits.maxBytes)}, the oldest dropped first.\n` +
      `${status.since ? `Since ${status.since}` : 'So far'}: ${status.expired} expired (older than the retention period), ` +
      `${status.dropped} dropped (store full). Now ${status.records} letter(s), ` +
      `${formatBytes(status.bytes)}.\n`,
  );
  if (letters.length === 0) {
    process.stdout.write('No dead letters.\n');
    return;
  }
  for (const letter of letters) {
    process.stdout.write(
      `${letter.id}  ${letter.failedAt}  ${letter.rule} → ${letter.functionName}\n` +
        `  topic ${letter.topic}${letter.clientId ? ` from ${letter.clientId}` : ''}, ${letter.attempts} attempt(s)\n` +
        `  ${letter.output ? 'redrivable' : 'not redrivable (no rule output)'}: ${letter.reason}\n`,
    );
  }
  process.stdout.write(`${letters.length} dead letter(s).\n`);
}

async function redrive(store: DeadLetterStore, letters: DeadLetter[]): Promise<void> {
  const invoker = new OfflineLambdaInvoker(`http://localhost:${process.env.LAMBDA_PORT || 3002}`);
  let delivered = 0;
  let failed = 0;
  let skipped = 0;
  for (const letter of letters) {
    if (!letter.output) {
      skipped++;
      process.stdout.write(
        `skipped ${letter.id}: the rule produced no output (${letter.reason})\n`,
      );
      continue;
    }
    const outcome = await invoker.invoke(letter.functionName, letter.output);
    if (outcome.ok) {
      delivered++;
      await store.remove(letter);
      process.stdout.write(`redriven ${letter.id} → ${letter.functionName}\n`);
    } else {
      failed++;
      process.stdout.write(`failed ${letter.id}: ${outcome.error}\n`);
    }
  }
  process.stdout.write(`Redrive: ${delivered} delivered, ${failed} failed, ${skipped} skipped.\n`);
  if (failed > 0) process.exitCode = 1;
}
