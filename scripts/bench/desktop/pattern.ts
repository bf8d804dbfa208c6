/**
 * The byte stream the desktop section relays, built so the receiving end can prove that no byte
 * was lost, duplicated or reordered without the sender telling it anything: byte `i` of every
 * stream is `period[i mod P]`, where `period` is a fixed pseudo-random block and P a prime
 * (2^20 − 3). A lost or extra byte shifts everything after it against the period, and a reordered
 * piece lands at an offset whose expected bytes differ (message and read sizes are powers of two
 * or kernel-chosen, never a multiple of P). Checking is a memcmp per received chunk.
 */

export const PERIOD = 1_048_573;

/** The period written twice, so any window of up to PERIOD bytes starting anywhere is one subarray. */
function doubledPeriod(): Buffer {
  const out = Buffer.allocUnsafe(2 * PERIOD);
  let x = 0x9e3779b9;
  for (let i = 0; i < PERIOD; i++) {
    // xorshift32: deterministic, the same in every process
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  out.copy(out, PERIOD, 0, PERIOD);
  return out;
}

const DOUBLED = doubledPeriod();

/** The stream's bytes from `offset`, at most `max` of them and never more than PERIOD (no copy). */
export function streamSlice(offset: number, max: number): Buffer {
  const at = offset % PERIOD;
  return DOUBLED.subarray(at, at + Math.min(max, PERIOD));
}

/** Checks a received stream chunk by chunk; `ok` turns false at the first wrong byte. */
export class StreamVerifier {
  bytes = 0;
  ok = true;
  /** stream offset of the first mismatch, if any */
  firstBadOffset: number | undefined;

  push(chunk: Uint8Array): void {
    if (this.ok) {
      for (let k = 0; k < chunk.length; k += PERIOD) {
        const piece = chunk.subarray(k, Math.min(chunk.length, k + PERIOD));
        const expected = streamSlice(this.bytes + k, piece.length);
        if (Buffer.compare(piece, expected) !== 0) {
          this.ok = false;
          this.firstBadOffset = this.bytes + k;
          break;
        }
      }
    }
    this.bytes += chunk.length;
  }
}
