// Bounded file reading and careful writing (what node/src/config.rs read_bounded
// and the CLI's writers do).
import { open, rename, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { KeepsakeError } from "./errors.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The UTF-8 text of `path`, refused (code "TooLarge") when over `max` bytes. */
export async function readBounded(path, max) {
  const f = await open(path, "r");
  try {
    const size = (await f.stat()).size;
    if (size > max) throw new KeepsakeError("TooLarge", `${path} is ${size} bytes, over the limit of ${max}`);
    // Read at most max + 1 bytes: a file growing meanwhile is caught too.
    const buf = new Uint8Array(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await f.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > max) throw new KeepsakeError("TooLarge", `${path} is over the limit of ${max} bytes`);
    }
    try {
      return strictUtf8.decode(buf.subarray(0, n));
    } catch {
      throw new KeepsakeError("Malformed", `${path} is not UTF-8 text`);
    }
  } finally {
    await f.close();
  }
}

/**
 * Writes `text` to `path`: `exclusive` refuses an existing file (mode 0600,
 * for secrets); otherwise written beside and renamed over, so the file is
 * never left half written.
 */
export async function writeText(path, text, { exclusive = false, mode = 0o644 } = {}) {
  await mkdir(dirname(path), { recursive: true });
  if (exclusive) {
    let f;
    try {
      f = await open(path, "wx", mode);
    } catch (e) {
      if (e.code === "EEXIST") {
        throw new KeepsakeError("AlreadyExists", `${path} already exists; refusing to overwrite it`);
      }
      throw e;
    }
    try {
      await f.writeFile(text);
      await f.sync();
    } finally {
      await f.close();
    }
    return;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  const f = await open(tmp, "w", mode);
  try {
    await f.writeFile(text);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
}
