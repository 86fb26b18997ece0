// UTF-8 edge cases for the hand-written codec, checked against the platform's strict TextDecoder/TextEncoder.
import { describe, expect, it } from 'vitest';
import { decodeUtf8, utf8Length, writeUtf8 } from '../../../core/codec/utf8.js';
import { MqttError } from '../../../core/errors.js';
import { ReasonCode } from '../../../core/reason-codes.js';

function decode(bytes: number[]): string {
  return decodeUtf8(Uint8Array.from(bytes), 0, bytes.length);
}

function encode(s: string): number[] {
  const out = new Uint8Array(utf8Length(s));
  expect(writeUtf8(s, out, 0)).toBe(out.length);
  return Array.from(out);
}

function decodeFails(bytes: number[]): boolean {
  try {
    decode(bytes);
    return false;
  } catch (error) {
    expect(error).toBeInstanceOf(MqttError);
    expect((error as MqttError).reasonCode).toBe(ReasonCode.MalformedPacket);
    return true;
  }
}

const valid: Array<[string, string, number[]]> = [
  ['ASCII', 'a/b', [0x61, 0x2f, 0x62]],
  ['the empty string', '', []],
  ['U+0001, the lowest allowed code point', '\u0001', [0x01]],
  ['U+007F, the last one-byte code point', '\u007f', [0x7f]],
  ['U+0080, the first two-byte code point', '\u0080', [0xc2, 0x80]],
  ['U+00E9 é', 'é', [0xc3, 0xa9]],
  ['U+07FF, the last two-byte code point', '\u07ff', [0xdf, 0xbf]],
  ['U+0800, the first three-byte code point', '\u0800', [0xe0, 0xa0, 0x80]],
  ['U+20AC €', '€', [0xe2, 0x82, 0xac]],
  ['U+D7FF, just below the surrogates', '\ud7ff', [0xed, 0x9f, 0xbf]],
  ['U+E000, just above the surrogates', '\ue000', [0xee, 0x80, 0x80]],
  ['U+FEFF, a byte order mark kept as a character', '\ufeff', [0xef, 0xbb, 0xbf]],
  ['U+FFFF, a non-character that is still well-formed', '\uffff', [0xef, 0xbf, 0xbf]],
  ['U+10000, the first four-byte code point', '\u{10000}', [0xf0, 0x90, 0x80, 0x80]],
  ['U+1F600 😀', '😀', [0xf0, 0x9f, 0x98, 0x80]],
  ['U+2A6D4, the spec example after "A"', 'A\u{2a6d4}', [0x41, 0xf0, 0xaa, 0x9b, 0x94]],
  ['U+10FFFF, the last code point', '\u{10ffff}', [0xf4, 0x8f, 0xbf, 0xbf]],
];

