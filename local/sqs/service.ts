/**
 * The offline SQS as the offline cloud runs it: the template's queues (persisted under
 * `.local-cloud/sqs/`), the SQS endpoint, and the functions' event source mappings. The queues
 * and the endpoint start first (the IoT rules' SQS action sends into them); the mappings start
 * once the offline Lambda API listens (startEventSources), so that no batch is received only to
 * fail for want of a function and wait out its visibility timeout.
 */
import type { LambdaInvoker } from '../iot/lambda-invoker';
import { SqsEventSource, type EventSourceStatus } from './event-source';
import { OfflineSqsQueues, sqsDirectory } from './queue-store';
import { startSqsEndpoint, type SqsEndpoint } from './server';
import {
  eventSourceMappings,
  queuesFromResources,
  type EventSourceMapping,
  type FunctionsWithSqsEvents,
  type TemplateResource,
} from './template';

export interface OfflineSqsOptions {
  host: string;
  port: number;
  stateDir: string;
  resources: Record<string, TemplateResource | undefined>;
  functions: FunctionsWithSqsEvents;
  functionName: (key: string) => string;
  /** provider.timeout, the functions' timeout unless they set their own. */
  providerTimeout?: unknown;
  region: string;
  accountId: string;
  stackName: string;
  /** Pollers per mapping (the offline Lambda workers per function). */
  pollers?: number;
  onError?: (message: string) => void;
}

export interface OfflineSqs {
  queues: OfflineSqsQueues;
  endpoint: SqsEndpoint;
  mappings: EventSourceMapping[];
  /** Starts polling for the mappings, invoking through `invoker`. */
  startEventSources(invoker: LambdaInvoker): void;
  eventSources(): { mapping: EventSourceMapping; status: EventSourceStatus }[];
  stop(): Promise<void>;
}

export async function startOfflineSqs(options: OfflineSqsOptions): Promise<OfflineSqs> {
  const settings = queuesFromResources(options.resources, options);
  const mappings = eventSourceMappings(
    options.functions,
    settings,
    options.functionName,
    options.providerTimeout,
  );
  const queues = new OfflineSqsQueues(sqsDirectory(options.stateDir), {
    queues: [...settings.values()],
  });
  await queues.open();
  let endpoint: SqsEndpoint;
  try {
    endpoint = await startSqsEndpoint({
      host: options.host,
      port: options.port,
      queues,
      accountId: options.accountId,
    });
  } catch (error) {
    await queues.close();
    throw error;
  }
  const sources: SqsEventSource[] = [];
  return {
    queues,
    endpoint,
    mappings,
    startEventSources(invoker) {
      if (sources.length > 0) return;
      for (const mapping of mappings) {
        const source = new SqsEventSource({
          queues,
          mapping,
          invoker,
          region: options.region,
          pollers: options.pollers,
          onError: options.onError,
        });
        source.start();
        sources.push(source);
      }
    },
    eventSources: () =>
      sources.map((source) => ({ mapping: source.mapping, status: source.status() })),
    async stop() {
      // Mappings first (their batches in flight finish or return), then the API, then the files.
      await Promise.all(sources.map((source) => source.stop()));
      await endpoint.stop();
      await queues.close();
    },
  };
}

/** For the start-up banner: `queue → function (batch 100, window 1 s, partial)`. */
export function describeMappings(mappings: readonly EventSourceMapping[]): string {
  if (mappings.length === 0) return 'none';
  return mappings
    .map(
      (m) =>
        `${m.queueName} → ${m.functionName} (batch ${m.batchSize}, window ${m.maximumBatchingWindow} s` +
        `${m.reportBatchItemFailures ? ', ReportBatchItemFailures' : ''})`,
    )
    .join(', ');
}
