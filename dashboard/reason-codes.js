// MQTT reason codes in words for the web client: the names of 5.0 section 2.4 (core/reason-codes.ts holds the
// same codes for the broker; the dashboard is plain JS served as is, so it keeps its own copy of the names).
//
//   describeReason(0x87)                  → '0x87 Not authorized'
//   describeReason(0x00, 'disconnect')    → '0x00 Normal disconnection'   (0x00–0x02 are named by the packet)
//   describeConnackV3(5)                  → 'not authorized (CONNACK 5)'

/** 5.0 reason codes that have one name whatever the packet. */
const NAMES = {
  0x04: 'Disconnect with Will Message',
  0x10: 'No matching subscribers',
  0x11: 'No subscription existed',
  0x18: 'Continue authentication',
  0x19: 'Re-authenticate',
  0x80: 'Unspecified error',
  0x81: 'Malformed Packet',
  0x82: 'Protocol Error',
  0x83: 'Implementation specific error',
  0x84: 'Unsupported Protocol Version',
  0x85: 'Client Identifier not valid',
  0x86: 'Bad User Name or Password',
  0x87: 'Not authorized',
  0x88: 'Server unavailable',
  0x89: 'Server busy',
  0x8a: 'Banned',
  0x8b: 'Server shutting down',
  0x8c: 'Bad authentication method',
  0x8d: 'Keep Alive timeout',
  0x8e: 'Session taken over',
  0x8f: 'Topic Filter invalid',
  0x90: 'Topic Name invalid',
  0x91: 'Packet Identifier in use',
  0x92: 'Packet Identifier not found',
  0x93: 'Receive Maximum exceeded',
  0x94: 'Topic Alias invalid',
  0x95: 'Packet too large',
  0x96: 'Message rate too high',
  0x97: 'Quota exceeded',
  0x98: 'Administrative action',
  0x99: 'Payload format invalid',
  0x9a: 'Retain not supported',
  0x9b: 'QoS not supported',
  0x9c: 'Use another server',
  0x9d: 'Server moved',
  0x9e: 'Shared Subscriptions not supported',
  0x9f: 'Connection rate exceeded',
  0xa0: 'Maximum connect time',
  0xa1: 'Subscription Identifiers not supported',
  0xa2: 'Wildcard Subscriptions not supported',
};

/** 0x00–0x02 mean different things in different packets (5.0 section 2.4, table 2-6). */
const LOW_NAMES = {
  connack: ['Success'],
  ack: ['Success'],
  suback: ['Granted QoS 0', 'Granted QoS 1', 'Granted QoS 2'],
  unsuback: ['Success'],
  disconnect: ['Normal disconnection'],
};

/** 3.1.1 CONNACK return codes (section 3.2.2.3), in words. */
const CONNACK_V3 = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

/** The name of a 5.0 reason code as the given packet kind uses it; undefined when the code has none. */
export function reasonName(code, packet = 'ack') {
  return NAMES[code] ?? LOW_NAMES[packet]?.[code];
}

/** '0x87 Not authorized': the code in hex (as the spec tables list them) and its name. */
export function describeReason(code, packet = 'ack') {
  const name = reasonName(code, packet);
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return name ? `${hex} ${name}` : `${hex} (unknown reason code)`;
}

/** Reason codes of 0x80 and above report a failure (5.0 section 2.4). */
export function isFailure(code) {
  return code >= 0x80;
}

/** A 3.1.1 CONNACK refusal in words, with its number. */
export function describeConnackV3(code) {
  return `${CONNACK_V3[code] ?? 'refused'} (CONNACK ${code})`;
}