const invalid: Array<[string, string, number[]]> = [
  ['[MQTT-1.5.3-2]', 'U+0000', [0x00]],
  ['[MQTT-1.5.4-2 v5]', 'U+0000 after ASCII', [0x61, 0x00]],
  ['[MQTT-1.5.4-2 v5]', 'U+0000 after a multi-byte character', [0xc3, 0xa9, 0x00]],
  ['[MQTT-1.5.3-1]', 'overlong U+0000 (C0 80)', [0xc0, 0x80]],
  ['[MQTT-1.5.3-1]', 'overlong "/" (C0 AF)', [0xc0, 0xaf]],
  ['[MQTT-1.5.3-1]', 'overlong "/" in three bytes', [0xe0, 0x80, 0xaf]],
  ['[MQTT-1.5.3-1]', 'overlong "/" in four bytes', [0xf0, 0x80, 0x80, 0xaf]],
  ['[MQTT-1.5.3-1]', 'overlong U+07FF', [0xe0, 0x9f, 0xbf]],
  ['[MQTT-1.5.3-1]', 'overlong U+FFFF', [0xf0, 0x8f, 0xbf, 0xbf]],
  ['[MQTT-1.5.3-1]', 'surrogate U+D800', [0xed, 0xa0, 0x80]],
  ['[MQTT-1.5.3-1]', 'surrogate U+DBFF', [0xed, 0xaf, 0xbf]],
  ['[MQTT-1.5.4-1 v5]', 'surrogate U+DC00', [0xed, 0xb0, 0x80]],
  ['[MQTT-1.5.4-1 v5]', 'surrogate U+DFFF', [0xed, 0xbf, 0xbf]],
  ['[MQTT-1.5.4-1 v5]', 'a CESU-8 surrogate pair for U+1F600', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ['[MQTT-1.5.3-1]', 'U+110000, above the last code point', [0xf4, 0x90, 0x80, 0x80]],
  ['[MQTT-1.5.3-1]', 'lead byte F5', [0xf5, 0x80, 0x80, 0x80]],
  ['[MQTT-1.5.3-1]', 'lead byte FF', [0xff]],
  ['[MQTT-1.5.3-1]', 'a stray continuation byte', [0x61, 0x80]],
  ['[MQTT-1.5.3-1]', 'a two-byte sequence cut short', [0xc3]],
  ['[MQTT-1.5.3-1]', 'a three-byte sequence cut short', [0xe2, 0x82]],
  ['[MQTT-1.5.3-1]', 'a four-byte sequence cut short', [0xf0, 0x9f, 0x98]],
  ['[MQTT-1.5.3-1]', 'a bad second byte', [0xe2, 0x28, 0xa1]],
  ['[MQTT-1.5.3-1]', 'a bad third byte', [0xe2, 0x82, 0x28]],
  ['[MQTT-1.5.3-1]', 'a bad fourth byte', [0xf0, 0x9f, 0x98, 0x28]],
];

describe('decodeUtf8', () => {
  for (const [label, text, bytes] of valid) {
    it(`[MQTT-1.5.3-1] accepts ${label}`, () => {
      expect(decode(bytes)).toBe(text);
      expect(decode([0x78, ...bytes, 0x79])).toBe(`x${text}y`);
    });
  }

  for (const [id, label, bytes] of invalid) {
    it(`${id} rejects ${label} as malformed`, () => {
      expect(decodeFails(bytes)).toBe(true);
      expect(decodeFails([0x61, 0x62, ...bytes])).toBe(true);
    });
  }

  it('[MQTT-1.5.3-1] decodes only the given range', () => {
    expect(decodeUtf8(Uint8Array.from([0xff, 0x61, 0x62, 0xff]), 1, 3)).toBe('ab');
  });

  it('(5.0 §1.5.4) decodes a 65,535-byte string, ASCII and multi-byte', () => {
    const ascii = 'a'.repeat(65_535);
    expect(decode(encode(ascii))).toBe(ascii);
    const mixed = 'é€😀'.repeat(7_281) + 'abcdef'; // 7,281 × 9 + 6 = 65,535 bytes
    expect(utf8Length(mixed)).toBe(65_535);
    expect(decode(encode(mixed))).toBe(mixed);
  });

  it('[MQTT-1.5.4-1 v5] agrees with a strict TextDecoder on random bytes', () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    let seed = 12345;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    // Bias towards bytes that start or continue multi-byte sequences, where the edge cases live.
    const alphabet = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    for (let n = 0; n < 20_000; n++) {
      const length = next() % 8;
      const bytes: number[] = [];
      for (let i = 0; i < length; i++) bytes.push(next() % 3 === 0 ? next() & 0xff : alphabet[next() % alphabet.length]!);
      let expected: string | undefined;
      try {
        expected = strict.decode(Uint8Array.from(bytes));
      } catch {
        expected = undefined;
      }
      if (expected?.includes('\u0000')) expected = undefined;
      let actual: string | undefined;
      try {
        actual = decode(bytes);
      } catch {
        actual = undefined;
      }
      expect(actual, bytes.map((b) => b.toString(16)).join(' ')).toBe(expected);
    }
  });
});

describe('utf8Length and writeUtf8', () => {
  for (const [label, text, bytes] of valid) {
    it(`(5.0 §1.5.4) encodes ${label}`, () => {
      expect(encode(text)).toStrictEqual(bytes);
      expect(utf8Length(text)).toBe(bytes.length);
    });
  }

  it('[MQTT-1.5.4-1 v5] writes a lone surrogate as U+FFFD, as TextEncoder does', () => {
    for (const s of ['\ud800', '\udc00', 'a\ud83d', '\ude00b', '\ud83d\ud83d\ude00']) {
      expect(encode(s)).toStrictEqual(Array.from(new TextEncoder().encode(s)));
    }
  });

  it('(5.0 §1.5.4) matches TextEncoder on every code point boundary', () => {
    const points = [0x1, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff];
    const s = points.map((p) => String.fromCodePoint(p)).join('');
    expect(encode(s)).toStrictEqual(Array.from(new TextEncoder().encode(s)));
  });

  it('(5.0 §1.5.4) writes at an offset and returns the end', () => {
    const out = new Uint8Array(5);
    expect(writeUtf8('é', out, 2)).toBe(4);
    expect(Array.from(out)).toStrictEqual([0, 0, 0xc3, 0xa9, 0]);
  });
});
