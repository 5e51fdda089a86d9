/**
 * IEEE 754 binary16 <-> float32. Node 20 has neither Float16Array nor Math.f16round, and tfjs-core keeps
 * its decoder internal, so the conversion is written here.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds half-to-even, as hardware and numpy do; overflow goes to Infinity, NaN stays NaN. */
function toHalfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp32 = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exp32 === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exp = exp32 - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  let shift = 13;
  let half: number;
  if (exp <= 0) {
    // Subnormal half: shift the full 24-bit significand down to units of 2^-24.
    if (exp < -10) return sign;
    mantissa |= 0x800000;
    shift = 14 - exp;
    half = mantissa >>> shift;
  } else {
    half = (exp << 10) | (mantissa >>> 13);
  }
  const rest = mantissa & ((1 << shift) - 1);
  const midpoint = 1 << (shift - 1);
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rest > midpoint || (rest === midpoint && half & 1)) half += 1;
  return sign | half;
}

let halfTable: Float32Array | undefined;

function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >>> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      if (exp === 0) halfTable[h] = sign * mantissa * 2 ** -24;
      else if (exp === 0x1f) halfTable[h] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
      else halfTable[h] = sign * (1 + mantissa / 1024) * 2 ** (exp - 15);
    }
  }
  return halfTable;
}

export function float32ToFloat16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = toHalfBits(data[i]);
  return out;
}

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}
