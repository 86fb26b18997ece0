// What a rule sends: the JSON body, raw requests, the bytes the signature covers, base64 by hand.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64, hex, jsonBatchRequest, queueMessage, rawMessageRequest, signatureValue, signedBytes, type RuleMessage } from '../../../core/rules/delivery.js';

const message = (over: Partial<RuleMessage> = {}): RuleMessage => ({
  topic: 'plant/1/temp',
  payload: new Uint8Array([50, 49]),
  qos: 1,
  retain: false,
  receivedAt: 1000,
  redelivered: false,
  ...over,
});

describe('base64', () => {
  it.each([0, 1, 2, 3, 4, 5, 100, 257])('matches Node for %i random bytes', (n) => {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 73 + 11) & 255);
    expect(base64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });
});

describe('jsonBatchRequest', () => {
  it('carries rule, tenant, delivery id and each message with its payload in base64', () => {
    const request = jsonBatchRequest('temps', 'acme', 'd-1', 2, [
      message(),
      message({ topic: 'plant/ü', payload: new Uint8Array([0, 255]), retain: true, redelivered: true, userProperties: [['a', 'b']], contentType: 'text/plain' }),
    ]);
    expect(request.contentType).toBe('application/json');
    expect(request.headers).toEqual({ 'X-Edge-Mqtt-Rule': 'temps', 'X-Edge-Mqtt-Delivery': 'd-1', 'X-Edge-Mqtt-Attempt': '2' });
    expect(JSON.parse(Buffer.from(request.body).toString('utf8'))).toEqual({
      rule: 'temps',
      tenant: 'acme',
      deliveryId: 'd-1',
      messages: [
        { topic: 'plant/1/temp', payload: 'MjE=', qos: 1, retain: false, receivedAt: 1000 },
        { topic: 'plant/ü', payload: 'AP8=', qos: 1, retain: true, receivedAt: 1000, redelivered: true, userProperties: [['a', 'b']], contentType: 'text/plain' },
      ],
    });
  });
});

describe('rawMessageRequest', () => {
  it('sends the payload as the body, the topic URI-encoded, and the message\'s place in the delivery id', () => {
    const request = rawMessageRequest('temps', 'd-1', 1, message({ topic: 'a b/ä' }), 3);
    expect(request.body).toEqual(new Uint8Array([50, 49]));
    expect(request.contentType).toBe('application/octet-stream');
    expect(request.headers).toMatchObject({ 'X-Mqtt-Topic': 'a%20b%2F%C3%A4', 'X-Mqtt-Qos': '1', 'X-Mqtt-Retain': '0', 'X-Edge-Mqtt-Delivery': 'd-1.3' });
    expect(rawMessageRequest('t', 'd', 1, message({ contentType: 'image/png' }), 0).contentType).toBe('image/png');
  });
});

describe('signature', () => {
  it('covers "timestamp." and the body: the same HMAC a receiver computes with Node', () => {
    const body = new TextEncoder().encode('{"x":"é"}');
    const signed = signedBytes(1764460800, body);
    expect(Buffer.from(signed).toString('utf8')).toBe('1764460800.{"x":"é"}');
    const mac = createHmac('sha256', 'whsec_test').update(signed).digest();
    expect(signatureValue(new Uint8Array(mac))).toBe(`sha256=${createHmac('sha256', 'whsec_test').update('1764460800.').update(body).digest('hex')}`);
    expect(hex(new Uint8Array([0, 15, 255]))).toBe('000fff');
  });
});

describe('queueMessage', () => {
  it('is one MQTT message with its rule and tenant', () => {
    expect(queueMessage('temps', 'acme', message())).toEqual({ rule: 'temps', tenant: 'acme', topic: 'plant/1/temp', payload: 'MjE=', qos: 1, retain: false, receivedAt: 1000 });
  });
});
