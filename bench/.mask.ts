import { Tensor } from 'onnxruntime-node';
import { GraphBuilder } from '../src/engine/onnx/graph-builder.js';
import { createSession } from '../src/engine/onnx/session.js';
const dims = [1, 64, 256, 256];
const n = dims.reduce((a, b) => a * b);
const variants: Record<string, (g: GraphBuilder, a: string, x: string) => string> = {
  signMul: (g, a, x) => g.op('Mul', [x, g.op('Sign', [a])]),
  castWhere: (g, a, x) => g.op('Where', [g.op('Cast', [a], { to: 9 }), x, g.scalar(0)]),
  greaterWhere: (g, a, x) => g.op('Where', [g.op('Greater', [a, g.scalar(0)]), x, g.scalar(0)]),
  ceilMinMul: (g, a, x) => g.op('Mul', [x, g.op('Ceil', [g.op('Min', [a, g.scalar(1)])])]),
  greaterCastMul: (g, a, x) => g.op('Mul', [x, g.op('Cast', [g.op('Greater', [a, g.scalar(0)])], { to: 1 })]),
  mulOnly: (g, a, x) => g.op('Mul', [x, a]),
  resize2x: (g, a, x) => g.op('Resize', [g.op('Relu', [g.op('Slice', [x, g.int64s([0, 0]), g.int64s([128, 128]), g.int64s([2, 3])])]), '', g.floats('s', [4], Float32Array.of(1, 1, 2, 2))], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }),
};
const feeds = { a: new Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.max(0, Math.sin(i))), dims), x: new Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.cos(i)), dims) };
const sessions: [string, Awaited<ReturnType<typeof createSession>>['session']][] = [];
for (const [name, f] of Object.entries(variants)) {
  const g = new GraphBuilder(name);
  g.output('y', f(g, g.input('a', dims), g.input('x', dims)), dims);
  sessions.push([name, (await createSession(g.encode(), { threads: 2 })).session]);
}
const best = new Map<string, number>();
for (let r = 0; r < 15; r++) for (const [name, s] of sessions) {
  const t = performance.now(); await s.run(feeds); const d = performance.now() - t;
  best.set(name, Math.min(best.get(name) ?? 1e9, d));
}
console.log([...best].map(([k, v]) => `${k} ${v.toFixed(2)}ms`).join('\n'));
