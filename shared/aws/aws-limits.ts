/**
 * AWS's hard limits that Baton's adapters must respect, in one place. The emulators do not
 * enforce them all (fauxqs takes 140-character group ids and 901 s delays), so the adapters check
 * them themselves: the local stack then fails where AWS would, instead of only on AWS.
 */
import { createHash } from "node:crypto";

export const AWS_LIMITS = {
  /** SQS MessageGroupId and MessageDeduplicationId: 1–128 characters. */
  sqsIdChars: 128,
  /** SQS DelaySeconds: 0–900 (15 minutes). */
  sqsMaxDelaySeconds: 900,
  /** SQS VisibilityTimeout: 0–43,200 s (12 hours). */
  sqsMaxVisibilitySeconds: 12 * 60 * 60,
  /** A DynamoDB item, attribute names and values together (1 KB = 1,024 bytes there). */
  dynamoItemBytes: 400 * 1024,
  /** DynamoDB BatchGetItem: at most 100 keys a call (and an answer of at most 16 MB, the rest unprocessed). */
  dynamoBatchGetKeys: 100,
  /** KMS Encrypt takes at most 4,096 bytes of plaintext (Baton only asks KMS for 32-byte data keys). */
  kmsPlaintextBytes: 4096,
  /** EventBridge Scheduler schedule and group names: 1–64 of [0-9A-Za-z-_.]. */
  schedulerNameChars: 64,
} as const;

/** The characters SQS allows in a group or deduplication id: letters, digits and punctuation. */
const SQS_ID = /^[\x21-\x7e]+$/;
/** What a hashed id keeps of the original, for whoever reads it in a console. */
const SQS_ID_KEPT = AWS_LIMITS.sqsIdChars - 1 - 43;

/**
 * A MessageGroupId or MessageDeduplicationId that SQS accepts. Ids up to 128 characters stay as
 * they are; a longer one keeps its first 84 characters and replaces the rest with `~` and the
 * SHA-256 of the whole id (base64url). The same id always gives the same answer, so grouping and
 * deduplication still work, and no short id can equal a hashed one: Baton's ids never hold `~`.
 */
export function sqsId(id: string): string {
  if (id.length === 0 || !SQS_ID.test(id)) {
    throw new Error(`an SQS group or deduplication id must be printable ASCII: ${JSON.stringify(id)}`);
  }
  if (id.length <= AWS_LIMITS.sqsIdChars) return id;
  return `${id.slice(0, SQS_ID_KEPT)}~${createHash("sha256").update(id).digest("base64url")}`;
}

/** Refuses a delay SQS would refuse, rather than finding out on AWS. */
export function checkSqsDelay(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > AWS_LIMITS.sqsMaxDelaySeconds) {
    throw new RangeError(`SQS DelaySeconds must be an integer from 0 to 900, not ${seconds}`);
  }
  return seconds;
}

/** Refuses a message body larger than the queue takes (a platform bug: Baton's bodies are tiny). */
export function checkSqsBody(body: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > maxBytes) throw new Error(`an SQS message of ${bytes} bytes exceeds the queue's ${maxBytes}`);
  return body;
}

const SCHEDULE_NAME = /^[0-9A-Za-z_.-]{1,64}$/;

/** Refuses a schedule or group name that EventBridge Scheduler would refuse. */
export function checkScheduleName(name: string): string {
  if (!SCHEDULE_NAME.test(name)) {
    throw new Error(`an EventBridge Scheduler name must be 1-64 of [0-9A-Za-z-_.]: ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * The size DynamoDB counts for an item in its wire form (AttributeValue maps), after the rules
 * in the DynamoDB developer guide ("Item sizes and formats"): names and strings in UTF-8 bytes,
 * numbers about 1 byte per two significant digits plus 1, binaries in raw bytes, null and
 * booleans 1, lists and maps 3 bytes plus 1 per element. Checked at the limit against DynamoDB
 * Local (test/contract/aws-limits.test.ts).
 */
export function dynamoItemBytes(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) total += utf8(name) + attributeBytes(value);
  return total;
}

function attributeBytes(value: unknown): number {
  const v = (value ?? {}) as Record<string, unknown>;
  if (typeof v.S === "string") return utf8(v.S);
  if (typeof v.N === "string") return numberBytes(v.N);
  if (v.B !== undefined) return binaryBytes(v.B);
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (Array.isArray(v.SS)) return v.SS.reduce((sum: number, s: string) => sum + utf8(s), 0);
  if (Array.isArray(v.NS)) return v.NS.reduce((sum: number, n: string) => sum + numberBytes(n), 0);
  if (Array.isArray(v.BS)) return v.BS.reduce((sum: number, b: unknown) => sum + binaryBytes(b), 0);
  if (Array.isArray(v.L)) return v.L.reduce((sum: number, element) => sum + 1 + attributeBytes(element), 3);
  if (v.M !== undefined && typeof v.M === "object" && v.M !== null) {
    return Object.entries(v.M).reduce(
      (sum, [key, element]) => sum + 1 + utf8(key) + attributeBytes(element),
      3,
    );
  }
  return 0;
}

function utf8(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * DynamoDB stores a number as base-100 digits aligned on the decimal point, plus a byte (and one
 * more for a negative number): 123.4 is 01|23|40, three digits, four bytes.
 */
function numberBytes(text: string): number {
  const match = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text.trim());
  if (match === null) return 1;
  const [, sign = "", whole = "", fraction = "", exponent = "0"] = match;
  const digits = `${whole}${fraction}`;
  const first = digits.search(/[1-9]/);
  if (first < 0) return 1;
  const last = digits.length - 1 - [...digits].reverse().join("").search(/[1-9]/);
  // The power of ten of a digit at index i is (whole.length - 1 - i) + exponent.
  const power = (index: number) => whole.length - 1 - index + Number(exponent);
  const pairs = Math.floor(power(first) / 2) - Math.floor(power(last) / 2) + 1;
  return pairs + 1 + (sign === "-" ? 1 : 0);
}

function binaryBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  return typeof value === "string" ? Buffer.from(value, "base64").byteLength : 0;
}
