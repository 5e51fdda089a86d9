/**
 * A tiny typed builder for ONNX graphs, encoded with the `onnx-proto` protobuf definitions.
 *
 * Hand-written because no maintained JavaScript library builds ONNX graphs (the Python `onnx.helper`
 * has no JS counterpart); `onnx-proto` only provides the message types and the encoder.
 */
import onnxProto from 'onnx-proto';
import { SERVICE_NAME } from '../../product.js';

const { onnx } = onnxProto;

/** A value in the graph, by name. */
export type Value = string;

/** A dimension: a fixed size, or a name for a size given at run time. */
export type Dim = number | string;

/** A float attribute (plain numbers are integer attributes). */
export interface FloatAttr {
  readonly float: number;
}

/** Node attributes: integers, integer lists, floats and strings. */
export type Attr = number | readonly number[] | string | FloatAttr;

/** Marks a number as a float attribute, e.g. Gemm's `alpha`. */
export const float = (value: number): FloatAttr => ({ float: value });

/** The ONNX operator set the graphs target (ORT 1.16+ implements it fully). */
const OPSET = 17;
const IR_VERSION = 8;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function attribute(name: string, value: Attr): onnxProto.onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'object' && 'float' in value)
    return { name, type: AttributeType.FLOAT, f: value.float };
  const ints = typeof value === 'number' ? [value] : value;
  if (!ints.every(Number.isInteger)) throw new RangeError(`attribute ${name}: integers only, got ${value}`);
  return typeof value === 'number'
    ? { name, type: AttributeType.INT, i: value }
    : { name, type: AttributeType.INTS, ints: [...ints] };
}

function valueInfo(name: string, dims: readonly Dim[], elemType = FLOAT): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

const bytesOf = (a: Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly ints = new Map<string, Value>();
  private counter = 0;

  constructor(private readonly name: string) {}

  /** A fresh value name, readable in profiles: `${hint}_${n}`. */
  private fresh(hint: string): Value {
    return `${hint}_${this.counter++}`;
  }

  /** A float32 graph input. */
  input(name: string, dims: readonly Dim[]): Value {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Declares `value` a float32 graph output called `name`. */
  output(name: string, value: Value, dims: readonly Dim[]): void {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name });
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 constant (initializer). */
  floats(hint: string, dims: readonly number[], data: Float32Array): Value {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new RangeError(`${hint}: ${data.length} values for shape [${dims}]`);
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [...dims], dataType: FLOAT, rawData: bytesOf(data) });
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): Value {
    return this.floats('scalar', [], Float32Array.of(value));
  }

  /** An int64 1-D constant (shapes, pads, axes), shared between uses. */
  int64s(values: readonly number[]): Value {
    const key = values.join(',');
    let name = this.ints.get(key);
    if (name === undefined) {
      name = this.fresh('ints');
      const data = BigInt64Array.from(values.map(BigInt));
      this.initializers.push({ name, dims: [values.length], dataType: INT64, rawData: bytesOf(data) });
      this.ints.set(key, name);
    }
    return name;
  }

  /** Adds a node with one output and returns it. */
  op(opType: string, inputs: readonly Value[], attrs: Record<string, Attr> = {}): Value {
    return this.opN(opType, inputs, 1, attrs)[0];
  }

  /** Adds a node with `outputs` outputs and returns them. */
  opN(opType: string, inputs: readonly Value[], outputs: number, attrs: Record<string, Attr> = {}): Value[] {
    const out = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.nodes.push({ opType, input: [...inputs], output: out, name: out[0], attribute: attribute_ });
    return out;
  }

  /** The serialised ModelProto, ready for InferenceSession.create. */
  encode(): Uint8Array {
    const graph = {
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
    const model = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: SERVICE_NAME,
      graph,
    };
    return onnx.ModelProto.encode(model).finish();
  }
}
