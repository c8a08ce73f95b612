import onnxProto from 'onnx-proto';
import type { DType } from './tensor.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

const toOnnx: Record<DType, number> = {
  float32: T.FLOAT,
  float64: T.DOUBLE,
  float16: T.FLOAT16,
  bfloat16: T.BFLOAT16,
  int64: T.INT64,
  int32: T.INT32,
  int8: T.INT8,
  uint8: T.UINT8,
  bool: T.BOOL,
};

export function onnxDataType(dtype: DType): number {
  return toOnnx[dtype];
}

export function dtypeFromOnnx(code: number, where: string): DType {
  const found = (Object.keys(toOnnx) as DType[]).find((d) => toOnnx[d] === code);
  if (!found)
    throw new Error(
      `${where}: ONNX data type ${T[code] ?? code} is not supported (float32/64/16, bfloat16, int64/32, int8, uint8, bool are)`,
    );
  return found;
}
