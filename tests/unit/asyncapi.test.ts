/**
 * docs/asyncapi.yaml: a valid AsyncAPI 3.0 document (@asyncapi/parser, the AsyncAPI Initiative's
 * own parser and validator), whose message schemas are exactly what `npm run asyncapi` generates
 * from the zod schemas, and whose examples those schemas accept.
 */
import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import type * as z from 'zod/mini';
import {
  ACTIONS,
  sendCommandSchema,
  sendMessageSchema,
  subscribeSchema,
} from '../../shared/protocol';
import { ASYNCAPI_FILE, generatedSchemas, renderDocument } from '../../scripts/asyncapi/generate';

const source = await readFile(ASYNCAPI_FILE, 'utf8');
const parsed = await new Parser().parse(source);
const document = parsed.document!;

const componentIds = new Set(
  document
    .components()
    .schemas()
    .all()
    .map((schema) => schema.id()),
);

/**
 * A schema as the document writes it: the parser resolves every `$ref` (a recursive schema
 * becomes a cycle) and adds `x-parser-*` ids; a component met inside another is its `$ref` again.
 */
function asWritten(value: unknown, root = true): unknown {
  if (Array.isArray(value)) return value.map((item) => asWritten(item, false));
  if (typeof value !== 'object' || value === null) return value;
  const id = (value as Record<string, unknown>)['x-parser-schema-id'];
  if (!root && typeof id === 'string' && componentIds.has(id)) {
    return { $ref: `#/components/schemas/${id}` };
  }
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('x-parser-'))
      .map(([key, inner]) => [key, asWritten(inner, false)]),
  );
}

/** An operation's `title` (the parser's typings leave the accessor out). */
const titleOf = (operation: { json(): unknown }) => (operation.json() as { title?: string }).title;

describe('docs/asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3.0 document: no error or warning from @asyncapi/parser', () => {
    const problems = parsed.diagnostics.filter(
      (d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning,
    );
    expect(problems.map((d) => `${d.code} ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document.version()).toBe('3.0.0');
  });

  it('holds exactly the schemas npm run asyncapi generates from the zod schemas', async () => {
    // The file as the generator would write it now: any drift fails here.
    expect(await renderDocument(source)).toBe(source);
    const inDocument = Object.fromEntries(
      document
        .components()
        .schemas()
        .all()
        .map((schema) => [schema.id(), asWritten(schema.json())]),
    );
    expect(inDocument).toEqual(generatedSchemas());
  });

  it('notices a schema edited by hand', async () => {
    const edited = source.replace("'maxLength': 64", "'maxLength': 65");
    expect(edited).not.toBe(source);
    expect(await renderDocument(edited)).not.toBe(edited);
  });

  it('describes every WebSocket action, with its answers, and both device topics', () => {
    const received = document.operations().filterByReceive().map(titleOf);
    expect(received).toEqual(expect.arrayContaining([...ACTIONS, 'Device telemetry']));
    const sent = document.operations().filterBySend().map(titleOf);
    expect(sent).toEqual(expect.arrayContaining(['telemetry', 'message', 'Device command']));
    // Both delivery modes' frames (issue 15): `direct` sends telemetry, `batched` telemetryBatch.
    const telemetry = document
      .operations()
      .all()
      .find((o) => titleOf(o) === 'telemetry')!;
    expect(
      telemetry
        .messages()
        .all()
        .map((m) => m.name()),
    ).toEqual(['telemetry', 'telemetryBatch']);
    for (const action of ACTIONS) {
      const operation = document
        .operations()
        .all()
        .find((o) => titleOf(o) === action)!;
      const payload = operation.messages().all()[0]!.payload()!.json() as {
        properties: { action: { const: string } };
      };
      expect(payload.properties.action.const).toBe(action);
      expect(
        operation
          .reply()
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toContain('error');
    }
    expect(
      document
        .channels()
        .all()
        .map((channel) => channel.address()),
    ).toEqual(['/', 'devices/{deviceId}/telemetry', 'devices/{deviceId}/commands']);
  });

  it("has examples the code's own schemas accept", () => {
    const schemas: Record<string, z.ZodMiniType> = {
      sendMessage: sendMessageSchema,
      subscribe: subscribeSchema,
      sendCommand: sendCommandSchema,
    };
    let checked = 0;
    for (const message of document.components().messages().all()) {
      for (const example of message.examples().all()) {
        const schema = schemas[message.name()!];
        expect(schema).toBeDefined();
        expect(schema!.safeParse(example.payload()).success).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(3);
  });
});
