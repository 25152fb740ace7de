// Ed25519 keys and the node's key files (node/src/keyfile.rs):
// `{"public_key": hex, "secret_key": hex}`, the secret being the 32-byte
// RFC 8032 seed, mode 0600. Signing is Node's built-in crypto (OpenSSL),
// which signs exactly as RFC 8032 (deterministic: same seed, same message,
// same signature as the Rust node).
import { createPrivateKey, createPublicKey, sign as cryptoSign, randomBytes } from "node:crypto";
import { join } from "node:path";
import { inspect } from "node:util";
import { fromHex, toHex, parseJson } from "./verify.js";
import { KeepsakeError } from "./errors.js";
import { readBounded, writeText } from "./files.js";

/** Most bytes of a key file (keyfile.rs reads at most 4096). */
export const KEY_FILE_MAX = 4096;

// PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410 §7) up to the 32-byte seed.
const PKCS8_ED25519 = fromHex("302e020100300506032b657004220420");

/** 32 bytes from hex (an optional 0x prefix, either case; as bytes.rs parse_hex) or bytes. */
export function bytes32(value, what = "value") {
  return fixedBytes(value, 32, what);
}

export function fixedBytes(value, n, what) {
  if (value instanceof Uint8Array) {
    if (value.length !== n) throw new KeepsakeError("Malformed", `${what}: expected ${n} bytes, got ${value.length}`);
    return Uint8Array.from(value);
  }
  if (typeof value !== "string") throw new KeepsakeError("Malformed", `${what}: expected hex or bytes`);
  const digits = value.startsWith("0x") ? value.slice(2) : value;
  if (digits.length !== 2 * n || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new KeepsakeError("Malformed", `${what}: expected ${2 * n} hex digits`);
  }
  return fromHex(digits);
}

/** An Ed25519 key pair. The seed stays inside; toJSON and inspect show the public key only. */
export class Key {
  #seed;
  #privateKey;
  #public;

  /** Use Key.fromSeed / Key.generate / readKeyFile. */
  constructor(seed) {
    const s = bytes32(seed, "seed");
    this.#seed = s;
    this.#privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, s]),
      format: "der",
      type: "pkcs8",
    });
    const jwk = createPublicKey(this.#privateKey).export({ format: "jwk" });
    this.#public = new Uint8Array(Buffer.from(jwk.x, "base64url"));
    Object.freeze(this);
  }

  /** From a 32-byte RFC 8032 seed (bytes or hex). */
  static fromSeed(seed) {
    return new Key(seed);
  }

  /** A new key from the operating system's randomness. */
  static generate() {
    return new Key(new Uint8Array(randomBytes(32)));
  }

  /** The public key, lowercase hex (64 digits). */
  get publicKey() {
    return toHex(this.#public);
  }

  /** The public key, 32 bytes (a copy). */
  get publicKeyBytes() {
    return Uint8Array.from(this.#public);
  }

  /** RFC 8032 Ed25519 signature (64 bytes) over `message` itself. */
  sign(message) {
    return new Uint8Array(cryptoSign(null, message, this.#privateKey));
  }

  /** The secret seed, hex. Handle with care: this is the key. */
  exportSeed() {
    return toHex(this.#seed);
  }

  toJSON() {
    return { public_key: this.publicKey };
  }

  toString() {
    return `Key(${this.publicKey})`;
  }

  [inspect.custom]() {
    return this.toString();
  }
}

/** A public key as hex, from a Key, hex or bytes. */
export function publicKeyHex(value, what = "public key") {
  if (value instanceof Key) return value.publicKey;
  return toHex(bytes32(value, what));
}

/** The text of a key file for `key`, as keyfile.rs writes it (serde_json pretty, no newline). */
export function keyFileText(key) {
  return JSON.stringify({ public_key: key.publicKey, secret_key: key.exportSeed() }, null, 2);
}

/** A key from key-file text; refuses unknown fields and a public key that is not the seed's. */
export function parseKeyFile(text, where = "key file") {
  let v;
  try {
    v = parseJson(text);
  } catch (e) {
    throw new KeepsakeError("Malformed", `${where} is not a Keepsake key file: ${e.message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new KeepsakeError("Malformed", `${where} is not a Keepsake key file: expected an object`);
  }
  const fields = Object.keys(v);
  for (const f of fields) {
    if (f !== "public_key" && f !== "secret_key") {
      throw new KeepsakeError("Malformed", `${where} is not a Keepsake key file: unknown field \`${f}\``);
    }
  }
  for (const f of ["public_key", "secret_key"]) {
    if (typeof v[f] !== "string") {
      throw new KeepsakeError("Malformed", `${where} is not a Keepsake key file: missing or non-string \`${f}\``);
    }
  }
  const pub = toHex(bytes32(v.public_key, `${where}: public_key`));
  const key = new Key(bytes32(v.secret_key, `${where}: secret key`));
  if (key.publicKey !== pub) {
    throw new KeepsakeError("KeyMismatch", `${where}: public_key does not match secret_key`);
  }
  return key;
}

/** Reads a key file (at most 4096 bytes). */
export async function readKeyFile(path) {
  return parseKeyFile(await readBounded(path, KEY_FILE_MAX), path);
}

/** Writes a key file with mode 0600; refuses to overwrite an existing file. */
export async function writeKeyFile(path, key) {
  await writeText(path, keyFileText(key), { exclusive: true, mode: 0o600 });
}

/**
 * The keys `keepsake dev` writes into HOME/keys: governor, issuer, reviewer,
 * validator (each present one; a missing file is left out).
 */
export async function readDevKeys(home) {
  const out = {};
  for (const name of ["governor", "issuer", "reviewer", "validator"]) {
    try {
      out[name] = await readKeyFile(join(home, "keys", `${name}.json`));
    } catch (e) {
      if (e.code !== "ENOENT") throw e;
    }
  }
  return out;
}
